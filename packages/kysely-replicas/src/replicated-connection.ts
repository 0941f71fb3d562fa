import {
  type CompiledQuery,
  type DatabaseConnection,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
  CompiledQuery as Query,
} from 'kysely'
import {
  PinConflictError,
  ReplicaTransactionModeError,
  UnsupportedOperationError,
} from './errors.js'
import type { DatabaseNode } from './nodes/database-node.js'
import { compiledBefore, tick } from './routing/compile-order.js'
import type { NodeRouter } from './routing/node-router.js'
import { describeTarget, type RouteTarget } from './routing/route-target.js'

/** A node connection borrowed for one query, or held by the block. */
interface Lease {
  readonly node: DatabaseNode
  readonly connection: DatabaseConnection
  readonly transient: boolean
}

/**
 * What Kysely holds between `acquireConnection()` and `releaseConnection()`. It takes a node
 * connection only when the first query (or `BEGIN`) shows what the acquisition is for:
 *
 * - a single query (compiled before the acquisition): it runs on the node its kind calls for,
 *   on a connection borrowed for that query alone;
 * - a block (`connection()`, `transaction()`): it runs on one node from start to end, the
 *   primary unless the block was opened through `onReplica()`. A later query never moves it.
 */
export class ReplicatedConnection implements DatabaseConnection {
  readonly #router: NodeRouter
  readonly #sessionReset: CompiledQuery | undefined
  #acquiredAt = 0
  #used = false
  #pin: RouteTarget | undefined
  #chosen: DatabaseNode | undefined
  #held: Lease | undefined

  constructor(router: NodeRouter, sessionReset: string | undefined) {
    this.#router = router
    this.#sessionReset = sessionReset === undefined ? undefined : Query.raw(sessionReset)
  }

  /** Starts an acquisition. */
  open(): void {
    this.#acquiredAt = tick()
  }

  /** Ends an acquisition: gives the held node connection back, after resetting its session. */
  async close(): Promise<void> {
    const held = this.#held
    this.#held = undefined
    this.#pin = undefined
    this.#chosen = undefined
    this.#used = false
    if (held === undefined) {
      return
    }
    try {
      if (this.#sessionReset !== undefined) {
        await held.connection.executeQuery(this.#sessionReset)
      }
    } finally {
      await held.node.driver.releaseConnection(held.connection)
    }
  }

  /** Routes this acquisition to a view's target. The last view wins until the block starts. */
  pin(target: RouteTarget): void {
    const node = this.#held?.node ?? this.#chosen
    if (node === undefined) {
      this.#pin = target
    } else if (!this.#router.serves(node, target)) {
      throw new PinConflictError(node.name, describeTarget(target))
    }
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const lease = await this.#lease(query)
    if (!lease.transient) {
      return lease.connection.executeQuery<R>(query)
    }
    try {
      return await lease.connection.executeQuery<R>(query)
    } finally {
      await lease.node.driver.releaseConnection(lease.connection)
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    const lease = await this.#lease(query)
    try {
      yield* lease.connection.streamQuery<R>(query, chunkSize)
    } finally {
      if (lease.transient) {
        await lease.node.driver.releaseConnection(lease.connection)
      }
    }
  }

  async beginTransaction(settings: TransactionSettings): Promise<void> {
    const node = this.#held?.node ?? this.#blockNode()
    const readOnly = node.role === 'replica'
    if (readOnly && settings.accessMode === 'read write') {
      throw new ReplicaTransactionModeError(node.name)
    }
    const { connection } = await this.#hold(node)
    await node.driver.beginTransaction(connection, readOnly ? { ...settings, accessMode: 'read only' } : settings)
  }

  async commitTransaction(): Promise<void> {
    const { node, connection } = this.#requireHeld('commit')
    await node.driver.commitTransaction(connection)
  }

  async rollbackTransaction(): Promise<void> {
    const { node, connection } = this.#requireHeld('rollback')
    await node.driver.rollbackTransaction(connection)
  }

  async savepoint(
    operation: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint',
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const { node, connection } = this.#requireHeld(operation)
    const step = node.driver[operation]
    if (step === undefined) {
      throw new UnsupportedOperationError(
        `The driver of node "${node.name}" does not support ${operation}(); use a dialect whose driver does.`,
      )
    }
    await step.call(node.driver, connection, name, compileQuery)
  }

  async #lease(query: CompiledQuery): Promise<Lease> {
    if (this.#held !== undefined) {
      this.#router.assertRunnableOn(this.#held.node, query)
      return this.#held
    }
    const first = !this.#used
    this.#used = true
    if (first && compiledBefore(query, this.#acquiredAt)) {
      const node = this.#singleQueryNode(query)
      this.#router.assertRunnableOn(node, query)
      return { node, connection: await node.driver.acquireConnection(), transient: true }
    }
    const node = this.#blockNode()
    this.#router.assertRunnableOn(node, query)
    return this.#hold(node)
  }

  #singleQueryNode(query: CompiledQuery): DatabaseNode {
    if (this.#pin === undefined) {
      return this.#router.nodeForQuery(query)
    }
    this.#chosen = this.#router.nodeForTarget(this.#pin)
    return this.#chosen
  }

  // A block that was not opened through a view runs on the primary, whatever its first query:
  // a later query of the block may write, or depend on session state the block set.
  #blockNode(): DatabaseNode {
    if (this.#chosen !== undefined) {
      return this.#chosen
    }
    return this.#pin === undefined ? this.#router.primary : this.#router.nodeForTarget(this.#pin)
  }

  async #hold(node: DatabaseNode): Promise<Lease> {
    if (this.#held !== undefined) {
      return this.#held
    }
    const lease = { node, connection: await node.driver.acquireConnection(), transient: false }
    this.#held = lease
    this.#chosen = node
    return lease
  }

  #requireHeld(operation: string): Lease {
    if (this.#held === undefined) {
      throw new UnsupportedOperationError(`${operation}() was called before the transaction began.`)
    }
    return this.#held
  }
}

import {
  type CompiledQuery,
  type DatabaseConnection,
  CompiledQuery as Query,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import type { ReadYourWrites } from './consistency/read-your-writes.js'
import {
  PinConflictError,
  ReplicaTransactionModeError,
  UnsupportedOperationError,
} from './errors.js'
import { describeError } from './events/describe-error.js'
import type { RouteEvent } from './events/replicas-events.js'
import type { DatabaseNode } from './nodes/database-node.js'
import { TimedCompiledQuery, tick } from './routing/compile-order.js'
import type { NodeRouter } from './routing/node-router.js'
import type { QueryClassification } from './routing/query-classification.js'
import { describeTarget, type RouteTarget } from './routing/route-target.js'

/** A node connection held by a block. */
interface Held {
  readonly node: DatabaseNode
  readonly connection: DatabaseConnection
}

/**
 * What Kysely holds between `acquireConnection()` and `releaseConnection()`. It takes a node
 * connection only when the first query (or `BEGIN`) shows what the acquisition is for:
 *
 * - a single query (compiled before the acquisition): it runs on the node its kind calls for,
 *   on a connection borrowed for that query alone; a read that fails there for a
 *   connection-level reason is retried on another node (see `NodeRouter.nextAfterFailure`);
 * - a block (`connection()`, `transaction()`): it runs on one node from start to end, the
 *   primary unless the block was opened through `onReplica()`. A later query never moves it and
 *   nothing in it is retried.
 */
export class ReplicatedConnection implements DatabaseConnection {
  readonly #router: NodeRouter
  readonly #sessionReset: CompiledQuery | undefined
  readonly #readYourWrites: ReadYourWrites | undefined
  #acquiredAt = 0
  #used = false
  #pin: RouteTarget | undefined
  #chosen: DatabaseNode | undefined
  #held: Held | undefined
  // The block ran statements on the primary since the last recorded write.
  #wrote = false
  // The nodes a single read failed on, kept between acquisitions to spare an allocation per read.
  readonly #tried: DatabaseNode[] = []

  constructor(
    router: NodeRouter,
    sessionReset: string | undefined,
    readYourWrites: ReadYourWrites | undefined,
  ) {
    this.#router = router
    this.#sessionReset = sessionReset === undefined ? undefined : Query.raw(sessionReset)
    this.#readYourWrites = readYourWrites
  }

  /** Starts an acquisition. */
  open(): void {
    this.#acquiredAt = tick()
  }

  /**
   * Ends an acquisition: gives the held node connection back, after resetting its session.
   * Returns `undefined` when nothing was held, which is the common case, to spare a promise.
   */
  close(): Promise<void> | undefined {
    const held = this.#held
    const wrote = this.#wrote
    this.#held = undefined
    this.#pin = undefined
    this.#chosen = undefined
    this.#used = false
    this.#wrote = false
    return held === undefined ? undefined : this.#release(held, wrote)
  }

  async #release({ node, connection }: Held, wrote: boolean): Promise<void> {
    try {
      if (wrote) {
        await this.#readYourWrites?.recordWrite(connection)
      }
      if (this.#sessionReset !== undefined) {
        await connection.executeQuery(this.#sessionReset)
      }
    } finally {
      await node.driver.releaseConnection(connection)
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

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.#isSingleQuery(query) ? this.#runSingle(query) : this.#runHeld(query)
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!this.#isSingleQuery(query)) {
      const { connection } = await this.#holdFor(query)
      yield* connection.streamQuery<R>(query, chunkSize)
      return
    }
    // A stream is retried elsewhere only while no connection could be had: once rows flowed,
    // a retry would repeat them.
    const classification = this.#router.classify(query)
    const node = this.#planned(classification) ?? (await this.#consistentNode(classification))
    const connection = await this.#acquireWithFallback(node, classification, [])
    try {
      yield* connection.connection.streamQuery<R>(query, chunkSize)
    } finally {
      await connection.node.driver.releaseConnection(connection.connection)
    }
  }

  async beginTransaction(settings: TransactionSettings): Promise<void> {
    const node = this.#held?.node ?? this.#blockNode()
    const readOnly = node.role === 'replica'
    if (readOnly && settings.accessMode === 'read write') {
      throw new ReplicaTransactionModeError(node.name)
    }
    const { connection } = await this.#hold(node)
    await node.driver.beginTransaction(
      connection,
      readOnly ? { ...settings, accessMode: 'read only' } : settings,
    )
  }

  async commitTransaction(): Promise<void> {
    const { node, connection } = this.#requireHeld('commit')
    await node.driver.commitTransaction(connection)
    // The position is read after COMMIT: only then is the transaction's work in the WAL for good.
    if (this.#wrote) {
      this.#wrote = false
      await this.#readYourWrites?.recordWrite(connection)
    }
  }

  async rollbackTransaction(): Promise<void> {
    const { node, connection } = this.#requireHeld('rollback')
    this.#wrote = false
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

  // Kysely compiles a single query before acquiring its connection, and the queries of a block
  // after; only the first query of an acquisition can be a single one.
  #isSingleQuery(query: CompiledQuery): boolean {
    if (this.#held !== undefined || this.#used) {
      return false
    }
    this.#used = true
    return TimedCompiledQuery.compiledBefore(query, this.#acquiredAt)
  }

  // The hot path: one async frame for acquire, run, release and retries.
  async #runSingle<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const classification = this.#router.classify(query)
    let node = this.#planned(classification) ?? (await this.#consistentNode(classification))
    const tried = this.#tried
    tried.length = 0
    for (;;) {
      const current = node
      // Counted from the pick, so that reads queued for a busy node's pool weigh on it too.
      const startedAt = current.stats.start()
      let connection: DatabaseConnection
      try {
        connection = await current.driver.acquireConnection()
      } catch (error) {
        current.stats.finish(startedAt, 'node')
        this.#noteFailure(current, error)
        node = this.#fallBack(current, error, classification, tried)
        continue
      }
      try {
        const result = await connection.executeQuery<R>(query)
        current.stats.finish(startedAt)
        if (current.role === 'primary' && classification.access !== 'read') {
          await this.#readYourWrites?.recordWrite(connection)
        }
        return result
      } catch (error) {
        current.stats.finish(startedAt, this.#noteFailure(current, error) ? 'node' : 'query')
        node = this.#fallBack(current, error, classification, tried)
      } finally {
        await current.driver.releaseConnection(connection)
      }
    }
  }

  async #runHeld<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { node, connection } = this.#heldFor(query) ?? (await this.#holdFor(query))
    if (node.role === 'primary') {
      this.#wrote = true
    }
    const startedAt = node.stats.start()
    try {
      const result = await connection.executeQuery<R>(query)
      node.stats.finish(startedAt)
      return result
    } catch (error) {
      node.stats.finish(startedAt, this.#noteFailure(node, error) ? 'node' : 'query')
      throw error
    }
  }

  async #acquireWithFallback(
    first: DatabaseNode,
    classification: QueryClassification,
    tried: DatabaseNode[],
  ): Promise<Held> {
    let node = first
    for (;;) {
      try {
        return await this.#acquireOn(node)
      } catch (error) {
        node = this.#fallBack(node, error, classification, tried)
      }
    }
  }

  #fallBack(
    failed: DatabaseNode,
    error: unknown,
    classification: QueryClassification,
    tried: DatabaseNode[],
  ): DatabaseNode {
    // A read that had to see its scope's last write must not be retried on a replica without it.
    const plan = this.#pin === undefined ? this.#readYourWrites?.plan() : undefined
    const next = this.#router.nextAfterFailure(
      failed,
      error,
      classification,
      this.#pin,
      tried,
      typeof plan === 'bigint' ? plan : undefined,
    )
    if (next === undefined) {
      throw error
    }
    const { events } = this.#router
    if (events.listening('fallback')) {
      events.emit('fallback', { from: failed.name, to: next.name, error: describeError(error) })
    }
    this.#chosen = this.#pin === undefined ? undefined : next
    return next
  }

  // The node for a single query, or `undefined` when read-your-writes must first find a replica
  // that has replayed the scope's last write (asynchronously).
  #planned(classification: QueryClassification): DatabaseNode | undefined {
    const readYourWrites = this.#readYourWrites
    if (
      readYourWrites === undefined ||
      this.#pin !== undefined ||
      classification.access !== 'read'
    ) {
      return this.#firstNode(classification)
    }
    const plan = readYourWrites.plan()
    if (plan === 'any') {
      return this.#firstNode(classification)
    }
    if (plan === 'primary') {
      const primary = this.#router.primary
      this.#emitRoute(primary, 'read-your-writes')
      return primary
    }
    return undefined
  }

  async #consistentNode(classification: QueryClassification): Promise<DatabaseNode> {
    const readYourWrites = this.#readYourWrites
    const plan = readYourWrites?.plan()
    const replica = typeof plan === 'bigint' ? await readYourWrites?.replicaAt(plan) : undefined
    if (replica === undefined) {
      const primary = this.#router.primary
      this.#emitRoute(primary, 'read-your-writes')
      return primary
    }
    this.#emitRoute(replica, classification.reason)
    return replica
  }

  #firstNode(classification: QueryClassification): DatabaseNode {
    const node = this.#router.nodeForQuery(classification, this.#pin)
    this.#router.assertReadOn(node, classification)
    // A view's single query fixes the node in case the acquisition turns out to be a block.
    if (this.#pin !== undefined) {
      this.#chosen = node
    }
    this.#emitRoute(node, this.#pin === undefined ? classification.reason : 'view')
    return node
  }

  async #acquireOn(node: DatabaseNode): Promise<Held> {
    try {
      return { node, connection: await node.driver.acquireConnection() }
    } catch (error) {
      node.stats.errors++
      this.#noteFailure(node, error)
      throw error
    }
  }

  // The held connection for a query of the block, when the block already holds one: no promise
  // on the path every query of a transaction takes.
  #heldFor(query: CompiledQuery): Held | undefined {
    const held = this.#held
    if (held !== undefined) {
      this.#router.assertRunnableOn(held.node, query)
      this.#emitRoute(held.node, 'pinned')
    }
    return held
  }

  async #holdFor(query: CompiledQuery): Promise<Held> {
    const held = this.#heldFor(query)
    if (held !== undefined) {
      return held
    }
    const node = this.#blockNode()
    this.#router.assertRunnableOn(node, query)
    this.#emitRoute(node, 'pinned')
    return this.#hold(node)
  }

  // A block that was not opened through a view runs on the primary, whatever its first query:
  // a later query of the block may write, or depend on session state the block set.
  #blockNode(): DatabaseNode {
    if (this.#chosen !== undefined) {
      return this.#chosen
    }
    return this.#pin === undefined ? this.#router.primary : this.#router.nodeForTarget(this.#pin)
  }

  async #hold(node: DatabaseNode): Promise<Held> {
    if (this.#held !== undefined) {
      return this.#held
    }
    this.#chosen = node
    const held = await this.#acquireOn(node)
    this.#held = held
    return held
  }

  #requireHeld(operation: string): Held {
    if (this.#held === undefined) {
      throw new UnsupportedOperationError(`${operation}() was called before the transaction began.`)
    }
    return this.#held
  }

  // A replica is taken out of rotation (reads have somewhere else to go); a primary is not, but
  // its failure may mean a failover, which a topology monitor wants to know at once.
  // Returns whether the error was the node's fault.
  #noteFailure(node: DatabaseNode, error: unknown): boolean {
    if (!node.health.isNodeFailure(error)) {
      return false
    }
    if (node.role === 'replica') {
      node.health.markDown(error)
    } else {
      this.#router.notePrimaryFailure()
    }
    return true
  }

  #emitRoute(node: DatabaseNode, reason: RouteEvent['reason']): void {
    const { events } = this.#router
    if (events.listening('route')) {
      events.emit('route', { node: node.name, role: node.role, reason })
    }
  }
}

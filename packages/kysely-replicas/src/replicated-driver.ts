import type { DatabaseConnection, Driver, QueryCompiler, TransactionSettings } from 'kysely'
import type { ConsistencyState } from './consistency/consistency-state.js'
import { ReadYourWrites } from './consistency/read-your-writes.js'
import type { ReadYourWritesOptions } from './consistency/read-your-writes-config.js'
import type { ReadYourWritesMode } from './consistency/read-your-writes-mode.js'
import { NotReplicatedError, UnsupportedOperationError } from './errors.js'
import type { NodeMembership } from './nodes/node-membership.js'
import { runOnEveryNode } from './nodes/run-on-every-node.js'
import { ReplicatedConnection } from './replicated-connection.js'
import { Replication } from './replication.js'
import type { NodeRouter } from './routing/node-router.js'
import type { NodeMonitor } from './topology/node-monitor.js'

/**
 * Kysely's `Driver` over several nodes, each driven by its own dialect's driver. Connections it
 * hands out pick their node lazily (see {@link ReplicatedConnection}).
 */
export class ReplicatedDriver implements Driver {
  readonly #router: NodeRouter
  readonly #sessionReset: string | undefined
  readonly #membership: NodeMembership
  readonly #replication: Replication
  readonly #monitor: NodeMonitor | undefined
  readonly #readYourWrites: ReadYourWrites | undefined
  readonly #stopRequestScopes: (() => void) | undefined
  // Connection objects are reused: Kysely's logging wraps each new object once.
  readonly #idle: ReplicatedConnection[] = []
  #destroyed: Promise<void> | undefined

  constructor(
    router: NodeRouter,
    options: {
      readonly sessionReset: string | undefined
      readonly monitor: NodeMonitor | undefined
      readonly membership: NodeMembership
      readonly readYourWrites: ReadYourWritesOptions | undefined
      readonly consistency: ConsistencyState
      readonly readYourWritesMode: ReadYourWritesMode
    },
  ) {
    this.#router = router
    this.#monitor = options.monitor
    this.#membership = options.membership
    this.#sessionReset = options.sessionReset
    this.#readYourWrites =
      options.readYourWrites === undefined
        ? undefined
        : new ReadYourWrites(options.readYourWrites, router, router.events, options.consistency)
    this.#replication = new Replication(router, this.#readYourWrites, options.readYourWritesMode)
    // From the start, not from the first query (init): the first requests of a server often
    // arrive before it.
    this.#stopRequestScopes = options.readYourWrites?.requestScopes
      ? options.consistency.useRequestScopes()
      : undefined
  }

  /** The router, for views. */
  get router(): NodeRouter {
    return this.#router
  }

  /** The observability handle of this instance. */
  get replication(): Replication {
    return this.#replication
  }

  async init(): Promise<void> {
    // Kysely inits its driver on the first query: listeners added right after `new Kysely` hear it.
    this.#router.events.emit('read-your-writes-mode', this.#replication.readYourWritesMode)
    await runOnEveryNode('init', this.#router.nodes, (node) => node.driver.init())
    await this.#monitor?.init()
  }

  // Not async: Kysely awaits it anyway, and this runs on every query.
  acquireConnection(): Promise<DatabaseConnection> {
    if (this.#destroyed !== undefined) {
      return Promise.reject(
        new UnsupportedOperationError(
          'This ReplicatedDialect was destroyed; create a new Kysely instance.',
        ),
      )
    }
    const connection =
      this.#idle.pop() ??
      new ReplicatedConnection(this.#router, this.#sessionReset, this.#readYourWrites)
    return connection.open()
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    const replicated = asReplicated(connection)
    // Reusable at once: close() reset it, and what it still releases it holds on its own.
    const closing = replicated.close()
    this.#idle.push(replicated)
    return closing ?? DONE
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return asReplicated(connection).beginTransaction(settings)
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return asReplicated(connection).commitTransaction()
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return asReplicated(connection).rollbackTransaction()
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return asReplicated(connection).savepoint('savepoint', name, compileQuery)
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return asReplicated(connection).savepoint('rollbackToSavepoint', name, compileQuery)
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return asReplicated(connection).savepoint('releaseSavepoint', name, compileQuery)
  }

  destroy(): Promise<void> {
    this.#destroyed ??= this.#close()
    return this.#destroyed
  }

  async #close(): Promise<void> {
    this.#stopRequestScopes?.()
    // The monitor and the probes use the node drivers: stop them before closing those. Nodes
    // that left are closed as they drain; those that are still draining are waited for.
    try {
      await this.#monitor?.close()
    } finally {
      await this.#membership.close()
      await runOnEveryNode('destroy', this.#router.nodes, (node) => {
        node.health.close()
        return node.driver.destroy()
      })
    }
  }
}

const DONE = Promise.resolve()

/** The connection as ours; anything else means a foreign connection provider got in between. */
export function asReplicated(connection: DatabaseConnection): ReplicatedConnection {
  if (connection instanceof ReplicatedConnection) {
    return connection
  }
  throw new NotReplicatedError('This connection')
}

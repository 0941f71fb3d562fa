import { AsyncLocalStorage } from 'node:async_hooks'
import type { DatabaseConnection } from 'kysely'
import { StaleReadError } from '../errors.js'
import type { ReplicasEvents } from '../events/replicas-events.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { NodeRouter } from '../routing/node-router.js'
import { ConsistencyScope } from './consistency-scope.js'
import { decodeToken, encodeToken } from './consistency-token.js'
import type { ReadYourWritesOptions } from './read-your-writes-config.js'

/** Where a read of the current scope may go: anywhere, the primary, or a replica at a position. */
export type ReadPlan = 'any' | 'primary' | bigint

const POLL_MS = 5

/**
 * Read-your-writes for one Kysely instance: the scopes (one per `runInScope()`, else the
 * instance's own), what writes record in them, and where their reads may go.
 */
export class ReadYourWrites {
  readonly #options: ReadYourWritesOptions
  readonly #router: NodeRouter
  readonly #events: ReplicasEvents
  readonly #storage = new AsyncLocalStorage<ConsistencyScope>()
  readonly #instanceScope = new ConsistencyScope()
  #clusterId: string | undefined

  constructor(options: ReadYourWritesOptions, router: NodeRouter, events: ReplicasEvents) {
    this.#options = options
    this.#router = router
    this.#events = events
  }

  /** The scope of the code running now. */
  scope(): ConsistencyScope {
    return this.#storage.getStore() ?? this.#instanceScope
  }

  /** Where a read of the current scope may go. Cheap when the scope wrote nothing. */
  plan(): ReadPlan {
    const scope = this.scope()
    const lastWriteAt = scope.lastWriteAt
    if (lastWriteAt === undefined) {
      return 'any'
    }
    // A write whose position is unknown (sticky mode, or the position could not be read) keeps
    // its scope's reads on the primary for the window.
    if (this.#options.mode === 'sticky' || scope.lastWriteUnplaced) {
      if (Date.now() - lastWriteAt < this.#options.windowMs) {
        return 'primary'
      }
    }
    return scope.position ?? 'any'
  }

  /** Records a write that just committed on the primary, on its connection. */
  async recordWrite(connection: DatabaseConnection): Promise<void> {
    const scope = this.scope()
    const { positions } = this.#options
    let position: bigint | undefined
    if (this.#options.mode === 'position' && positions !== undefined) {
      try {
        position = await positions.primaryPosition(connection)
        this.#clusterId ??= await positions.clusterId(connection)
      } catch {
        // The write is done; without its position its scope falls back to the primary.
        position = undefined
      }
    }
    scope.noteWrite(position, Date.now())
  }

  /**
   * A replica that has replayed `position`: the balancer's pick if it has (known from an earlier
   * check or a monitor, else asked), else another one that has, else the first to get there
   * within `maxWaitMs`. `undefined` means the primary (no replica, or a timeout with
   * `onTimeout: 'primary'`). Asking the balancer first keeps reads spread: a replica that is
   * checked once per position is not preferred over one that was not checked yet.
   */
  async replicaAt(position: bigint): Promise<DatabaseNode | undefined> {
    const started = performance.now()
    for (;;) {
      const available = this.#router.available
      if (available.length === 0) {
        return undefined
      }
      const first = this.#router.pick(available)
      if (await this.#hasReplayed(first, position)) {
        return first
      }
      for (const node of available) {
        if (node !== first && (await this.#hasReplayed(node, position))) {
          return node
        }
      }
      const waited = performance.now() - started
      if (waited >= this.#options.maxWaitMs) {
        return this.#timedOut(position, waited)
      }
      await sleep(Math.min(POLL_MS, this.#options.maxWaitMs - waited))
    }
  }

  async #hasReplayed(node: DatabaseNode, position: bigint): Promise<boolean> {
    return (node.replayed ?? -1n) >= position || (await this.#replayed(node)) >= position
  }

  /** Runs `fn` in a new scope, started from a token when one is given. */
  async run<T>(fn: () => Promise<T> | T, token?: string): Promise<T> {
    const scope = token === undefined ? new ConsistencyScope() : await this.#scopeFrom(token)
    return this.#storage.run(scope, fn)
  }

  /** The current scope as an opaque token, to carry to another request, process or server. */
  token(): string {
    const scope = this.scope()
    return encodeToken(
      { cluster: this.#clusterId ?? '', position: scope.position, lastWriteAt: scope.lastWriteAt },
      this.#options.tokenSecret,
    )
  }

  async #scopeFrom(token: string): Promise<ConsistencyScope> {
    const content = decodeToken(token, this.#options.tokenSecret)
    if (typeof content === 'string') {
      this.#reject(content)
      return new ConsistencyScope()
    }
    // A time ahead of this server's clock (another server's clock, a forged token) would keep the
    // scope's reads on the primary for longer than the window.
    const lastWriteAt =
      content.lastWriteAt === undefined ? undefined : Math.min(content.lastWriteAt, Date.now())
    if (content.position === undefined || this.#options.mode === 'sticky') {
      return new ConsistencyScope(undefined, lastWriteAt)
    }
    const cluster = await this.#ownClusterId()
    if (cluster === undefined) {
      // Unverifiable for now: keep the reads of the window on the primary, the safe side.
      return new ConsistencyScope(undefined, Date.now())
    }
    if (cluster !== content.cluster) {
      this.#reject('other-cluster')
      return new ConsistencyScope()
    }
    return new ConsistencyScope(content.position, lastWriteAt)
  }

  async #ownClusterId(): Promise<string | undefined> {
    const { positions } = this.#options
    if (this.#clusterId !== undefined || positions === undefined) {
      return this.#clusterId
    }
    try {
      this.#clusterId = await this.#onNode(this.#router.primary, (connection) =>
        positions.clusterId(connection),
      )
    } catch {
      return undefined
    }
    return this.#clusterId
  }

  async #replayed(node: DatabaseNode): Promise<bigint> {
    const { positions } = this.#options
    if (positions === undefined) {
      return -1n
    }
    try {
      const replayed = await this.#onNode(node, (connection) =>
        positions.replayedPosition(connection),
      )
      node.noteReplayed(replayed)
      return replayed
    } catch {
      // An unreachable replica cannot serve the read; its health is the health checks' business.
      return -1n
    }
  }

  async #timedOut(position: bigint, waited: number): Promise<undefined> {
    await this.#clampToPrimary(position)
    if (this.#options.onTimeout === 'error') {
      throw new StaleReadError(Math.round(waited))
    }
    if (this.#events.listening('consistency')) {
      this.#events.emit('consistency', {
        kind: 'read-on-primary',
        detail: `no replica replayed ${position.toString(16)} within ${this.#options.maxWaitMs} ms`,
      })
    }
    return undefined
  }

  // A position beyond the primary's (a token from before a failover, from a primary that lost
  // writes) would make every read of the scope wait: lower it to what exists.
  async #clampToPrimary(position: bigint): Promise<void> {
    const { positions } = this.#options
    if (positions === undefined) {
      return
    }
    try {
      const current = await this.#onNode(this.#router.primary, (connection) =>
        positions.primaryPosition(connection),
      )
      if (position > current) {
        this.scope().clamp(current)
        this.#events.emit('consistency', {
          kind: 'token-clamped',
          detail: `position ${position.toString(16)} is beyond the primary's ${current.toString(16)}`,
        })
      }
    } catch {
      // Without the primary's position the scope stays as it is; reads still go to the primary.
    }
  }

  async #onNode<T>(
    node: DatabaseNode,
    step: (connection: DatabaseConnection) => Promise<T>,
  ): Promise<T> {
    const connection = await node.driver.acquireConnection()
    try {
      return await step(connection)
    } finally {
      await node.driver.releaseConnection(connection)
    }
  }

  #reject(reason: string): void {
    this.#events.emit('consistency', { kind: 'token-rejected', detail: reason })
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

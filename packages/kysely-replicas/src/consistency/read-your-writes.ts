import type { DatabaseConnection } from 'kysely'
import { StaleReadError } from '../errors.js'
import type { ReplicasEvents } from '../events/replicas-events.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { NodeConnection } from '../nodes/node-connection.js'
import type { NodeRouter } from '../routing/node-router.js'
import { ConsistencyScope } from './consistency-scope.js'
import type { ConsistencyState } from './consistency-state.js'
import { decodeToken, encodeToken } from './consistency-token.js'
import type { ReplayedPosition } from './known-replay.js'
import type { PositionSource } from './position-source.js'
import type { ReadYourWritesOptions } from './read-your-writes-config.js'

/** Where a read of the current scope may go: anywhere, the primary, or a replica at a position. */
export type ReadPlan = 'any' | 'primary' | bigint

const POLL_MS = 5
// A gated read's first wait, while another replica could take the read, is this share of
// maxWaitMs; a replica that falls short of it is passed over by gated reads for PASSED_OVER_MS.
const FIRST_WAIT_SHARE = 0.5
const PASSED_OVER_MS = 5000

/**
 * Read-your-writes for one Kysely instance: what writes record in the scopes (shared by every
 * instance of the dialect, see {@link ConsistencyState}) and where their reads may go.
 */
export class ReadYourWrites {
  readonly #options: ReadYourWritesOptions
  readonly #router: NodeRouter
  readonly #events: ReplicasEvents
  readonly #state: ConsistencyState
  // Until when each replica that fell short of a first wait is passed over by gated reads.
  readonly #passedOver = new WeakMap<DatabaseNode, number>()

  constructor(
    options: ReadYourWritesOptions,
    router: NodeRouter,
    events: ReplicasEvents,
    state: ConsistencyState,
  ) {
    this.#options = options
    this.#router = router
    this.#events = events
    this.#state = state
  }

  /** Where a read of the current scope may go. Cheap when the scope wrote nothing. */
  plan(): ReadPlan {
    const scope = this.#state.scope()
    const lastWriteAt = scope.lastWriteAt
    if (lastWriteAt === undefined) {
      return 'any'
    }
    // A write whose position is unknown (sticky mode reads none, or it could not be read) keeps
    // its scope's reads on the primary for the window.
    if (scope.lastWriteUnplaced && Date.now() - lastWriteAt < this.#options.windowMs) {
      return 'primary'
    }
    return scope.position ?? 'any'
  }

  /**
   * Records, on its connection, a statement that ran on the primary and may have written: after
   * it committed, or after it failed (what the error reported, a duplicate key say, was the
   * primary's state of that moment, and later reads of the scope must not go back before it).
   */
  async recordWrite(connection: DatabaseConnection): Promise<void> {
    const scope = this.#state.scope()
    const { positions } = this.#options
    let position: bigint | undefined
    if (positions !== undefined) {
      try {
        position = await positions.primaryPosition(connection)
        this.#state.clusterId ??= await positions.clusterId(connection)
      } catch {
        // Without its position the write keeps its scope's reads on the primary for the window.
        position = undefined
      }
    }
    if (position !== undefined) {
      this.#state.replay.noteWritten(position)
    }
    scope.noteWrite(position, Date.now())
  }

  /**
   * A connection to a replica that has replayed `position`, checked on that very connection (so
   * that a load-balanced endpoint, one address for several servers, is served right).
   * `undefined` means the primary (no replica, or a timeout with `onTimeout: 'primary'`).
   *
   * When the position source can wait on the server, a gated read costs one statement: a wait,
   * on the balancer's pick, that answers as soon as the replica has the position. Without that,
   * every replica is asked, then asked again every few ms.
   */
  replicaAt(position: bigint): Promise<NodeConnection | undefined> {
    if (this.#options.positions?.waitForReplay === undefined) {
      return this.#pollFor(position)
    }
    const available = this.#router.available
    const pick = available.length === 0 ? undefined : this.#router.pick(available)
    // The steady state, kept cheap: the balancer's pick is known to have the position.
    return pick !== undefined && (pick.replayed ?? -1n) >= position
      ? this.#leaseKnown(pick, position)
      : this.#waitFor(position, pick)
  }

  async #leaseKnown(node: DatabaseNode, position: bigint): Promise<NodeConnection | undefined> {
    return (await this.tryLease(node, position)) ?? this.#waitFor(position)
  }

  /**
   * While another replica could take the read, the first wait gets half of `maxWaitMs`: a
   * replica far behind (paused, or delayed on purpose) costs the read that, not all of it, and is
   * passed over by gated reads for a while. The rest of the time goes to one wait on the closest replica.
   */
  async #waitFor(position: bigint, pick?: DatabaseNode): Promise<NodeConnection | undefined> {
    const started = performance.now()
    // Once every replica's replay is known (the steady state), without the asking's async frame.
    const known = this.#router.available.some((node) => node.replayed === undefined)
      ? await this.#askUnknown(position)
      : undefined
    if (known !== undefined) {
      return known
    }
    const failed = new Set<DatabaseNode>()
    let waitedShort = false
    for (;;) {
      const candidates = this.#router.available.filter((node) => !failed.has(node))
      if (candidates.length === 0) {
        return undefined
      }
      const fresh = waitedShort ? [] : this.#notPassedOver(candidates)
      // One short wait at most, while another replica could stand in; then the closest one.
      const short = fresh.length > 0 && candidates.length > 1
      const node = short ? this.#balancedPick(fresh, pick) : closest(candidates)
      const left = Math.max(0, this.#options.maxWaitMs - elapsed(started))
      const waitMs = short ? Math.min(left, this.#options.maxWaitMs * FIRST_WAIT_SHARE) : left
      try {
        const connection = await this.leaseAt(node, position, waitMs)
        if (connection !== undefined) {
          return { node, connection }
        }
      } catch (error) {
        this.#noteFailure(node, error)
        failed.add(node)
        continue
      }
      if (waitMs === left) {
        return this.#timedOut(position, elapsed(started))
      }
      waitedShort = true
      this.#passedOver.set(node, performance.now() + PASSED_OVER_MS)
    }
  }

  /**
   * Asks the replicas whose replay is not known yet (once in their life, unless a monitor told
   * it): which one is closest must be known before waiting on one.
   */
  async #askUnknown(position: bigint): Promise<NodeConnection | undefined> {
    for (const node of this.#router.available) {
      const found = node.replayed === undefined ? await this.tryLease(node, position) : undefined
      if (found !== undefined) {
        return found
      }
    }
    return undefined
  }

  // The balancer's pick, not the one known closest: what is known of the others may be old, and a
  // replica that has the position answers the wait at once. The pick replicaAt() made counts: a
  // second one would skew a round-robin.
  #balancedPick(fresh: readonly DatabaseNode[], made: DatabaseNode | undefined): DatabaseNode {
    return made !== undefined && fresh.includes(made) ? made : this.#router.pick(fresh)
  }

  #notPassedOver(candidates: readonly DatabaseNode[]): DatabaseNode[] {
    const now = performance.now()
    return candidates.filter((node) => (this.#passedOver.get(node) ?? 0) <= now)
  }

  async #pollFor(position: bigint): Promise<NodeConnection | undefined> {
    const started = performance.now()
    for (;;) {
      const available = this.#router.available
      if (available.length === 0) {
        return undefined
      }
      const first = this.#router.pick(available)
      const found = await this.tryLease(first, position)
      if (found !== undefined) {
        return found
      }
      for (const node of available) {
        const other = node === first ? undefined : await this.tryLease(node, position)
        if (other !== undefined) {
          return other
        }
      }
      const waited = performance.now() - started
      if (waited >= this.#options.maxWaitMs) {
        return this.#timedOut(position, waited)
      }
      await sleep(Math.min(POLL_MS, this.#options.maxWaitMs - waited))
    }
  }

  /**
   * A connection of `node` on which `position` has been replayed, or `undefined` (the connection
   * went back to the pool). With `waitMs`, the check waits up to that long on the server for the
   * replica to get there. Throws what acquiring or checking threw, the connection released.
   */
  async leaseAt(
    node: DatabaseNode,
    position: bigint,
    waitMs?: number,
  ): Promise<DatabaseConnection | undefined> {
    const connection = await node.driver.acquireConnection()
    // The common case, without the check's async frame: this connection's replay is known.
    if (this.#state.replay.of(connection) >= position) {
      return connection
    }
    try {
      if (await this.#hasReplayed(node, connection, position, waitMs)) {
        return connection
      }
    } catch (error) {
      await node.driver.releaseConnection(connection)
      throw error
    }
    await node.driver.releaseConnection(connection)
    return undefined
  }

  /** {@link leaseAt} that never throws: a replica that fails is skipped (and marked down when the failure is its own). */
  async tryLease(
    node: DatabaseNode,
    position: bigint,
    waitMs?: number,
  ): Promise<NodeConnection | undefined> {
    try {
      const connection = await this.leaseAt(node, position, waitMs)
      return connection === undefined ? undefined : { node, connection }
    } catch (error) {
      this.#noteFailure(node, error)
      return undefined
    }
  }

  // An unreachable replica cannot serve the read; one that failed for a node-level reason leaves
  // the rotation, as it would for a read.
  #noteFailure(node: DatabaseNode, error: unknown): void {
    if (node.health.isNodeFailure(error)) {
      node.health.markDown(error)
    }
  }

  async #hasReplayed(
    node: DatabaseNode,
    connection: DatabaseConnection,
    position: bigint,
    waitMs: number | undefined,
  ): Promise<boolean> {
    const { replay } = this.#state
    const { positions } = this.#options
    if (positions === undefined) {
      return false
    }
    const waitForReplay = positions.waitForReplay
    const waits = waitMs !== undefined && waitForReplay !== undefined
    // A wait that runs after a joined one fell short gets what is left of the time, not more.
    const deadline = performance.now() + (waitMs ?? 0)
    const check = async () => {
      const replayed = asReplayed(
        await (waits
          ? waitForReplay.call(
              positions,
              connection,
              position,
              Math.max(0, deadline - performance.now()),
            )
          : positions.replayedPosition(connection)),
      )
      node.noteReplayed(replayed.position)
      return replayed
    }
    // A wait answers for the reads that need no more than its target.
    await replay.refresh(connection, position, check, waits)
    return replay.of(connection) >= position
  }

  /** Runs `fn` in a new scope, started from a token when one is given. */
  async run<T>(fn: () => Promise<T> | T, token?: string): Promise<T> {
    const scope = token === undefined ? new ConsistencyScope() : await this.#scopeFrom(token)
    return this.#state.run(scope, fn)
  }

  /** The current scope as an opaque token, to carry to another request, process or server. */
  token(): string {
    const scope = this.#state.scope()
    return encodeToken(
      {
        cluster: this.#state.clusterId ?? '',
        // A last write without a known position cannot be named by an older one: the token's
        // reads then stay on the primary for the window, as the scope's own do.
        position: scope.lastWriteUnplaced ? undefined : scope.position,
        lastWriteAt: scope.lastWriteAt,
      },
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
    const { positions } = this.#options
    if (content.position === undefined || positions === undefined) {
      return new ConsistencyScope(undefined, lastWriteAt)
    }
    const cluster = await this.#ownClusterId(positions)
    // Unverifiable (no node answers): the position is kept. At worst a token from another
    // cluster costs one bounded wait, while dropping it could show a stale read.
    if (cluster !== undefined && cluster !== content.cluster) {
      this.#reject('other-cluster')
      return new ConsistencyScope()
    }
    return new ConsistencyScope(content.position, lastWriteAt)
  }

  // Any node tells the cluster's identity (physical replicas share the primary's), so a token is
  // verified while the primary is down, during a failover.
  async #ownClusterId(positions: PositionSource): Promise<string | undefined> {
    if (this.#state.clusterId !== undefined) {
      return this.#state.clusterId
    }
    for (const node of this.#router.nodes) {
      if (!node.health.isUp) {
        continue
      }
      try {
        this.#state.clusterId = await this.#onNode(node, (connection) =>
          positions.clusterId(connection),
        )
        return this.#state.clusterId
      } catch {
        // The next node may answer.
      }
    }
    return undefined
  }

  async #timedOut(position: bigint, waited: number): Promise<undefined> {
    // A position beyond the primary's (a token from the future, or from before a failover that
    // lost writes) is one no replica can reach: lowered to what exists, the read goes to the
    // primary, which has it, and is no stale read.
    const clamped = await this.#clampToPrimary(position)
    if (this.#options.onTimeout === 'error' && !clamped) {
      throw new StaleReadError(Math.round(waited))
    }
    this.#events.emit('consistency', {
      kind: 'read-on-primary',
      detail: `no replica replayed ${position.toString(16)} within ${this.#options.maxWaitMs} ms`,
    })
    return undefined
  }

  /** Whether the scope's position was beyond the primary's, and was lowered to it. */
  async #clampToPrimary(position: bigint): Promise<boolean> {
    const { positions } = this.#options
    if (positions === undefined) {
      return false
    }
    let current: bigint
    try {
      current = await this.#onNode(this.#router.primary, (connection) =>
        positions.primaryPosition(connection),
      )
    } catch {
      // Without the primary's position the scope stays as it is.
      return false
    }
    if (position <= current) {
      return false
    }
    this.#state.scope().clamp(current)
    this.#events.emit('consistency', {
      kind: 'token-clamped',
      detail: `position ${position.toString(16)} is beyond the primary's ${current.toString(16)}`,
    })
    return true
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

function asReplayed(replayed: bigint | ReplayedPosition): ReplayedPosition {
  return typeof replayed === 'bigint' ? { position: replayed } : replayed
}

function closest(nodes: readonly DatabaseNode[]): DatabaseNode {
  let best = nodes[0] as DatabaseNode
  for (const node of nodes) {
    if ((node.replayed ?? -1n) > (best.replayed ?? -1n)) {
      best = node
    }
  }
  return best
}

function elapsed(since: number): number {
  return performance.now() - since
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

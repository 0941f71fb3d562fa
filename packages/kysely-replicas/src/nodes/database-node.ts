import type { Driver } from 'kysely'
import type { NodeHealth } from '../health/node-health.js'
import type { DestroyConnection } from './destroy-connection.js'
import type { NodeStats } from './node-stats.js'

/** node-postgres' pool size when `max` is not set: a node's pool size unless told. */
export const DEFAULT_POOL_SIZE = 10

/**
 * Whether a node takes writes, as far as the dialect knows.
 *
 * ```ts
 * const primaries = replicationOf(db).stats().filter((node) => node.role === 'primary')
 * ```
 */
export type NodeRole = 'primary' | 'replica'

/**
 * How far a replica is behind the primary, as last measured by a monitor.
 *
 * ```ts
 * const leastBehind: Balancer = {
 *   pick: (candidates) =>
 *     candidates.reduce((a, b) => ((b.lag?.seconds ?? 0) < (a.lag?.seconds ?? 0) ? b : a)),
 * }
 * ```
 */
export interface NodeLag {
  /** WAL bytes the replica has not replayed yet. */
  readonly bytes: number
  /** Seconds of commits it has not replayed yet; always 0 with `patroniTopology()`. */
  readonly seconds: number
  /** Beyond the configured bound: the replica gets no reads until it catches up. */
  readonly excluded: boolean
}

/** What {@link DatabaseNode} is made of. */
export interface DatabaseNodeInit {
  readonly name: string
  readonly role: NodeRole
  readonly index: number
  readonly weight: number
  readonly zone?: string | undefined
  readonly poolSize?: number | undefined
  readonly driver: Driver
  readonly stats: NodeStats
  readonly health: NodeHealth
  /** How to destroy one of the driver's connections; without it reads have no deadline. */
  readonly destroyConnection?: DestroyConnection | undefined
}

/**
 * One database server behind the dialect, with the driver of its own dialect. Its role starts as
 * configured and follows what a topology monitor discovers (a promoted replica becomes the
 * primary); its lag and replay position are what the monitor last measured.
 *
 * ```ts
 * // a custom balancer sees the candidates as nodes: name, index, weight, role, stats, lag
 * const leastBusy: Balancer = {
 *   pick: (candidates) => candidates.reduce((a, b) => (b.stats.inFlight < a.stats.inFlight ? b : a)),
 * }
 * ```
 */
export class DatabaseNode {
  /** The node's name from the config (`primary`, `replica-0`, … by default), unique. */
  readonly name: string
  /**
   * The 0-based position in the `replicas` config; -1 for the configured primary, which stays -1
   * when a failover demotes it to a replica; the next free number for a member that joined while
   * running. Unique among the nodes, never below -1; not a position among a pick's candidates.
   */
  readonly index: number
  /** The configured weight for weighted balancing, a positive number (default 1). */
  readonly weight: number
  /** The configured zone (see `localZone`); `undefined` when none was given. */
  readonly zone: string | undefined
  /** The configured pool size (see `ReplicaConfig.poolSize`), 10 when none was given. */
  readonly poolSize: number
  /**
   * The driver of the node's own dialect. A monitor may query the node through it; queries
   * sent this way bypass routing, health and stats.
   */
  readonly driver: Driver
  /** The node's live counters: queries in flight, served, failed, and latency. */
  readonly stats: NodeStats
  /** The node's circuit breaker: whether it is up, and its probes while it is down. */
  readonly health: NodeHealth
  /**
   * @internal Ends a connection of the node's driver for good, a query on it failing at once;
   * known for some drivers only (see `postgresConnectionDestroyer`). Reads on a node without it
   * have no deadline: a connection that may be stuck cannot be given back for reuse.
   */
  readonly destroyConnection: DestroyConnection | undefined
  /** The role the configuration gave. */
  readonly configuredRole: NodeRole
  #role: NodeRole
  #lag: NodeLag | undefined
  #replayed: bigint | undefined

  /** @internal The dialect makes the nodes from its configuration. */
  constructor(init: DatabaseNodeInit) {
    this.name = init.name
    this.index = init.index
    this.weight = init.weight
    this.zone = init.zone
    this.poolSize = init.poolSize ?? DEFAULT_POOL_SIZE
    this.driver = init.driver
    this.stats = init.stats
    this.health = init.health
    this.destroyConnection = init.destroyConnection
    this.configuredRole = init.role
    this.#role = init.role
  }

  /** The role now: as configured, until a monitor finds otherwise. */
  get role(): NodeRole {
    return this.#role
  }

  /** The last measured lag; `undefined` without a monitor or for the primary. */
  get lag(): NodeLag | undefined {
    return this.#lag
  }

  /**
   * The highest position (a PostgreSQL LSN as a number) the node is known to have replayed; only
   * ever grows while the node keeps its role.
   */
  get replayed(): bigint | undefined {
    return this.#replayed
  }

  /**
   * Records a discovered role (for a monitor; call `context.refresh()` after). Returns whether
   * it changed; a change forgets the node's lag and replay position.
   */
  assumeRole(role: NodeRole): boolean {
    if (role === this.#role) {
      return false
    }
    this.#role = role
    this.#lag = undefined
    this.#replayed = undefined
    return true
  }

  /** Records a lag measurement (for a monitor; call `context.refresh()` after). */
  setLag(lag: NodeLag | undefined): void {
    this.#lag = lag
  }

  /** Records a replay position; an older one than known is ignored. */
  noteReplayed(position: bigint): void {
    if (this.#replayed === undefined || position > this.#replayed) {
      this.#replayed = position
    }
  }
}

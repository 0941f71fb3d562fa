import type { DatabaseNode } from '../nodes/database-node.js'

/**
 * Chooses the replica that serves the next read among the candidates (never empty).
 *
 * ```ts
 * // the replica with the fewest reads in flight, ties to the first
 * const fewestInFlight: Balancer = {
 *   pick: (candidates) => candidates.reduce((a, b) => (b.stats.inFlight < a.stats.inFlight ? b : a)),
 * }
 * new ReplicatedDialect({ primary, replicas, balancing: fewestInFlight })
 * ```
 */
export interface Balancer {
  /** Returns one of `candidates`: the replica that serves the next read. */
  pick(candidates: readonly DatabaseNode[]): DatabaseNode
  /**
   * Whether `pick` reads `stats.latencyMs`: then every query is timed; otherwise one in 16 is,
   * since reading the clock costs as much as the rest of the routing.
   */
  readonly usesLatency?: boolean
}

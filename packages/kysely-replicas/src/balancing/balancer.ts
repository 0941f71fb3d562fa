import type { DatabaseNode } from '../nodes/database-node.js'

/** Chooses the replica that serves the next read among the candidates (never empty). */
export interface Balancer {
  /** Returns one of `candidates`: the replica that serves the next read. */
  pick(candidates: readonly DatabaseNode[]): DatabaseNode
  /**
   * Whether `pick` reads `stats.latencyMs`: then every query is timed; otherwise one in 16 is,
   * since reading the clock costs as much as the rest of the routing.
   */
  readonly usesLatency?: boolean
}

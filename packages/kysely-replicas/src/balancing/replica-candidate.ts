/**
 * What a balancing function sees of a replica it may pick: a frozen snapshot of the node and its
 * live counters, taken just before the call.
 *
 * ```ts
 * const leastErrors = (candidates: readonly ReplicaCandidate[]) =>
 *   candidates.reduce((best, candidate) => (candidate.errors < best.errors ? candidate : best))
 * ```
 */
export interface ReplicaCandidate {
  /** The replica's name, unique among the nodes. */
  readonly name: string
  /**
   * The 0-based position of the replica in the `replicas` config; -1 for the configured primary
   * (a candidate once a failover demoted it), and the next free number for a member that joined
   * while running. Not a position in an array of the candidates.
   */
  readonly index: number
  /** The replica's configured weight, a positive number. */
  readonly weight: number
  /** Queries running on the replica right now. */
  readonly inFlight: number
  /** Queries the replica answered successfully. */
  readonly served: number
  /** Queries that failed on the replica. */
  readonly errors: number
  /** A moving average of the replica's query latency in ms; 0 before its first answer. */
  readonly latencyMs: number
}

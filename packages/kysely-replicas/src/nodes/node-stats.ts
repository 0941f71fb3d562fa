/** Smoothing of the latency estimate: each new sample weighs this much. */
const LATENCY_WEIGHT = 0.2

/**
 * Live counters of one node, updated on every query it serves. Balancers read them; `stats()`
 * copies them.
 */
export class NodeStats {
  /** Queries running on the node right now (sent, not yet answered). */
  inFlight = 0
  /** Queries the node answered, successfully or with an SQL error. */
  served = 0
  /** Queries that failed on the node, for any reason. */
  errors = 0
  /** An exponentially weighted moving average of query latency, in ms; 0 before any query. */
  latencyMs = 0

  /** A query starts on the node; returns its start time for {@link finish}. */
  start(): number {
    this.inFlight++
    return performance.now()
  }

  /** A query ends on the node. */
  finish(startedAt: number, failed: boolean): void {
    this.inFlight--
    const latency = performance.now() - startedAt
    if (failed) {
      this.errors++
      return
    }
    this.served++
    this.latencyMs = this.served === 1 ? latency : this.latencyMs + LATENCY_WEIGHT * (latency - this.latencyMs)
  }
}

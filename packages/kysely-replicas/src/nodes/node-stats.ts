/** Smoothing of the latency estimate: each new sample weighs this much. */
const LATENCY_WEIGHT = 0.2

/**
 * Live counters of one node, updated on every query it serves. Balancers read them; `stats()`
 * copies them. Reading the clock costs about as much as the rest of the routing, so unless a
 * balancer needs every sample (`timeEvery: 1`), one query in `timeEvery` is timed.
 *
 * When every query is timed (a latency-aware balancer), the estimate rises to a slower sample at
 * once and falls back smoothly: a replica whose tail is slow stays expensive, instead of looking
 * as cheap as its average between two rare picks.
 *
 * ```ts
 * const fastest: Balancer = {
 *   pick: (candidates) => candidates.reduce((a, b) => (b.stats.latencyMs < a.stats.latencyMs ? b : a)),
 *   usesLatency: true, // time every query, since pick() reads latencyMs
 * }
 * ```
 */
export class NodeStats {
  /** Queries routed to the node and not yet answered, waiting for a connection included. */
  inFlight = 0
  /** Queries the node answered, successfully or with an SQL error. */
  served = 0
  /** Queries that failed on the node, for any reason, and connections it could not give. */
  errors = 0
  /** An exponentially weighted moving average of query latency, in ms; 0 before any sample. */
  latencyMs = 0
  /** How many latency samples went into {@link latencyMs}. */
  samples = 0
  /** When the last latency sample was taken (`performance.now()`, ms); 0 before any. */
  sampledAt = 0
  /** Hedge copies of reads sent to the node because another replica was slow (see `hedge`). */
  hedgesSent = 0
  /** Of those, the ones the node answered first. */
  hedgesWon = 0
  readonly #timeEvery: number
  readonly #peakSensitive: boolean
  #untilSample = 0

  /** @internal The dialect makes one per node. */
  constructor(timeEvery = 1) {
    this.#timeEvery = timeEvery
    this.#peakSensitive = timeEvery === 1
  }

  /**
   * @internal A query starts on the node; returns its start time for {@link finish}, or -1 if
   * untimed. Only the router counts queries: a balancer or monitor reads the counters.
   */
  start(): number {
    this.inFlight++
    if (this.#untilSample-- > 0) {
      return -1
    }
    this.#untilSample = this.#timeEvery - 1
    return performance.now()
  }

  /**
   * @internal A query ends on the node: answered (`failure` undefined), answered with an SQL
   * error (`'query'`), not answered because of the node (`'node'`), or given up because another
   * node answered it first (`'cancelled'`: no error, no latency sample).
   */
  finish(startedAt: number, failure?: 'query' | 'node' | 'cancelled'): void {
    this.inFlight--
    if (failure === 'cancelled') {
      return
    }
    if (failure !== undefined) {
      this.errors++
      if (failure === 'node') {
        return
      }
    }
    this.served++
    if (startedAt >= 0) {
      const now = performance.now()
      const latency = now - startedAt
      this.sampledAt = now
      this.samples++
      this.latencyMs =
        this.samples === 1 || (this.#peakSensitive && latency > this.latencyMs)
          ? latency
          : this.latencyMs + LATENCY_WEIGHT * (latency - this.latencyMs)
    }
  }
}

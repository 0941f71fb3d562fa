import { InvalidConfigError } from '../errors.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'

/**
 * Options of {@link LatencyAwareBalancer}.
 *
 * ```ts
 * const seeded: LatencyAwareBalancerOptions = { random: mulberry32(42) } // reproducible picks in a test
 * new ReplicatedDialect({ primary, replicas, balancing: new LatencyAwareBalancer(seeded) })
 * ```
 */
export interface LatencyAwareBalancerOptions {
  /** A source of numbers in `[0, 1)`, `Math.random` by default. Tests pass a seeded one. */
  readonly random?: () => number
  /**
   * How fast an estimate older than its rival's loses weight, in ms: after this long without a
   * sample while the rival got some, a node is compared at half its distance to the rival's
   * latency. Default 1000.
   */
  readonly decayHalfLifeMs?: number
}

/**
 * Prefers fast, lightly loaded replicas with the "power of two choices": it draws two distinct
 * candidates at random and keeps the one with the lower cost, `latencyMs × (inFlight + 1)` (the
 * expected wait of a new query behind the ones already running).
 *
 * Comparing two random nodes instead of taking the best of all of them matters: the latency
 * average lags behind reality, and "always the best" would send every read to the node that
 * looked fastest a moment ago until it drowns. With two choices the slowest candidate is never
 * picked while the others look better, yet load still spreads over the rest.
 *
 * A replica that has not answered yet (`served === 0`) has no latency to compare, so it costs
 * 0 and gets tried as soon as it is drawn; that first answer gives it an estimate. While that
 * probe is still running it is passed over (cost `Infinity`), so a replica that hangs on its
 * first query does not collect every read in the meantime.
 *
 * A replica that lost every comparison gets no reads, so no new sample: its estimate would stay
 * what it was when it was slow, and it would never be tried again. So an estimate older than its
 * rival's decays toward the rival's (halving the gap every `decayHalfLifeMs` of age difference):
 * after a few seconds it wins once, and its new sample says whether it is still slow (then it
 * drops out again at once) or back to normal.
 *
 * ```ts
 * const balancer = new LatencyAwareBalancer()
 * balancer.pick(replicas) // of two random replicas, the one expected to answer sooner
 * ```
 */
export class LatencyAwareBalancer implements Balancer {
  readonly usesLatency = true
  readonly #random: () => number
  readonly #decayHalfLifeMs: number

  constructor(options: LatencyAwareBalancerOptions = {}) {
    this.#random = options.random ?? Math.random
    const halfLife = options.decayHalfLifeMs ?? 1000
    if (typeof halfLife !== 'number' || !(halfLife > 0)) {
      throw new InvalidConfigError(
        `LatencyAwareBalancer: decayHalfLifeMs must be a positive number of milliseconds, got ${String(halfLife)}.`,
      )
    }
    this.#decayHalfLifeMs = halfLife
  }

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const count = candidates.length
    if (count === 1) {
      return candidates[0] as DatabaseNode
    }
    // Two distinct positions, each pair equally likely: the second draw skips the first.
    const first = Math.min(count - 1, Math.floor(this.#random() * count))
    let second = Math.min(count - 2, Math.floor(this.#random() * (count - 1)))
    if (second >= first) {
      second++
    }
    const a = candidates[first] as DatabaseNode
    const b = candidates[second] as DatabaseNode
    // On a tie the first draw wins, which keeps equal nodes evenly loaded.
    return this.#cost(b, a) < this.#cost(a, b) ? b : a
  }

  #cost(node: DatabaseNode, rival: DatabaseNode): number {
    const { served, inFlight, latencyMs, sampledAt } = node.stats
    if (served === 0) {
      return inFlight === 0 ? 0 : Number.POSITIVE_INFINITY
    }
    const age = rival.stats.sampledAt - sampledAt
    if (age <= 0 || rival.stats.served === 0) {
      return latencyMs * (inFlight + 1)
    }
    const toward = rival.stats.latencyMs
    const decayed = toward + (latencyMs - toward) * 2 ** (-age / this.#decayHalfLifeMs)
    return decayed * (inFlight + 1)
  }
}

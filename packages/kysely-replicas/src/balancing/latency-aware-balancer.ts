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
 * ```ts
 * const balancer = new LatencyAwareBalancer()
 * balancer.pick(replicas) // of two random replicas, the one expected to answer sooner
 * ```
 */
export class LatencyAwareBalancer implements Balancer {
  readonly usesLatency = true
  readonly #random: () => number

  constructor(options: LatencyAwareBalancerOptions = {}) {
    this.#random = options.random ?? Math.random
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
    return cost(b) < cost(a) ? b : a
  }
}

function cost(node: DatabaseNode): number {
  const { served, inFlight, latencyMs } = node.stats
  if (served === 0) {
    return inFlight === 0 ? 0 : Number.POSITIVE_INFINITY
  }
  return latencyMs * (inFlight + 1)
}

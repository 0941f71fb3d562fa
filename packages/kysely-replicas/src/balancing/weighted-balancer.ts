import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'

/**
 * Spreads reads in proportion to each replica's `weight`, with nginx's smooth weighted
 * round-robin. With integer weights, any run of picks as long as the sum of the weights gives
 * each node exactly its weight, and the heavy nodes' turns are interleaved with the others'
 * instead of coming in a burst (weights 1, 2, 3 give `C B A C B C`, not `C C C B B A`).
 * Fractional weights give the same shares over longer runs.
 *
 * The state is one running score per node, kept by the node's `index` rather than by its
 * position among the candidates: when a replica drops out of the candidates (unhealthy,
 * lagging) the others keep their scores and the absent one keeps its own, so the spread among
 * the remaining ones is exact again after at most one cycle, and when it comes back the whole set
 * resumes where it was. Resetting the scores on every change instead would hand the first pick
 * after each change to the heaviest node, and a set that changes often would never reach the
 * others.
 *
 * Any node can be a candidate, not only the configured replicas: a configured primary demoted by
 * a failover (its `index` is -1) and a member that joined while running are scored like the
 * others.
 *
 * ```ts
 * // replicas configured with weights 1, 2 and 3
 * const balancer = new WeightedBalancer()
 * Array.from({ length: 6 }, () => balancer.pick(replicas).index) // [2, 1, 0, 2, 1, 2]
 * ```
 */
export class WeightedBalancer implements Balancer {
  // Slot `index + 1` of each node. The index alone was the root of a bug: it is a position in
  // the replicas config, and the configured primary, a candidate once a failover demoted it, has
  // -1, so its score was read from no slot (undefined, NaN once its weight was added) and it
  // never won a pick. Indexes are unique among the nodes and never below -1 (members that join
  // get the next free ones), so `index + 1` gives every node a slot of its own. An array rather
  // than a Map keyed by the node: a pick is 4-5 times cheaper, and a configured replica that
  // leaves and joins again (a new node, same index) resumes its score. Grows when a node is first
  // seen, so picks after that allocate nothing.
  readonly #scores: number[] = []

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const scores = this.#scores
    let total = 0
    let best = candidates[0] as DatabaseNode
    let bestScore = Number.NEGATIVE_INFINITY
    for (let i = 0; i < candidates.length; i++) {
      const node = candidates[i] as DatabaseNode
      const slot = node.index + 1
      while (scores.length <= slot) {
        scores.push(0)
      }
      const score = (scores[slot] as number) + node.weight
      scores[slot] = score
      total += node.weight
      // Strictly greater: on a tie the earlier candidate wins, which keeps the order stable.
      if (score > bestScore) {
        best = node
        bestScore = score
      }
    }
    // Every candidate gained its weight and the winner pays the total back: the scores of the
    // candidates keep the same sum, and each node's share of the picks tends to weight / total.
    scores[best.index + 1] = bestScore - total
    return best
  }
}

import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'

/**
 * Picks the candidate with the fewest queries in flight (`stats.inFlight`), so a replica that
 * answers slowly, and therefore holds more queries at once, gets fewer new ones. Ties go to the
 * candidates in turn: the scan starts one place after the last pick, so equal nodes (all idle,
 * which is the usual case at low load) share the reads like round-robin instead of all going to
 * the first one.
 *
 * ```ts
 * const balancer = new LeastOutstandingBalancer()
 * balancer.pick(replicas) // the replica running the fewest queries now
 * ```
 */
export class LeastOutstandingBalancer implements Balancer {
  #next = 0

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const count = candidates.length
    let position = this.#next % count
    let bestPosition = position
    let fewest = Number.POSITIVE_INFINITY
    for (let scanned = 0; scanned < count; scanned++) {
      const inFlight = (candidates[position] as DatabaseNode).stats.inFlight
      // Strictly fewer: among equals, the first one met after the last pick wins.
      if (inFlight < fewest) {
        fewest = inFlight
        bestPosition = position
      }
      position = position + 1 === count ? 0 : position + 1
    }
    this.#next = bestPosition + 1
    return candidates[bestPosition] as DatabaseNode
  }
}

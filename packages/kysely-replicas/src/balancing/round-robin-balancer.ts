import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'

/**
 * Hands reads to the candidates in turn.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, balancing: 'round-robin' }) // the default
 * ```
 */
export class RoundRobinBalancer implements Balancer {
  #next = 0

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const index = this.#next % candidates.length
    this.#next = index + 1
    // candidates is never empty, so the index is always in range.
    return candidates[index] as DatabaseNode
  }
}

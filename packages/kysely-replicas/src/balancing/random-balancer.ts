import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'

/**
 * Options of {@link RandomBalancer}.
 *
 * ```ts
 * const seeded: RandomBalancerOptions = { random: mulberry32(42) } // reproducible picks in a test
 * new ReplicatedDialect({ primary, replicas, balancing: new RandomBalancer(seeded) })
 * ```
 */
export interface RandomBalancerOptions {
  /** A source of numbers in `[0, 1)`, `Math.random` by default. Tests pass a seeded one. */
  readonly random?: () => number
}

/**
 * Picks a candidate uniformly at random. It keeps no state, so many processes sharing the same
 * replicas spread their reads evenly without any coordination (round-robin in each of them
 * would also be even, but processes that start together hit the same replica first).
 *
 * ```ts
 * const balancer = new RandomBalancer()
 * balancer.pick(replicas) // any of them, each with the same chance
 * ```
 */
export class RandomBalancer implements Balancer {
  readonly #random: () => number

  constructor(options: RandomBalancerOptions = {}) {
    this.#random = options.random ?? Math.random
  }

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const count = candidates.length
    // Clamped so that a generator returning 1 (Math.random never does) stays in range.
    const index = Math.min(count - 1, Math.floor(this.#random() * count))
    return candidates[index] as DatabaseNode
  }
}

import { afterEach, describe, expect, it, vi } from 'vitest'
import { RandomBalancer } from '../../src/balancing/random-balancer.js'
import { countPicks, pickIndexes, replicas, seededRandom, sequence } from './replica-nodes.js'

describe('RandomBalancer', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('spreads picks uniformly', () => {
    const balancer = new RandomBalancer({ random: seededRandom(42) })
    const picks = 30_000
    const counts = countPicks(balancer, replicas({}, {}, {}), picks)
    const expected = picks / 3
    // σ = √(30000 · 1/3 · 2/3) ≈ 82: each count within 4σ of 10000.
    for (const count of counts) {
      expect(Math.abs(count - expected)).toBeLessThan(330)
    }
    // χ² with 2 degrees of freedom stays under 13.8 in 999 runs of 1000.
    const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0)
    expect(chiSquare).toBeLessThan(13.8)
  })

  it('maps the generator onto the candidates, last one included', () => {
    const balancer = new RandomBalancer({ random: sequence(0, 0.34, 0.67, 0.999_999, 1) })
    expect(pickIndexes(balancer, replicas({}, {}, {}), 5)).toEqual([0, 1, 2, 2, 2])
  })

  it('uses Math.random by default', () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const balancer = new RandomBalancer()
    expect(pickIndexes(balancer, replicas({}, {}, {}, {}), 2)).toEqual([2, 2])
    expect(random).toHaveBeenCalledTimes(2)
  })
})

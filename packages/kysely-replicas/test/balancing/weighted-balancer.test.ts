import { describe, expect, it } from 'vitest'
import { WeightedBalancer } from '../../src/balancing/weighted-balancer.js'
import type { DatabaseNode } from '../../src/nodes/database-node.js'
import { countPicks, pickIndexes, replica, replicas } from './replica-nodes.js'

/** Counts per replica index in each run of `size` picks. */
function windows(indexes: readonly number[], size: number, nodes = 3): number[][] {
  const result: number[][] = []
  for (let start = 0; start + size <= indexes.length; start += size) {
    const counts = new Array<number>(nodes).fill(0)
    for (const index of indexes.slice(start, start + size)) {
      counts[index] = (counts[index] ?? 0) + 1
    }
    result.push(counts)
  }
  return result
}

/** Index 7 and 8 (members that joined) counted in the third column. */
function slot(index: number): number {
  return index >= 7 ? 2 : index
}

function cycles(count: number, counts: number[]): number[][] {
  return Array.from({ length: count }, () => counts)
}

describe('WeightedBalancer', () => {
  const weighted = (): DatabaseNode[] => replicas({ weight: 1 }, { weight: 2 }, { weight: 3 })

  it('interleaves the picks smoothly: weights 1, 2, 3 give C B A C B C', () => {
    const balancer = new WeightedBalancer()
    expect(pickIndexes(balancer, weighted(), 12)).toEqual([2, 1, 0, 2, 1, 2, 2, 1, 0, 2, 1, 2])
  })

  it('gives each replica exactly its weight in every cycle, wherever the cycle starts', () => {
    const balancer = new WeightedBalancer()
    const picks = pickIndexes(balancer, weighted(), 600)
    expect(windows(picks, 6)).toEqual(cycles(100, [1, 2, 3]))
    expect(windows(picks.slice(1), 6)).toEqual(cycles(99, [1, 2, 3]))
    expect(windows(picks.slice(4), 6)).toEqual(cycles(99, [1, 2, 3]))
  })

  it('keeps exact shares when a replica leaves at the end of a cycle and when it returns', () => {
    const balancer = new WeightedBalancer()
    const all = weighted()
    const withoutC = all.slice(0, 2)
    expect(windows(pickIndexes(balancer, all, 12), 6)).toEqual(cycles(2, [1, 2, 3]))
    expect(windows(pickIndexes(balancer, withoutC, 30), 3)).toEqual(cycles(10, [1, 2, 0]))
    expect(windows(pickIndexes(balancer, all, 60), 6)).toEqual(cycles(10, [1, 2, 3]))
  })

  it.each([1, 2, 3, 4, 5])(
    'is exact again one cycle after a replica leaves %i picks into a cycle, and at once when it returns',
    (offset) => {
      const balancer = new WeightedBalancer()
      const all = weighted()
      pickIndexes(balancer, all, offset)
      const whileAway = windows(pickIndexes(balancer, all.slice(0, 2), 30), 3)
      // The first cycle may be one pick off; every later one is exact.
      const first = whileAway[0] ?? []
      expect(Math.abs((first[0] ?? 0) - 1)).toBeLessThanOrEqual(1)
      expect(whileAway.slice(1)).toEqual(cycles(9, [1, 2, 0]))
      expect(windows(pickIndexes(balancer, all, 60), 6)).toEqual(cycles(10, [1, 2, 3]))
    },
  )

  it('keeps each replica its share when the candidate set changes on every pick', () => {
    const balancer = new WeightedBalancer()
    const [a, b, c] = weighted() as [DatabaseNode, DatabaseNode, DatabaseNode]
    // Two picks among A and C, then one among B and C, 2000 times over: 4000 picks split 1:3
    // and 2000 split 2:3.
    const counts = [0, 0, 0]
    for (let pick = 0; pick < 6000; pick++) {
      const node = balancer.pick(pick % 3 === 2 ? [b, c] : [a, c])
      counts[node.index] = (counts[node.index] ?? 0) + 1
    }
    expect(counts).toEqual([1000, 800, 4200])
  })

  it('follows the replicas, not their positions among the candidates', () => {
    const balancer = new WeightedBalancer()
    const all = weighted()
    const reversed = [...all].reverse()
    const picks = [
      ...pickIndexes(balancer, all, 4),
      ...pickIndexes(balancer, reversed, 8),
      ...pickIndexes(balancer, all, 6),
    ]
    expect(windows(picks, 6)).toEqual(cycles(3, [1, 2, 3]))
  })

  // After a failover the configured primary (index -1) is a replica like the others; a member
  // that joined has an index past the configured ones. Both are picked by their weight.
  it('gives a demoted configured primary (index -1) its share', () => {
    const balancer = new WeightedBalancer()
    const demoted = replica(-1, { name: 'primary', weight: 2 })
    const [, kept] = replicas({}, { weight: 1 }) as [DatabaseNode, DatabaseNode]
    const picks = Array.from({ length: 30 }, () => balancer.pick([kept, demoted]).name)
    expect(picks.filter((name) => name === 'primary')).toHaveLength(20)
    expect(picks.filter((name) => name === 'replica-1')).toHaveLength(10)
    expect(picks.slice(0, 3)).toEqual(['primary', 'replica-1', 'primary'])
  })

  it('picks a demoted configured primary when it is the heaviest or the first candidate', () => {
    const balancer = new WeightedBalancer()
    const demoted = replica(-1, { name: 'primary', weight: 3 })
    expect(balancer.pick([demoted, ...replicas({}, {})]).name).toBe('primary')
    const equal = new WeightedBalancer()
    expect(equal.pick([replica(-1, { name: 'primary' }), ...replicas({}, {})]).name).toBe('primary')
  })

  it('gives members that joined their share, and a new node of the same name a fresh score', () => {
    const balancer = new WeightedBalancer()
    const configured = replicas({}, {})
    const joined = replica(7, { name: 'node7', weight: 2 })
    const all = [...configured, joined]
    expect(windows(pickIndexes(balancer, all, 40).map(slot), 4)).toEqual(cycles(10, [1, 1, 2]))
    // The member left and joined again: a new node object, picked by its weight at once.
    const rejoined = replica(8, { name: 'node7', weight: 2 })
    const again = [...configured, rejoined]
    expect(windows(pickIndexes(balancer, again, 40).map(slot), 4)).toEqual(cycles(10, [1, 1, 2]))
  })

  it('lets a configured replica that left and joined again (a new node, same index) resume its turn', () => {
    const balancer = new WeightedBalancer()
    const [a, b] = weighted() as [DatabaseNode, DatabaseNode, DatabaseNode]
    const first = [a, b, replica(2, { weight: 3 })]
    const rejoined = [a, b, replica(2, { weight: 3 })]
    expect([...pickIndexes(balancer, first, 4), ...pickIndexes(balancer, rejoined, 8)]).toEqual([
      2, 1, 0, 2, 1, 2, 2, 1, 0, 2, 1, 2,
    ])
  })

  it('handles fractional weights', () => {
    const balancer = new WeightedBalancer()
    const counts = countPicks(balancer, replicas({ weight: 0.5 }, { weight: 1.5 }), 400)
    expect(counts).toEqual([100, 300])
  })

  it('spreads equal weights like round-robin', () => {
    const balancer = new WeightedBalancer()
    expect(pickIndexes(balancer, replicas({}, {}, {}), 6)).toEqual([0, 1, 2, 0, 1, 2])
  })
})

import { describe, expect, it } from 'vitest'
import { RoundRobinBalancer } from '../../src/balancing/round-robin-balancer.js'
import { pickIndexes, replicas } from './replica-nodes.js'

describe('RoundRobinBalancer', () => {
  it('hands reads to the candidates in turn', () => {
    const balancer = new RoundRobinBalancer()
    expect(pickIndexes(balancer, replicas({}, {}, {}), 7)).toEqual([0, 1, 2, 0, 1, 2, 0])
  })

  it('keeps turning over a smaller set when a replica drops out, and over the full set again', () => {
    const balancer = new RoundRobinBalancer()
    const [a, b, c] = replicas({}, {}, {})
    const all = [a, b, c].filter((node) => node !== undefined)
    expect(pickIndexes(balancer, all, 2)).toEqual([0, 1])
    const withoutB = all.filter((node) => node !== b)
    expect(pickIndexes(balancer, withoutB, 4)).toEqual([0, 2, 0, 2])
    // Back to three: every run of three picks covers them all.
    const picks = pickIndexes(balancer, all, 9)
    for (let start = 0; start < 9; start += 3) {
      expect(picks.slice(start, start + 3).sort()).toEqual([0, 1, 2])
    }
  })

  it('always returns the only candidate', () => {
    const balancer = new RoundRobinBalancer()
    expect(pickIndexes(balancer, replicas({}).slice(0, 1), 3)).toEqual([0, 0, 0])
  })
})

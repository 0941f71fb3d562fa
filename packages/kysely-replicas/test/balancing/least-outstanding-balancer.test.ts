import { describe, expect, it } from 'vitest'
import { LeastOutstandingBalancer } from '../../src/balancing/least-outstanding-balancer.js'
import { pickIndexes, replicas } from './replica-nodes.js'

describe('LeastOutstandingBalancer', () => {
  it('picks the replica with the fewest queries in flight', () => {
    const balancer = new LeastOutstandingBalancer()
    expect(
      pickIndexes(balancer, replicas({ inFlight: 3 }, { inFlight: 1 }, { inFlight: 2 }), 5),
    ).toEqual([1, 1, 1, 1, 1])
  })

  it('shares reads in turn among equally loaded replicas', () => {
    const balancer = new LeastOutstandingBalancer()
    expect(pickIndexes(balancer, replicas({}, {}, {}), 7)).toEqual([0, 1, 2, 0, 1, 2, 0])
  })

  it('shares reads in turn among the least loaded ones only', () => {
    const balancer = new LeastOutstandingBalancer()
    const nodes = replicas({ inFlight: 2 }, { inFlight: 0 }, { inFlight: 4 }, { inFlight: 0 })
    expect(pickIndexes(balancer, nodes, 6)).toEqual([1, 3, 1, 3, 1, 3])
  })

  it('levels the load when every pick starts a query', () => {
    const balancer = new LeastOutstandingBalancer()
    const nodes = replicas({ inFlight: 5 }, {}, {})
    const picked = [0, 0, 0]
    for (let i = 0; i < 16; i++) {
      const node = balancer.pick(nodes)
      node.stats.inFlight++
      picked[node.index] = (picked[node.index] ?? 0) + 1
    }
    // B and C catch up with A's 5 first (10 picks), then the 6 left go 2 to each.
    expect(picked).toEqual([2, 7, 7])
    expect(nodes.map((node) => node.stats.inFlight)).toEqual([7, 7, 7])
  })
})

import { describe, expect, it, vi } from 'vitest'
import { LatencyAwareBalancer } from '../../src/balancing/latency-aware-balancer.js'
import type { DatabaseNode } from '../../src/nodes/database-node.js'
import {
  countPicks,
  pickIndexes,
  replica,
  replicas,
  seededRandom,
  sequence,
} from './replica-nodes.js'

const fast = { served: 100, latencyMs: 1 }
const slow = { served: 100, latencyMs: 50 }

describe('LatencyAwareBalancer', () => {
  it('returns the only candidate without drawing', () => {
    const random = vi.fn(() => 0.5)
    const balancer = new LatencyAwareBalancer({ random })
    expect(pickIndexes(balancer, [replica(3, slow)], 3)).toEqual([3, 3, 3])
    expect(random).not.toHaveBeenCalled()
  })

  // Three replicas whose costs are 3, 2 and 1 (replica 2 is the fastest), or all equal.
  it.each([
    ['the first two', [0, 0], [3, 2, 1], 1],
    ['the second and first', [0.4, 0], [3, 2, 1], 1],
    ['the second and third', [0.5, 0.5], [3, 2, 1], 2],
    ['the third and first', [0.9, 0], [3, 2, 1], 2],
    ['the third and second', [0.9, 0.9], [3, 2, 1], 2],
    ['the first and third', [0, 0.9], [3, 2, 1], 2],
    ['the last two, from a generator that returns 1', [1, 1], [3, 2, 1], 2],
    ['two equal ones: the first drawn wins', [0, 0], [1, 1, 1], 0],
    ['two equal ones, drawn the other way', [0.5, 0], [1, 1, 1], 1],
  ])('draws %s with its random source and keeps the cheaper', (_, draws, latencies, expected) => {
    const balancer = new LatencyAwareBalancer({ random: sequence(...draws) })
    const nodes = replicas(...latencies.map((latencyMs) => ({ served: 1, latencyMs })))
    expect(balancer.pick(nodes).index).toBe(expected)
  })

  it('never sends a read to the slower of two replicas while both are idle', () => {
    const balancer = new LatencyAwareBalancer({ random: seededRandom(1) })
    expect(countPicks(balancer, replicas(slow, fast), 1000)).toEqual([0, 1000])
  })

  it('draws two distinct candidates, whatever the generator returns', () => {
    // A generator stuck at 0 (or near 1) would draw the same node twice if the second draw did
    // not skip the first; the slow node would then win half the time.
    for (const value of [0, 0.999_999]) {
      const balancer = new LatencyAwareBalancer({ random: sequence(value) })
      expect(pickIndexes(balancer, replicas(slow, fast), 4)).toEqual([1, 1, 1, 1])
      expect(pickIndexes(balancer, replicas(fast, slow), 4)).toEqual([0, 0, 0, 0])
    }
  })

  it('gives each node the share that two random choices predict', () => {
    // Of the 6 equally likely ordered pairs of 3 nodes, the cheapest node wins the 4 it is in,
    // the middle one the 2 it shares with the slowest, and the slowest none.
    const balancer = new LatencyAwareBalancer({ random: seededRandom(7) })
    const counts = countPicks(
      balancer,
      replicas({ served: 1, latencyMs: 1 }, { served: 1, latencyMs: 2 }, slow),
      3000,
    )
    // σ = √(3000 · 2/3 · 1/3) ≈ 26.
    expect(Math.abs((counts[0] ?? 0) - 2000)).toBeLessThan(100)
    expect(Math.abs((counts[1] ?? 0) - 1000)).toBeLessThan(100)
    expect(counts[2]).toBe(0)
  })

  it('splits evenly between equally fast replicas and keeps off the slow one', () => {
    const balancer = new LatencyAwareBalancer({ random: seededRandom(3) })
    const counts = countPicks(balancer, replicas(fast, fast, slow), 2000)
    // A tie goes to the first draw: each fast node wins 3 of the 6 pairs. σ ≈ 22.
    expect(Math.abs((counts[0] ?? 0) - 1000)).toBeLessThan(90)
    expect(Math.abs((counts[1] ?? 0) - 1000)).toBeLessThan(90)
    expect(counts[2]).toBe(0)
  })

  it('weighs latency by the queries already in flight', () => {
    const balancer = new LatencyAwareBalancer({ random: seededRandom(5) })
    // 1 ms × (60 + 1) = 61 against 50 ms × 1 = 50: the busy fast node loses.
    expect(countPicks(balancer, replicas({ ...fast, inFlight: 60 }, slow), 100)).toEqual([0, 100])
    // 1 ms × (48 + 1) = 49 against 50: it wins again.
    expect(countPicks(balancer, replicas({ ...fast, inFlight: 48 }, slow), 100)).toEqual([100, 0])
  })

  it('tries a replica with no latency sample yet, once at a time', () => {
    const balancer = new LatencyAwareBalancer({ random: seededRandom(9) })
    const [sampled, fresh] = replicas(fast, {})
    const nodes = [sampled, fresh].filter((node) => node !== undefined)
    expect(pickIndexes(balancer, nodes, 3)).toEqual([1, 1, 1])
    fresh?.stats.start()
    // Its probe is running: until it answers, the sampled node takes the reads.
    expect(pickIndexes(balancer, nodes, 3)).toEqual([0, 0, 0])
  })

  it('sends a slow replica nothing but its probe once every node has a sample', () => {
    const balancer = new LatencyAwareBalancer({ random: seededRandom(11) })
    const nodes = replicas({}, {}, {})
    const trueLatency = [1, 1, 50]
    const counts = [0, 0, 0]
    for (let pick = 0; pick < 1000; pick++) {
      const node = balancer.pick(nodes)
      counts[node.index] = (counts[node.index] ?? 0) + 1
      // The query answers at once with the node's latency (NodeStats' EWMA, on a fake clock).
      const { stats } = node
      const latency = trueLatency[node.index] ?? 0
      stats.served++
      stats.latencyMs =
        stats.served === 1 ? latency : stats.latencyMs + 0.2 * (latency - stats.latencyMs)
    }
    expect(counts[2]).toBe(1)
    expect(Math.abs((counts[0] ?? 0) - (counts[1] ?? 0))).toBeLessThan(130)
  })

  describe('an estimate that went stale', () => {
    // A fake clock of 10 ms a pick. The fast replica always has 3 reads in flight (a steady
    // load); the one picked answers at once, which refreshes its estimate.
    function run(options: { decayHalfLifeMs?: number; slowAfterRetry: number }, picks: number) {
      const balancer = new LatencyAwareBalancer({ random: seededRandom(13), ...options })
      const [fast, slow] = replicas(
        { served: 100, latencyMs: 1, inFlight: 3 },
        { served: 100, latencyMs: 50 },
      ) as [DatabaseNode, DatabaseNode]
      const order: string[] = []
      for (let pick = 1; pick <= picks; pick++) {
        const clock = pick * 10
        const node = balancer.pick([fast, slow])
        node.stats.sampledAt = clock
        if (node === slow) {
          order.push(`slow at ${clock} ms`)
          node.stats.latencyMs = options.slowAfterRetry
        }
      }
      return order
    }

    it('decays toward its rival, so that a replica still slow is retried now and then', () => {
      // 1 + 49 × 2^(-age / 1000) < 1 × (3 + 1) once its estimate is 4.03 s older than the fast one's.
      expect(run({ slowAfterRetry: 50 }, 1000)).toEqual(['slow at 4040 ms', 'slow at 8080 ms'])
    })

    it('gives a replica that recovered its reads back after one retry', () => {
      const order = run({ slowAfterRetry: 1 }, 1000)
      expect(order[0]).toBe('slow at 4040 ms')
      expect(order[1]).toBe('slow at 4050 ms')
      expect(order.length).toBeGreaterThan(500)
    })

    it('is never retried without the decay', () => {
      expect(run({ decayHalfLifeMs: 1e15, slowAfterRetry: 50 }, 1000)).toEqual([])
    })

    it.each([0, -1, Number.NaN, '1000'])('refuses decayHalfLifeMs %j', (decayHalfLifeMs) => {
      expect(() => new LatencyAwareBalancer({ decayHalfLifeMs } as never)).toThrow(
        `LatencyAwareBalancer: decayHalfLifeMs must be a positive number of milliseconds, got ${String(decayHalfLifeMs)}.`,
      )
    })
  })
})

import { afterEach, describe, expect, it, vi } from 'vitest'
import { NodeStats } from '../../src/nodes/node-stats.js'

// Drives performance.now() so that each query takes exactly the given time.
function query(stats: NodeStats, ms: number, failure?: 'query' | 'node'): void {
  const now = vi.spyOn(performance, 'now')
  now.mockReturnValueOnce(1000).mockReturnValueOnce(1000 + ms)
  stats.finish(stats.start(), failure)
  now.mockRestore()
}

describe('NodeStats', () => {
  afterEach(() => vi.restoreAllMocks())

  it('counts queries in flight, served and failed', () => {
    const stats = new NodeStats()
    const started = stats.start()
    expect(stats.inFlight).toBe(1)
    stats.finish(started)
    query(stats, 1, 'query')
    query(stats, 1, 'node')
    expect(stats).toMatchObject({ inFlight: 0, served: 2, errors: 2 })
  })

  it('rises to a slow sample at once and falls back smoothly when every query is timed', () => {
    const stats = new NodeStats(1)
    query(stats, 2)
    query(stats, 20)
    expect(stats.latencyMs).toBe(20)
    query(stats, 1)
    expect(stats.latencyMs).toBeCloseTo(20 + 0.2 * (1 - 20))
  })

  it('times one query in timeEvery, with a plain moving average', () => {
    const stats = new NodeStats(4)
    for (const ms of [2, 100, 100, 100, 10]) {
      query(stats, ms)
    }
    // Only the 1st and 5th queries were timed: 2, then 2 + 0.2 × (10 − 2).
    expect(stats.samples).toBe(2)
    expect(stats.latencyMs).toBeCloseTo(3.6)
  })
})

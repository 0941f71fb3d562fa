import { describe, expect, it } from 'vitest'
import { Hedging } from '../../src/routing/hedging.js'

// When a replica read is hedged (the delay, from recent latencies) and how many hedges the
// budget allows: the two numbers a user tunes with `hedge`.

const hedging = (options: Partial<{ budget: number; minDelayMs: number; percentile: number }>) =>
  new Hedging({ budget: 0.05, minDelayMs: 0, percentile: 0.95, ...options })

const sampleAll = (target: Hedging, samples: readonly number[]) => {
  for (const ms of samples) target.sample(ms)
}

// 1 to n in a shuffled order: the delay must not depend on the order the reads ended in.
const shuffled = (n: number) => Array.from({ length: n }, (_, i) => ((i * 7) % n) + 1)

describe('the hedge delay', () => {
  it('is unknown until 32 reads were sampled', () => {
    const target = hedging({})
    sampleAll(target, shuffled(31))
    expect(target.delayMs()).toBeUndefined()
    target.sample(40)
    expect(target.delayMs()).toBeDefined()
  })

  it('is the chosen quantile of the reads sampled so far', () => {
    const p95 = hedging({})
    sampleAll(p95, shuffled(32))
    // The 31st of 32 sorted latencies (index floor(0.95 * 32) = 30).
    expect(p95.delayMs()).toBe(31)
    const median = hedging({ percentile: 0.5 })
    sampleAll(median, shuffled(32))
    expect(median.delayMs()).toBe(17)
  })

  it('is never below minDelayMs', () => {
    const target = hedging({ minDelayMs: 8 })
    sampleAll(target, shuffled(32))
    expect(target.delayMs()).toBe(31)
    const fast = hedging({ minDelayMs: 8 })
    sampleAll(fast, new Array(32).fill(1))
    expect(fast.delayMs()).toBe(8)
  })

  it('is recomputed every 32 samples, not on each', () => {
    const target = hedging({ percentile: 0.5 })
    sampleAll(target, new Array(32).fill(10))
    sampleAll(target, new Array(31).fill(100))
    expect(target.delayMs()).toBe(10)
    target.sample(100)
    expect(target.delayMs()).toBe(100)
  })

  it('follows the last 128 reads only', () => {
    const target = hedging({ percentile: 0.5 })
    sampleAll(target, new Array(128).fill(1000))
    expect(target.delayMs()).toBe(1000)
    sampleAll(target, new Array(128).fill(10))
    expect(target.delayMs()).toBe(10)
  })
})

describe('the hedge budget', () => {
  it('allows no hedge before reads earned one', () => {
    const target = hedging({ budget: 0.5 })
    expect(target.take()).toBe(false)
    target.noteRead()
    expect(target.take()).toBe(false)
    target.noteRead()
    expect(target.take()).toBe(true)
    expect(target.take()).toBe(false)
  })

  it('saves up 5 hedges at most: a burst of hedges stays short', () => {
    const target = hedging({ budget: 1 })
    for (let i = 0; i < 20; i++) target.noteRead()
    const taken = Array.from({ length: 7 }, () => target.take())
    expect(taken).toEqual([true, true, true, true, true, false, false])
  })
})

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DeadlineWatch } from '../../src/routing/deadline-watch.js'

// Fake timers drive the clock (performance.now included): each step is an exact tick.
describe('DeadlineWatch', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const watched = () => {
    const read = { expired: 0, expire: () => read.expired++ }
    return read
  }

  it('tells a read once its deadline passed, on the tick that reaches it, and only once', () => {
    const watch = new DeadlineWatch(10)
    const read = watched()
    watch.add(read, 30)
    vi.advanceTimersByTime(20)
    expect(read.expired).toBe(0)
    vi.advanceTimersByTime(10)
    expect(read.expired).toBe(1)
    vi.advanceTimersByTime(100)
    expect(read.expired).toBe(1)
  })

  it('tells each read at its own deadline, counted from when it was added', () => {
    const watch = new DeadlineWatch(10)
    const early = watched()
    const late = watched()
    watch.add(late, 50)
    vi.advanceTimersByTime(20)
    watch.add(early, 10)
    vi.advanceTimersByTime(10)
    expect([early.expired, late.expired]).toEqual([1, 0])
    vi.advanceTimersByTime(20)
    expect([early.expired, late.expired]).toEqual([1, 1])
  })

  it('never tells a read before its deadline when it was added between two ticks', () => {
    const watch = new DeadlineWatch(10)
    watch.add(watched(), 100)
    vi.advanceTimersByTime(15)
    const read = watched()
    watch.add(read, 20)
    // 19 ms after it was added: one tick has passed 5 ms early of its deadline.
    vi.advanceTimersByTime(19)
    expect(read.expired).toBe(0)
    // The next tick, at most one tick late.
    vi.advanceTimersByTime(6)
    expect(read.expired).toBe(1)
  })

  it('tells a read that was removed nothing', () => {
    const watch = new DeadlineWatch(10)
    const answered = watched()
    const stuck = watched()
    watch.add(answered, 20)
    watch.add(stuck, 20)
    watch.delete(answered)
    vi.advanceTimersByTime(50)
    expect([answered.expired, stuck.expired]).toEqual([0, 1])
  })

  it('tells a read again that asked for another deadline when told (a slow, not stuck, read)', () => {
    const watch = new DeadlineWatch(10)
    const told: number[] = []
    const read = {
      expire: () => {
        told.push(Date.now())
        if (told.length === 1) watch.add(read, 30)
      },
    }
    const start = Date.now()
    watch.add(read, 20)
    vi.advanceTimersByTime(100)
    expect(told.map((at) => at - start)).toEqual([20, 50])
  })

  it('runs one timer while reads are watched, stops when none is, and starts again', () => {
    const watch = new DeadlineWatch(10)
    expect(vi.getTimerCount()).toBe(0)
    watch.add(watched(), 20)
    watch.add(watched(), 30)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(30)
    expect(vi.getTimerCount()).toBe(1)
    // The first tick that finds nothing to watch stops the timer.
    vi.advanceTimersByTime(10)
    expect(vi.getTimerCount()).toBe(0)
    const read = watched()
    watch.add(read, 20)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(20)
    expect(read.expired).toBe(1)
  })

  it('keeps no process alive', () => {
    vi.useRealTimers()
    const created: NodeJS.Timeout[] = []
    const setTimer = globalThis.setInterval
    const spy = vi.spyOn(globalThis, 'setInterval').mockImplementation(((
      callback: () => void,
      ms?: number,
    ) => {
      const timer = setTimer(callback, ms)
      created.push(timer)
      return timer
    }) as typeof setInterval)
    const watch = new DeadlineWatch(10)
    const read = watched()
    try {
      watch.add(read, 60_000)
    } finally {
      spy.mockRestore()
      watch.delete(read)
    }
    expect(created.map((timer) => timer.hasRef())).toEqual([false])
    for (const timer of created) clearInterval(timer)
  })
})

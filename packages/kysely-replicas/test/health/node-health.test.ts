import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ReplicasEventMap } from '../../src/events/replicas-events.js'
import { ReplicasEvents } from '../../src/events/replicas-events.js'
import { type HealthConfig, normalizeHealth } from '../../src/health/health-options.js'
import { NodeHealth } from '../../src/health/node-health.js'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

// One node's circuit breaker driven directly, on fake timers, with a recording driver: what a
// user sees of it is whether the node gets reads (isUp, isSuspect), the events, and the probes
// the node receives.

const refused = Object.assign(new Error('connect ECONNREFUSED postgres://app:secret@db:5432'), {
  code: 'ECONNREFUSED',
})
const saturated = () => new Error('timeout exceeded when trying to connect')
const syntax = Object.assign(new Error('syntax error'), { code: '42601' })

function setup(config: HealthConfig = {}) {
  const journal = new Journal()
  const events = new ReplicasEvents()
  const seen: Array<[keyof ReplicasEventMap, unknown]> = []
  events.on('node-down', (event) => seen.push(['node-down', event]))
  events.on('node-up', (event) => seen.push(['node-up', event]))
  const changes = { count: 0 }
  const health = new NodeHealth(
    'replica-0',
    new RecordingDialect('replica-0', journal).createDriver(),
    normalizeHealth({ probeIntervalMs: 10, maxProbeIntervalMs: 40, probeTimeoutMs: 50, ...config }),
    events,
    () => changes.count++,
  )
  const probes = () => journal.nodesFor(config.probeSql ?? 'select 1').length
  return { journal, health, seen, changes, probes }
}

describe('NodeHealth', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('is up and not suspect until something fails', () => {
    const { health } = setup()
    expect([health.isUp, health.isSuspect, health.downSince, health.lastError]).toEqual([
      true,
      false,
      undefined,
      undefined,
    ])
  })

  it.each([
    ['a refused connection', refused, 'node'],
    ['a pool with no free connection', saturated(), 'saturated'],
    ['an SQL error', syntax, 'query'],
  ] as const)('blames %s on the %s', (_, error, kind) => {
    const { health } = setup()
    expect(health.failureKind(error)).toBe(kind)
    expect(health.isNodeFailure(error)).toBe(kind === 'node')
  })

  it('asks isSaturationError first: an error both say yes to is saturation', () => {
    const { health } = setup({ isConnectionError: () => true, isSaturationError: () => true })
    expect(health.failureKind(syntax)).toBe('saturated')
  })

  it('goes down once, with the masked error, and says so once', () => {
    const { health, seen, changes } = setup()
    health.markDown(refused)
    vi.setSystemTime(1_000_005)
    health.markDown(new Error('second failure'))
    expect(health.isUp).toBe(false)
    expect(health.downSince).toBe(1_000_000)
    expect(health.lastError).toBe('second failure')
    expect(changes.count).toBe(1)
    expect(seen).toEqual([
      [
        'node-down',
        { node: 'replica-0', error: 'connect ECONNREFUSED postgres://app:***@db:5432' },
      ],
    ])
  })

  it('comes back when a probe answers, with how long it was down', async () => {
    const { health, seen, changes, probes } = setup()
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(9)
    expect(probes()).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(probes()).toBe(1)
    expect(health.isUp).toBe(true)
    expect(health.downSince).toBeUndefined()
    expect(changes.count).toBe(2)
    expect(seen.at(-1)).toEqual(['node-up', { node: 'replica-0', downForMs: 10 }])
    // The probe's timeout timer went with it.
    expect(vi.getTimerCount()).toBe(0)
  })

  it('works where timers are plain numbers with no unref() (Deno, browsers)', async () => {
    const fakeSetTimeout = globalThis.setTimeout
    const spy = vi
      .spyOn(globalThis, 'setTimeout')
      .mockImplementation(((callback: () => void, ms?: number) =>
        Number(fakeSetTimeout(callback, ms))) as unknown as typeof setTimeout)
    try {
      const { health, journal } = setup()
      // A suspect probe that finds the pool full waits before the next one.
      journal.queryErrors.set('replica-0', saturated())
      health.suspect(new Error('no answer'))
      await vi.advanceTimersByTimeAsync(10)
      journal.queryErrors.clear()
      await vi.advanceTimersByTimeAsync(10)
      expect([health.isSuspect, health.isUp]).toEqual([false, true])
      // A node marked down is probed after probeIntervalMs.
      health.markDown(refused)
      await vi.advanceTimersByTimeAsync(10)
      expect(health.isUp).toBe(true)
      expect(spy).toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })

  it('releases the connection a probe used, whether the probe answered or failed', async () => {
    const { health, journal } = setup()
    journal.queryErrors.set('replica-0', refused)
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(10)
    expect(journal.attempts.get('replica-0')).toBe(1)
    expect(journal.allReleased).toBe(true)
    journal.queryErrors.clear()
    await vi.advanceTimersByTimeAsync(20)
    expect(health.isUp).toBe(true)
    expect(journal.allReleased).toBe(true)
  })

  it('runs the configured probeSql', async () => {
    const { health, journal } = setup({ probeSql: 'select 42' })
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(10)
    expect(journal.entries.map((entry) => entry.sql)).toEqual(['select 42'])
  })

  it.each([
    ['is refused', (journal: Journal) => journal.down.add('replica-0')],
    ['fails', (journal: Journal) => journal.queryErrors.set('replica-0', refused)],
    [
      'finds the pool full',
      (journal: Journal) => journal.queryErrors.set('replica-0', saturated()),
    ],
  ])('stays down while its probe %s, keeping the last error', async (_, fail) => {
    const { health, journal, seen } = setup()
    fail(journal)
    health.markDown(new Error('first'))
    await vi.advanceTimersByTimeAsync(10)
    expect(journal.attempts.get('replica-0')).toBe(1)
    expect(health.isUp).toBe(false)
    expect(health.lastError).not.toBe('first')
    expect(seen.map(([name]) => name)).toEqual(['node-down'])
  })

  it('stays down until confirm() passes after a probe answered', async () => {
    const { health, seen } = setup()
    let confirmed = false
    health.confirmWith(async () => {
      if (!confirmed) {
        throw new Error('it is a primary now')
      }
    })
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(10)
    expect(health.isUp).toBe(false)
    expect(health.lastError).toBe('it is a primary now')
    confirmed = true
    await vi.advanceTimersByTimeAsync(20)
    expect(health.isUp).toBe(true)
    expect(seen.map(([name]) => name)).toEqual(['node-down', 'node-up'])
  })

  it("probes through probeWith's function, with the probe's SQL, instead of the node's pool", async () => {
    const { health, journal } = setup({ probeSql: 'select 7' })
    const asked: string[] = []
    health.probeWith(async (sql) => {
      asked.push(sql)
    })
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(10)
    expect(asked).toEqual(['select 7'])
    expect(journal.attempts.size).toBe(0)
    expect(health.isUp).toBe(true)
  })

  it('counts a probe that does not answer within probeTimeoutMs as failed, and says so', async () => {
    const { health, journal } = setup({ probeTimeoutMs: 30 })
    journal.stalled.set('replica-0', new Promise(() => {}))
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(10 + 29)
    expect(health.lastError).toBe('connect ECONNREFUSED postgres://app:***@db:5432')
    await vi.advanceTimersByTimeAsync(1)
    expect(health.lastError).toBe('the probe had no answer within 30 ms')
    expect(health.isUp).toBe(false)
  })

  it('does nothing after close(): no probe, no event, no change', async () => {
    const { health, seen, changes, probes } = setup()
    health.markDown(refused)
    health.close()
    await vi.advanceTimersByTimeAsync(1000)
    expect(probes()).toBe(0)
    const closed = setup()
    closed.health.close()
    closed.health.markDown(refused)
    closed.health.suspect(refused)
    await vi.advanceTimersByTimeAsync(1000)
    expect([closed.health.isUp, closed.health.isSuspect]).toEqual([true, false])
    expect([closed.seen, closed.changes.count, closed.probes()]).toEqual([[], 0, 0])
    expect([seen.length, changes.count]).toEqual([1, 1])
  })

  it('ignores a probe that answers after close()', async () => {
    const { health, journal, seen } = setup()
    let answer = () => {}
    journal.stalled.set('replica-0', new Promise<void>((resolve) => (answer = resolve)))
    health.markDown(refused)
    await vi.advanceTimersByTimeAsync(10)
    health.close()
    answer()
    await vi.advanceTimersByTimeAsync(1000)
    expect(health.isUp).toBe(false)
    expect(seen.map(([name]) => name)).toEqual(['node-down'])
  })

  describe('a suspect node (a read passed its deadline)', () => {
    it('leaves the rotation at once and returns when its probe answers', async () => {
      const { health, changes, seen, probes } = setup()
      health.suspect(new Error('no answer'))
      expect([health.isSuspect, health.isUp, changes.count]).toEqual([true, true, 1])
      expect(probes()).toBe(0)
      await vi.advanceTimersByTimeAsync(0)
      expect(probes()).toBe(1)
      expect([health.isSuspect, health.isUp, changes.count]).toEqual([false, true, 2])
      expect(seen).toEqual([])
    })

    it('goes down with the read’s error when its probe fails', async () => {
      const { health, journal, seen } = setup()
      journal.down.add('replica-0')
      health.suspect(new Error('answered nothing for 200 ms'))
      await vi.advanceTimersByTimeAsync(0)
      expect([health.isSuspect, health.isUp]).toEqual([false, false])
      expect(seen).toEqual([
        ['node-down', { node: 'replica-0', error: 'answered nothing for 200 ms' }],
      ])
    })

    it('goes down when its probe does not answer within probeTimeoutMs', async () => {
      const { health, journal } = setup({ probeTimeoutMs: 30 })
      journal.stalled.set('replica-0', new Promise(() => {}))
      health.suspect(new Error('no answer'))
      await vi.advanceTimersByTimeAsync(29)
      expect([health.isSuspect, health.isUp]).toEqual([true, true])
      await vi.advanceTimersByTimeAsync(1)
      expect([health.isSuspect, health.isUp]).toEqual([false, false])
    })

    it('probes again every probeIntervalMs while its pool is full, and stays suspect meanwhile', async () => {
      const { health, journal, probes } = setup({ probeIntervalMs: 10 })
      journal.queryErrors.set('replica-0', saturated())
      health.suspect(new Error('no answer'))
      await vi.advanceTimersByTimeAsync(0)
      expect(probes()).toBe(1)
      await vi.advanceTimersByTimeAsync(9)
      expect(probes()).toBe(1)
      await vi.advanceTimersByTimeAsync(1)
      expect(probes()).toBe(2)
      expect([health.isSuspect, health.isUp]).toEqual([true, true])
      journal.queryErrors.clear()
      await vi.advanceTimersByTimeAsync(10)
      expect(probes()).toBe(3)
      expect([health.isSuspect, health.isUp]).toEqual([false, true])
    })

    it('runs one probe however often it is suspected', async () => {
      const { health, changes, probes } = setup()
      health.suspect(new Error('no answer'))
      health.suspect(new Error('no answer'))
      await vi.advanceTimersByTimeAsync(0)
      expect([probes(), changes.count]).toEqual([1, 2])
    })

    it('is not suspected while down: its probes already decide', async () => {
      const { health, changes, journal } = setup()
      journal.down.add('replica-0')
      health.markDown(refused)
      health.suspect(new Error('no answer'))
      expect([health.isSuspect, changes.count]).toEqual([false, 1])
      await vi.advanceTimersByTimeAsync(0)
      expect(journal.attempts.get('replica-0')).toBeUndefined()
    })

    it('stops probing when closed while its pool is full, and never goes down', async () => {
      const { health, journal, seen, probes } = setup()
      journal.queryErrors.set('replica-0', saturated())
      health.suspect(new Error('no answer'))
      await vi.advanceTimersByTimeAsync(0)
      health.close()
      await vi.advanceTimersByTimeAsync(1000)
      expect(probes()).toBe(2)
      expect(health.isUp).toBe(true)
      expect(seen).toEqual([])
    })

    it('stays down, not up, when a read marked it down while its probe ran', async () => {
      const { health, journal, changes, seen } = setup()
      let answer = () => {}
      journal.stalled.set('replica-0', new Promise<void>((resolve) => (answer = resolve)))
      health.suspect(new Error('no answer'))
      health.markDown(refused)
      answer()
      await vi.advanceTimersByTimeAsync(0)
      expect([health.isSuspect, health.isUp]).toEqual([false, false])
      expect(changes.count).toBe(2)
      expect(seen.map(([name]) => name)).toEqual(['node-down'])
    })
  })
})

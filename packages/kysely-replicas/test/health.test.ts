import { sql } from 'kysely'
import {
  NoReplicaAvailableError,
  type ReplicasEventMap,
  type ReplicatedDialectConfig,
  replicationOf,
} from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRecordedDatabase } from './support/database.js'

const refused = (node: string) => `connect ECONNREFUSED ${node}`
const terminated = () =>
  Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })

function setup(options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {}) {
  const { db, journal } = createRecordedDatabase(2, {
    health: { probeIntervalMs: 10, maxProbeIntervalMs: 20 },
    ...options,
  })
  const events: Array<[keyof ReplicasEventMap, unknown]> = []
  const replication = replicationOf(db)
  for (const name of ['node-down', 'node-up', 'fallback'] as const) {
    replication.on(name, (event) => events.push([name, event]))
  }
  return { db, journal, events, replication }
}

const read = (db: ReturnType<typeof setup>['db']) => db.selectFrom('person').selectAll().execute()

describe('health and fallback', () => {
  let destroy: (() => Promise<void>) | undefined
  afterEach(async () => {
    await destroy?.()
    destroy = undefined
  })

  it('retries a read on another replica when one refuses connections, and stops sending it reads', async () => {
    const { db, journal, events, replication } = setup()
    destroy = () => db.destroy()
    journal.down.add('replica-0')
    await read(db)
    await read(db)
    await read(db)
    expect(journal.nodesFor('select')).toEqual(['replica-1', 'replica-1', 'replica-1'])
    expect(events).toContainEqual(['node-down', { node: 'replica-0', error: refused('replica-0') }])
    expect(events).toContainEqual([
      'fallback',
      { from: 'replica-0', to: 'replica-1', error: refused('replica-0') },
    ])
    expect(replication.stats().find((node) => node.name === 'replica-0')).toMatchObject({
      healthy: false,
      lastError: refused('replica-0'),
      errors: 1,
    })
    expect(journal.allReleased).toBe(true)
  })

  it('retries a read that the server terminated mid-query', async () => {
    const { db, journal } = setup()
    destroy = () => db.destroy()
    journal.queryErrors.set('replica-0', terminated())
    await read(db)
    expect(journal.nodesFor('select')).toEqual(['replica-0', 'replica-1'])
    expect(journal.allReleased).toBe(true)
  })

  it('reads from the primary when every replica is down, and from replicas again once probes answer', async () => {
    const { db, journal, events } = setup()
    destroy = () => db.destroy()
    journal.down.add('replica-0').add('replica-1')
    await read(db)
    await read(db)
    expect(journal.nodesFor('select')).toEqual(['primary', 'primary'])
    journal.down.clear()
    await vi.waitFor(() => expect(events.filter(([name]) => name === 'node-up')).toHaveLength(2), {
      timeout: 2000,
    })
    journal.entries.length = 0
    await read(db)
    await read(db)
    expect(new Set(journal.nodesFor('select'))).toEqual(new Set(['replica-0', 'replica-1']))
  })

  it("goes straight to the primary with fallback 'primary'", async () => {
    const { db, journal } = setup({ fallback: 'primary' })
    destroy = () => db.destroy()
    journal.down.add('replica-0')
    await read(db)
    expect(journal.nodesFor('select')).toEqual(['primary'])
  })

  it("lets the error through with fallback 'none', still marking the replica down", async () => {
    const { db, journal, replication } = setup({ fallback: 'none' })
    destroy = () => db.destroy()
    journal.down.add('replica-0')
    await expect(read(db)).rejects.toThrow(refused('replica-0'))
    expect(replication.stats()[1]?.healthy).toBe(false)
    await read(db)
    expect(journal.nodesFor('select')).toEqual(['replica-1'])
    journal.down.add('replica-1')
    await expect(read(db)).rejects.toThrow(refused('replica-1'))
    await expect(read(db)).rejects.toThrow(NoReplicaAvailableError)
  })

  it('does not treat SQL errors as health problems', async () => {
    const { db, journal, events, replication } = setup()
    destroy = () => db.destroy()
    const syntax = Object.assign(new Error('syntax error at or near "selec"'), { code: '42601' })
    journal.queryErrors.set('replica-0', syntax)
    await expect(read(db)).rejects.toBe(syntax)
    expect(events).toEqual([])
    expect(replication.stats().every((node) => node.healthy)).toBe(true)
    expect(journal.nodesFor('select')).toEqual(['replica-0'])
  })

  it('never retries a write', async () => {
    const { db, journal } = setup()
    destroy = () => db.destroy()
    journal.queryErrors.set('primary', terminated())
    await expect(db.insertInto('person').values({ id: 1, name: 'a' }).execute()).rejects.toThrow(
      /administrator/,
    )
    await expect(sql`select 1`.execute(db)).rejects.toThrow(/administrator/)
    expect(journal.entries.map((entry) => entry.node)).toEqual(['primary', 'primary'])
  })

  it('never retries inside a block', async () => {
    const { db, journal, replication } = setup()
    destroy = () => db.destroy()
    journal.queryErrors.set('replica-0', terminated())
    await expect(
      db
        .onReplica(0)
        .transaction()
        .execute((trx) => trx.selectFrom('person').selectAll().execute()),
    ).rejects.toThrow(/administrator/)
    expect(new Set(journal.entries.map((entry) => entry.node))).toEqual(new Set(['replica-0']))
    expect(replication.stats()[1]?.healthy).toBe(false)
  })

  it('keeps onReplica(index) on its replica and onReplica() off the primary', async () => {
    const { db, journal } = setup()
    destroy = () => db.destroy()
    journal.down.add('replica-0')
    await expect(db.onReplica(0).selectFrom('person').selectAll().execute()).rejects.toThrow(
      refused('replica-0'),
    )
    await db.onReplica().selectFrom('person').selectAll().execute()
    expect(journal.nodesFor('select')).toEqual(['replica-1'])
    journal.down.add('replica-1')
    await expect(db.onReplica().selectFrom('person').selectAll().execute()).rejects.toThrow(
      refused('replica-1'),
    )
    await expect(db.onReplica().selectFrom('person').selectAll().execute()).rejects.toThrow(
      NoReplicaAvailableError,
    )
  })

  it('stops probing on destroy', async () => {
    const { db, journal } = setup()
    journal.down.add('replica-0')
    await read(db)
    await db.destroy()
    const attempts = journal.attempts.get('replica-0')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(journal.attempts.get('replica-0')).toBe(attempts)
  })

  it('probes a down node after probeIntervalMs, doubling the wait up to maxProbeIntervalMs', async () => {
    vi.useFakeTimers()
    const { db, journal } = setup({ health: { probeIntervalMs: 20, maxProbeIntervalMs: 80 } })
    destroy = async () => {
      vi.useRealTimers()
      await db.destroy()
    }
    journal.down.add('replica-0')
    await read(db)
    const probes = () => (journal.attempts.get('replica-0') ?? 0) - 1
    const probesAfter = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms)
      return probes()
    }
    // Waits of 20, 40, 80, 80 ms: each probe is checked one tick before and at its time.
    expect([await probesAfter(19), await probesAfter(1)]).toEqual([0, 1])
    expect([await probesAfter(39), await probesAfter(1)]).toEqual([1, 2])
    expect([await probesAfter(79), await probesAfter(1)]).toEqual([2, 3])
    expect([await probesAfter(79), await probesAfter(1)]).toEqual([3, 4])
  })

  it('starts no probe while the last one hangs, even past its timeout', async () => {
    vi.useFakeTimers()
    const { db, journal, replication } = setup({
      health: { probeIntervalMs: 20, maxProbeIntervalMs: 20, probeTimeoutMs: 50 },
    })
    destroy = async () => {
      vi.useRealTimers()
      await db.destroy()
    }
    journal.down.add('replica-0')
    await read(db)
    let answer = () => {}
    journal.stalled.set('replica-0', new Promise<void>((resolve) => (answer = resolve)))
    await vi.advanceTimersByTimeAsync(20)
    expect(journal.attempts.get('replica-0')).toBe(2)
    // Fifty probe intervals, twenty probe timeouts: still the one probe, and the node still down.
    await vi.advanceTimersByTimeAsync(1000)
    expect(journal.attempts.get('replica-0')).toBe(2)
    expect(replication.stats().find((node) => node.name === 'replica-0')?.healthy).toBe(false)
    // Once it settles, the next one follows an interval later.
    journal.stalled.delete('replica-0')
    answer()
    await vi.advanceTimersByTimeAsync(20)
    expect(journal.attempts.get('replica-0')).toBe(3)
  })

  it('keeps no process alive with its probe timers', async () => {
    const { db, journal } = setup({
      health: { probeIntervalMs: 10, maxProbeIntervalMs: 10, probeTimeoutMs: 60_000 },
    })
    destroy = () => db.destroy()
    const created: Array<{ ms: number | undefined; timer: NodeJS.Timeout }> = []
    const setTimer = globalThis.setTimeout
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
      callback: () => void,
      ms?: number,
    ) => {
      const timer = setTimer(callback, ms)
      created.push({ ms, timer })
      return timer
    }) as typeof setTimeout)
    try {
      journal.down.add('replica-0')
      await read(db)
      // The first probe hangs, with its timeout timer pending.
      journal.stalled.set('replica-0', new Promise<void>(() => {}))
      await vi.waitFor(() => expect(journal.attempts.get('replica-0')).toBe(2))
    } finally {
      spy.mockRestore()
    }
    const probeTimers = created.filter(({ ms }) => ms === 10 || ms === 60_000)
    expect(probeTimers.map(({ ms }) => ms)).toEqual([10, 60_000])
    expect(probeTimers.map(({ timer }) => timer.hasRef())).toEqual([false, false])
  })
})

describe('observability', () => {
  it('emits route events only to listeners, with the reason', async () => {
    const { db } = createRecordedDatabase()
    const routes: unknown[] = []
    replicationOf(db).on('route', (event) => routes.push(event))
    await db.selectFrom('person').selectAll().execute()
    await db.selectFrom('person').selectAll().forUpdate().execute()
    await db.onPrimary().selectFrom('person').selectAll().execute()
    await db.transaction().execute((trx) => trx.selectFrom('person').selectAll().execute())
    expect(routes).toEqual([
      { node: 'replica-0', role: 'replica', reason: 'select' },
      { node: 'primary', role: 'primary', reason: 'row-lock' },
      { node: 'primary', role: 'primary', reason: 'view' },
      { node: 'primary', role: 'primary', reason: 'pinned' },
    ])
  })

  it('explains where a query would go', () => {
    const { db } = createRecordedDatabase()
    const replication = replicationOf(db)
    expect(replication.explain(db.selectFrom('person').selectAll())).toEqual({
      access: 'read',
      reason: 'select',
      detail: undefined,
      role: 'replica',
      candidates: ['replica-0', 'replica-1'],
    })
    expect(
      replication.explain(db.selectNoFrom((eb) => eb.fn('nextval', [sql.lit('s')]).as('n'))),
    ).toMatchObject({
      reason: 'writing-function',
      detail: 'nextval',
      role: 'primary',
      candidates: ['primary'],
    })
  })

  it('counts queries per node', async () => {
    const { db } = createRecordedDatabase()
    await db.selectFrom('person').selectAll().execute()
    await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
    const stats = replicationOf(db).stats()
    expect(stats.map((node) => [node.name, node.served, node.inFlight])).toEqual([
      ['primary', 1, 0],
      ['replica-0', 1, 0],
      ['replica-1', 0, 0],
    ])
  })
})

import { Kysely } from 'kysely'
import {
  InvalidConfigError,
  type MonitorContext,
  ReplicatedDialect,
  type ReplicatedDialectConfig,
  replicationOf,
} from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Database } from '../support/database.js'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

// With `localZone`, reads go to the replicas of that zone, and to other zones only while every
// local replica is down, lagging, or has as many queries in flight as its pool has connections.

const SLOW = 'from "person"'

/** replica-0 and replica-2 in zone a (local), replica-1 in zone b; pools of 2 in zone a. */
function setup(options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {}) {
  const journal = new Journal()
  let context: MonitorContext | undefined
  const zones = ['a', 'b', 'a']
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      health: { probeIntervalMs: 60_000, maxProbeIntervalMs: 60_000 },
      localZone: 'a',
      monitor: (given) => {
        context = given
        return { init: async () => {}, close: async () => {} }
      },
      ...options,
      primary: new RecordingDialect('primary', journal),
      replicas: zones.map((zone, index) => ({
        name: `replica-${index}`,
        zone,
        poolSize: zone === 'a' ? 2 : 10,
        dialect: new RecordingDialect(`replica-${index}`, journal),
      })),
    }),
  })
  const read = () => db.selectFrom('person').selectAll().execute()
  const reads = async (count: number) => {
    journal.entries.length = 0
    for (let i = 0; i < count; i++) await read()
    return [...new Set(journal.nodesFor(SLOW))].sort()
  }
  const node = (name: string) => {
    const found = context?.nodes.find((each) => each.name === name)
    if (found === undefined) throw new Error(`no node ${name} (did the dialect start?)`)
    return found
  }
  return { db, journal, read, reads, node, refresh: () => context?.refresh() }
}

describe('reads with a local zone', () => {
  let destroy: (() => Promise<void>) | undefined
  afterEach(async () => {
    await destroy?.()
    destroy = undefined
  })

  it('go to the replicas of the local zone only', async () => {
    const { db, reads } = setup()
    destroy = () => db.destroy()
    expect(await reads(6)).toEqual(['replica-0', 'replica-2'])
    expect(
      replicationOf(db)
        .stats()
        .map(({ name, zone }) => [name, zone]),
    ).toEqual([
      ['primary', undefined],
      ['replica-0', 'a'],
      ['replica-1', 'b'],
      ['replica-2', 'a'],
    ])
  })

  it('go to any zone without localZone', async () => {
    const { db, reads } = setup({ localZone: undefined })
    destroy = () => db.destroy()
    expect(await reads(6)).toEqual(['replica-0', 'replica-1', 'replica-2'])
  })

  it('spill to the other zone while the local replicas are down, and come back', async () => {
    const { db, journal, reads } = setup({
      health: { probeIntervalMs: 10, maxProbeIntervalMs: 10 },
    })
    destroy = () => db.destroy()
    journal.down.add('replica-0').add('replica-2')
    const moves: string[] = []
    replicationOf(db).on('fallback', ({ from, to }) => moves.push(`${from} -> ${to}`))
    expect(await reads(4)).toEqual(['replica-1'])
    // The first read failed on a local replica, then on the other local one, before it spilled.
    expect(moves.slice(0, 2)).toEqual(['replica-0 -> replica-2', 'replica-2 -> replica-1'])
    journal.down.clear()
    await vi.waitFor(() =>
      expect(
        replicationOf(db)
          .stats()
          .every((each) => each.healthy),
      ).toBe(true),
    )
    expect(await reads(6)).toEqual(['replica-0', 'replica-2'])
  })

  it('spill while the local replicas lag, and come back once they caught up', async () => {
    const { db, reads, node, refresh } = setup()
    destroy = () => db.destroy()
    await reads(1)
    for (const name of ['replica-0', 'replica-2']) {
      node(name).setLag({ bytes: 1e9, seconds: 60, excluded: true })
    }
    refresh()
    expect(await reads(4)).toEqual(['replica-1'])
    node('replica-0').setLag({ bytes: 0, seconds: 0, excluded: false })
    refresh()
    expect(await reads(4)).toEqual(['replica-0'])
  })

  it('spill while every local replica has a full pool of queries in flight', async () => {
    const { db, journal, read } = setup()
    destroy = () => db.destroy()
    let answer = () => {}
    journal.slowSql.set(
      SLOW,
      new Promise<void>((resolve) => {
        answer = resolve
      }),
    )
    // Two pools of 2 in zone a: the first 4 reads fill them, the next 2 go to zone b.
    const running = Array.from({ length: 6 }, read)
    await vi.waitFor(() => expect(journal.nodesFor(SLOW)).toHaveLength(6))
    const byNode = (name: string) => journal.nodesFor(SLOW).filter((each) => each === name).length
    expect([byNode('replica-0'), byNode('replica-2'), byNode('replica-1')]).toEqual([2, 2, 2])
    expect(journal.nodesFor(SLOW).slice(0, 4).sort()).toEqual([
      'replica-0',
      'replica-0',
      'replica-2',
      'replica-2',
    ])
    answer()
    await Promise.all(running)
    journal.slowSql.clear()
    journal.entries.length = 0
    await read()
    expect(journal.nodesFor(SLOW)).not.toContain('replica-1')
  })

  it('retry a read that failed on a local replica on another local one first', async () => {
    const { db, journal, reads } = setup()
    destroy = () => db.destroy()
    const terminated = Object.assign(new Error('terminating connection'), { code: '57P01' })
    journal.queryErrors.set('replica-0', terminated)
    journal.entries.length = 0
    await reads(1)
    const tried = journal.nodesFor(SLOW)
    expect(tried.at(-1)).toBe('replica-2')
    expect(tried).not.toContain('replica-1')
  })
})

describe('zone options', () => {
  const build = (config: Partial<ReplicatedDialectConfig>) => () =>
    new ReplicatedDialect({
      primary: new RecordingDialect('primary', new Journal()),
      ...config,
    })
  const replica = new RecordingDialect('replica', new Journal())

  it.each(['', 7])('refuse a zone %j', (zone) => {
    expect(build({ replicas: [{ dialect: replica, zone } as never] })).toThrow(
      `replicas[0].zone must be a non-empty string, got ${String(zone)}.`,
    )
  })

  it.each([0, 2.5, '10'])('refuse a poolSize %j', (poolSize) => {
    expect(build({ replicas: [{ dialect: replica, poolSize } as never] })).toThrow(
      `replicas[0].poolSize must be a positive integer (the pool's max connections), got ${String(poolSize)}.`,
    )
  })

  it('refuse a localZone when no node has a zone', () => {
    const make = build({ replicas: [replica], localZone: 'a' })
    expect(make).toThrow(InvalidConfigError)
    expect(make).toThrow(
      "localZone is 'a' but no node has a zone: give the replicas theirs ({ dialect, zone: 'eu-west-1a' }).",
    )
  })

  it('accept a localZone that no replica is in: reads go anywhere', () => {
    expect(build({ replicas: [{ dialect: replica, zone: 'b' }], localZone: 'a' })).not.toThrow()
  })

  it('take half of the smallest poolSize as the fallback budget', async () => {
    const db = new Kysely<Database>({
      dialect: build({
        primary: { dialect: new RecordingDialect('primary', new Journal()), poolSize: 20 },
        replicas: [{ dialect: replica, poolSize: 7 }],
      })(),
    })
    expect(replicationOf(db).fallbackReads().maxConcurrent).toBe(3)
    await db.destroy()
  })
})

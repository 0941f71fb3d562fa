import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely'
import {
  InvalidConfigError,
  type MonitorContext,
  NoPrimaryError,
  type ReplicasEventMap,
  ReplicatedDialect,
  replicationOf,
  SplitBrainError,
} from 'kysely-replicas'
// By path until tsconfig maps kysely-replicas/postgres to the sources (it resolves to dist/).
import { type PostgresTopologyOptions, parseLsn, postgresTopology } from 'kysely-replicas/postgres'
import { afterEach, describe, expect, it, vi } from 'vitest'

// Routing unit tests: node-postgres-shaped pools that answer the monitor's query with what each
// fake server says about itself, under Kysely's real PostgresDialect. The monitor on real
// servers is covered by test/replication-lag.test.ts and test/failover.test.ts.

interface ServerState {
  inRecovery: boolean
  /** The primary's write position, or what a replica has replayed. */
  lsn: string
  /** Seconds since the last replayed commit (replicas). */
  replayAge?: number | null
  /** Refuses connections. */
  down?: boolean
  /** Answers the monitor's query after this many ms. */
  slowMs?: number
  /** Answers the monitor's query once this settles, as a server that hangs until told. */
  answerWhen?: Promise<void>
  /** The monitor's query fails with this. */
  checkError?: Error
  /** Other queries fail with this. */
  queryError?: Error
}

class FakeServers {
  readonly states = new Map<string, ServerState>()
  /** Monitor queries received, by server. */
  readonly checks = new Map<string, number>()
  readonly outstanding = new Map<string, number>()

  set(name: string, state: ServerState): void {
    this.states.set(name, state)
  }

  update(name: string, change: Partial<ServerState>): void {
    const state = this.states.get(name)
    if (state === undefined) throw new Error(`no server ${name}`)
    Object.assign(state, change)
  }

  pool(name: string): FakePool {
    return new FakePool(this, name)
  }

  checksOf(name: string): number {
    return this.checks.get(name) ?? 0
  }
}

class FakePool implements PostgresPool {
  // What pg's Pool exposes and Kysely 0.30 types as part of a pool.
  readonly options = {}
  readonly #servers: FakeServers
  readonly #name: string

  constructor(servers: FakeServers, name: string) {
    this.#servers = servers
    this.#name = name
  }

  async connect(): Promise<PostgresPoolClient> {
    const servers = this.#servers
    const name = this.#name
    if (servers.states.get(name)?.down) {
      throw Object.assign(new Error(`connect ECONNREFUSED ${name}`), { code: 'ECONNREFUSED' })
    }
    servers.outstanding.set(name, (servers.outstanding.get(name) ?? 0) + 1)
    const query = async (text: string) => {
      const state = servers.states.get(name)
      if (state === undefined || state.down) {
        throw new Error('Connection terminated unexpectedly')
      }
      if (!text.includes('pg_is_in_recovery()')) {
        if (state.queryError) throw state.queryError
        return { command: 'SELECT' as const, rowCount: 1, rows: [{ server: name }] }
      }
      servers.checks.set(name, servers.checksOf(name) + 1)
      if (state.slowMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, state.slowMs))
      }
      await state.answerWhen
      if (state.checkError) throw state.checkError
      const row = {
        in_recovery: state.inRecovery,
        current_lsn: state.inRecovery ? null : state.lsn,
        replay_lsn: state.inRecovery ? state.lsn : null,
        replay_age: state.inRecovery ? (state.replayAge ?? null) : null,
      }
      return { command: 'SELECT' as const, rowCount: 1, rows: [row] }
    }
    return {
      // Only ever called with SQL text: the monitor and these tests use no cursor.
      query: query as unknown as PostgresPoolClient['query'],
      release() {
        servers.outstanding.set(name, (servers.outstanding.get(name) ?? 0) - 1)
      },
    }
  }

  async end(): Promise<void> {}
}

interface DB {
  person: { id: number; server: string }
}

type EventLog = Array<[keyof ReplicasEventMap, unknown]>

let destroy: (() => Promise<void>) | undefined
afterEach(async () => {
  await destroy?.()
  destroy = undefined
})

/** A Kysely over fake servers a (configured primary), b and c, monitored with `options`. */
function setup(servers: FakeServers, options: PostgresTopologyOptions = {}) {
  let context: MonitorContext | undefined
  const monitor = postgresTopology({ intervalMs: 20, ...options })
  const db = new Kysely<DB>({
    dialect: new ReplicatedDialect({
      primary: { name: 'a', dialect: new PostgresDialect({ pool: servers.pool('a') }) },
      replicas: [
        { name: 'b', dialect: new PostgresDialect({ pool: servers.pool('b') }) },
        { name: 'c', dialect: new PostgresDialect({ pool: servers.pool('c') }) },
      ],
      health: { probeIntervalMs: 10, maxProbeIntervalMs: 20, probeTimeoutMs: 200 },
      monitor: (ctx) => {
        context = ctx
        return monitor(ctx)
      },
    }),
  })
  destroy = () => db.destroy()
  const events: EventLog = []
  for (const name of ['role-change', 'split-brain', 'lag', 'node-down', 'node-up'] as const) {
    replicationOf(db).on(name, (event) => events.push([name, event]))
  }
  const node = (name: string) => {
    const found = context?.nodes.find((candidate) => candidate.name === name)
    if (found === undefined) throw new Error(`no node ${name} (did the dialect start?)`)
    return found
  }
  return { db, events, node, stats: () => replicationOf(db).stats() }
}

const write = (db: Kysely<DB>) =>
  db
    .insertInto('person')
    .values({ id: 1, server: '' })
    .returning('server')
    .executeTakeFirstOrThrow()

async function readServers(db: Kysely<DB>, count = 6): Promise<string[]> {
  const served: string[] = []
  for (let i = 0; i < count; i++) {
    const [row] = await db.selectFrom('person').selectAll().execute()
    served.push(row?.server ?? '?')
  }
  return [...new Set(served)].sort()
}

/** The usual cluster: a primary at `lsn`, b and c caught up. */
/** Sets what `name` says, then waits until the monitor checked it twice more (once with it). */
async function checked(servers: FakeServers, name: string, state: Partial<ServerState>) {
  servers.update(name, state)
  const before = servers.checksOf(name)
  await vi.waitFor(() => expect(servers.checksOf(name)).toBeGreaterThanOrEqual(before + 2))
}

const lagEvents = (events: EventLog) =>
  events.filter(([name]) => name === 'lag').map(([, event]) => event)

function healthyServers(lsn = '0/3000000'): FakeServers {
  const servers = new FakeServers()
  servers.set('a', { inRecovery: false, lsn })
  servers.set('b', { inRecovery: true, lsn, replayAge: 30 })
  servers.set('c', { inRecovery: true, lsn, replayAge: 30 })
  return servers
}

describe('roles', () => {
  it('are discovered before the first query, not taken from the config', async () => {
    const servers = new FakeServers()
    servers.set('a', { inRecovery: true, lsn: '0/3000000' })
    servers.set('b', { inRecovery: false, lsn: '0/3000000' })
    servers.set('c', { inRecovery: true, lsn: '0/3000000' })
    const { db, events, stats } = setup(servers, { intervalMs: 60_000 })

    expect((await write(db)).server).toBe('b')
    expect(await readServers(db)).toEqual(['a', 'c'])
    expect(stats().map((node) => [node.name, node.role])).toEqual([
      ['a', 'replica'],
      ['b', 'primary'],
      ['c', 'replica'],
    ])
    expect(events.filter(([name]) => name === 'role-change').map(([, event]) => event)).toEqual([
      { node: 'a', from: 'primary', to: 'replica' },
      { node: 'b', from: 'replica', to: 'primary' },
    ])
  })

  it('follow a failover: no primary while it is down, then the promoted replica, then the old one as a replica', async () => {
    const servers = healthyServers()
    const { db, events, stats } = setup(servers)
    expect((await write(db)).server).toBe('a')

    servers.update('a', { down: true })
    await vi.waitFor(() => expect(stats()[0]?.healthy).toBe(false))
    await expect(write(db)).rejects.toThrow(NoPrimaryError)
    // The down node keeps its role; reads go on.
    expect(stats()[0]?.role).toBe('primary')
    expect(await readServers(db)).toEqual(['b', 'c'])

    servers.update('b', { inRecovery: false, lsn: '0/3000100' })
    await vi.waitFor(() => expect(stats()[1]?.role).toBe('primary'))
    expect((await write(db)).server).toBe('b')
    expect(await readServers(db)).toEqual(['c'])

    // The old primary comes back as a standby of b: a replica, with reads.
    servers.update('a', { down: false, inRecovery: true, lsn: '0/3000100' })
    await vi.waitFor(() => expect(stats()[0]).toMatchObject({ role: 'replica', healthy: true }))
    expect(await readServers(db, 10)).toEqual(['a', 'c'])
    expect((await write(db)).server).toBe('b')
    expect(events.filter(([name]) => name === 'role-change').map(([, event]) => event)).toEqual([
      { node: 'b', from: 'replica', to: 'primary' },
      { node: 'a', from: 'primary', to: 'replica' },
    ])
  })

  it('checks at once when the primary fails a query, instead of waiting for the interval', async () => {
    const servers = healthyServers()
    const { db } = setup(servers, { intervalMs: 60_000 })
    await write(db)
    expect(servers.checksOf('a')).toBe(1)
    servers.update('a', {
      queryError: Object.assign(new Error('terminating connection due to administrator command'), {
        code: '57P01',
      }),
    })
    await expect(write(db)).rejects.toThrow(/administrator command/)
    await expect(write(db)).rejects.toThrow(/administrator command/)
    await vi.waitFor(() => expect(servers.checksOf('a')).toBe(2), { timeout: 500 })
    await new Promise((resolve) => setTimeout(resolve, 150))
    // Two failures so close together make one check, not two.
    expect(servers.checksOf('a')).toBe(2)
  })
  it('checks every outageIntervalMs while no node takes writes, then slows down again', async () => {
    const servers = healthyServers()
    servers.update('a', { down: true })
    const { db, stats } = setup(servers, { intervalMs: 60_000, outageIntervalMs: 30 })
    await expect(write(db)).rejects.toThrow(NoPrimaryError)
    await vi.waitFor(() => expect(servers.checksOf('b')).toBeGreaterThanOrEqual(3), {
      timeout: 500,
    })

    servers.update('b', { inRecovery: false, lsn: '0/3000100' })
    await vi.waitFor(() => expect(stats()[1]?.role).toBe('primary'), { timeout: 500 })
    expect((await write(db)).server).toBe('b')
    const checks = servers.checksOf('b')
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(servers.checksOf('b')).toBe(checks)
  })
})

describe('split brain', () => {
  function twoPrimaries(): FakeServers {
    const servers = healthyServers()
    servers.update('b', { inRecovery: false, lsn: '0/3000100' })
    return servers
  }

  it('refuses writes by default, keeps reads going, and is reported once', async () => {
    const { db, events, stats } = setup(twoPrimaries())
    const error = await write(db).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SplitBrainError)
    expect((error as SplitBrainError).nodes).toEqual(['a', 'b'])
    expect(await readServers(db)).toEqual(['c'])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(events.filter(([name]) => name === 'split-brain')).toEqual([
      ['split-brain', { nodes: ['a', 'b'] }],
    ])
    expect(stats().map((node) => node.role)).toEqual(['primary', 'primary', 'replica'])
  })

  it("keeps the configured primary with 'prefer-configured', and gives the other no reads", async () => {
    const { db, events, stats } = setup(twoPrimaries(), { splitBrain: 'prefer-configured' })
    expect((await write(db)).server).toBe('a')
    expect(await readServers(db, 10)).toEqual(['c'])
    expect(stats()[1]).toMatchObject({ name: 'b', role: 'replica', lagging: true })
    expect(events.filter(([name]) => name === 'split-brain')).toEqual([
      ['split-brain', { nodes: ['a', 'b'] }],
    ])
  })

  it("refuses writes with 'prefer-configured' when the configured primary is not one of them", async () => {
    const servers = twoPrimaries()
    servers.update('a', { inRecovery: true })
    servers.update('c', { inRecovery: false, lsn: '0/3000200' })
    const { db } = setup(servers, { splitBrain: 'prefer-configured' })
    await expect(write(db)).rejects.toThrow(SplitBrainError)
    expect(await readServers(db)).toEqual(['a'])
  })

  it('ends when one of them turns into a standby', async () => {
    const servers = twoPrimaries()
    const { db, stats } = setup(servers)
    await expect(write(db)).rejects.toThrow(SplitBrainError)
    servers.update('a', { inRecovery: true, lsn: '0/3000100' })
    await vi.waitFor(() => expect(stats()[0]?.role).toBe('replica'))
    expect((await write(db)).server).toBe('b')
  })
})

describe('replication lag', () => {
  it('is zero for caught-up replicas, however old their last replayed commit', async () => {
    const { db, stats, node } = setup(healthyServers(), { maxReplicationLag: { seconds: 5 } })
    await readServers(db)
    expect(
      stats().map(({ lagBytes, lagSeconds, lagging }) => ({ lagBytes, lagSeconds, lagging })),
    ).toEqual([
      { lagBytes: undefined, lagSeconds: undefined, lagging: false },
      { lagBytes: 0, lagSeconds: 0, lagging: false },
      { lagBytes: 0, lagSeconds: 0, lagging: false },
    ])
    expect(node('b').replayed).toBe(parseLsn('0/3000000'))
  })

  it('is measured from what a replica replayed, and excludes it beyond the bound until it catches up', async () => {
    const servers = healthyServers()
    const { db, events, stats, node } = setup(servers, { maxReplicationLag: { bytes: 1000 } })
    await readServers(db)

    // b stops replaying while the primary writes 4 KiB.
    servers.update('a', { lsn: '0/3001000' })
    servers.update('b', { lsn: '0/3000800', replayAge: 0.5 })
    await vi.waitFor(() => expect(stats()[1]).toMatchObject({ lagBytes: 2048, lagging: true }))
    expect(stats()[1]?.lagSeconds).toBeGreaterThan(0)
    expect(stats()[1]?.lagSeconds).toBeLessThanOrEqual(0.5)
    expect(node('b').replayed).toBe(parseLsn('0/3000800'))
    // c has not replayed the 4 KiB yet either: both are out, reads fall back to the primary.
    expect(stats()[2]).toMatchObject({ lagBytes: 4096, lagging: true })
    expect(await readServers(db, 10)).toEqual(['a'])
    servers.update('c', { lsn: '0/3001000' })
    await vi.waitFor(() => expect(stats()[2]).toMatchObject({ lagBytes: 0, lagging: false }))
    expect(await readServers(db, 10)).toEqual(['c'])

    servers.update('b', { lsn: '0/3001000' })
    await vi.waitFor(() =>
      expect(stats()[1]).toMatchObject({ lagBytes: 0, lagSeconds: 0, lagging: false }),
    )
    expect(await readServers(db, 10)).toEqual(['b', 'c'])
    expect(events.filter(([name]) => name === 'lag').map(([, event]) => event)).toEqual([
      { node: 'b', bytes: 2048, seconds: expect.any(Number), excluded: true },
      { node: 'c', bytes: 4096, seconds: expect.any(Number), excluded: true },
      { node: 'c', bytes: 0, seconds: 0, excluded: false },
      { node: 'b', bytes: 0, seconds: 0, excluded: false },
    ])
  })

  it('caps the seconds by the time since the replica was last seen caught up', async () => {
    const servers = healthyServers()
    // The last commit it replayed is an hour old: the primary was idle until now.
    servers.update('b', { replayAge: 3600 })
    const { db, stats } = setup(servers, { maxReplicationLag: { seconds: 5 } })
    await readServers(db)
    servers.update('a', { lsn: '0/3000100' })
    await vi.waitFor(() => expect(stats()[1]?.lagBytes).toBe(256))
    // Seconds since it was seen caught up (a few checks ago), however loaded the machine: not 3600.
    expect(stats()[1]?.lagSeconds).toBeLessThan(60)
    expect(stats()[1]?.lagging).toBe(false)
  })

  it('keeps a replica that hovers at the bound out until it is under 80% of it', async () => {
    const servers = healthyServers()
    const { db, events, stats } = setup(servers, {
      // Only the ratio lets it back here: it is never within the bound for a minute.
      maxReplicationLag: { bytes: 1000, resumeAfterMs: 60_000 },
    })
    await readServers(db)
    const primaryLsn = 0x3001000
    servers.update('a', { lsn: '0/3001000' })
    servers.update('c', { lsn: '0/3001000' })
    // b's lag, check after check: beyond, within, beyond, within, then under 80% of the bound.
    for (const bytes of [1100, 900, 1100, 950, 820]) {
      await checked(servers, 'b', { lsn: `0/${(primaryLsn - bytes).toString(16)}` })
      expect(stats()[1]).toMatchObject({ lagBytes: bytes, lagging: true })
      expect(await readServers(db, 4)).toEqual(['c'])
    }
    await checked(servers, 'b', { lsn: `0/${(primaryLsn - 700).toString(16)}` })
    expect(stats()[1]).toMatchObject({ lagBytes: 700, lagging: false })
    expect(await readServers(db, 6)).toEqual(['b', 'c'])
    expect(lagEvents(events)).toEqual([
      { node: 'b', bytes: 1100, seconds: expect.any(Number), excluded: true },
      { node: 'b', bytes: 700, seconds: expect.any(Number), excluded: false },
    ])
  })

  it('lets a replica that settles just under the bound back after resumeAfterMs', async () => {
    const servers = healthyServers()
    const { db, events } = setup(servers, {
      maxReplicationLag: { bytes: 1000, resumeAfterMs: 200 },
    })
    await readServers(db)
    const checksAtResume: number[] = []
    replicationOf(db).on('lag', ({ excluded }) => {
      if (!excluded) checksAtResume.push(servers.checksOf('b'))
    })
    servers.update('a', { lsn: '0/3001000' })
    servers.update('c', { lsn: '0/3001000' })
    await checked(servers, 'b', { lsn: `0/${(0x3001000 - 2000).toString(16)}` })
    const settledAt = servers.checksOf('b')
    servers.update('b', { lsn: `0/${(0x3001000 - 900).toString(16)}` })
    await vi.waitFor(() => expect(checksAtResume).toHaveLength(1), { timeout: 5000 })
    // The first check that saw it within the bound did not let it back: one later did.
    expect(checksAtResume[0]).toBeGreaterThan(settledAt + 1)
    expect(lagEvents(events)).toEqual([
      { node: 'b', bytes: 2000, seconds: expect.any(Number), excluded: true },
      { node: 'b', bytes: 900, seconds: expect.any(Number), excluded: false },
    ])
  })

  it('is measured but excludes nobody without maxReplicationLag', async () => {
    const servers = healthyServers()
    const { db, stats } = setup(servers)
    await readServers(db)
    servers.update('a', { lsn: '1/0' })
    servers.update('b', { replayAge: 120 })
    await vi.waitFor(() =>
      expect(stats()[1]?.lagBytes).toBe(Number(parseLsn('1/0') - parseLsn('0/3000000'))),
    )
    expect(stats()[1]?.lagging).toBe(false)
    expect(await readServers(db, 10)).toEqual(['b', 'c'])
  })
})

describe('nodes that do not answer', () => {
  it('marks down a node that answers after the timeout, without holding up the others', async () => {
    const servers = healthyServers()
    let answer = () => {}
    servers.update('c', { answerWhen: new Promise<void>((resolve) => (answer = resolve)) })
    servers.update('b', { inRecovery: false, lsn: '0/3000100' })
    servers.update('a', { inRecovery: true, lsn: '0/3000100' })
    const { db, events, stats } = setup(servers, { timeoutMs: 50, intervalMs: 60_000 })
    // c has not answered (it cannot until told): the check went on without it.
    expect((await write(db)).server).toBe('b')
    expect(servers.checksOf('c')).toBe(1)
    expect(stats()[2]?.healthy).toBe(false)
    answer()
    expect(events).toContainEqual([
      'node-down',
      { node: 'c', error: expect.stringMatching(/"c" did not answer/) },
    ])
  })

  it('leaves a node as it was when its check fails with an SQL error, and says so', async () => {
    const servers = healthyServers()
    servers.update('c', {
      checkError: Object.assign(
        new Error('permission denied for function pg_last_wal_replay_lsn'),
        { code: '42501' },
      ),
    })
    const errors: Array<[string, string]> = []
    const { db, stats } = setup(servers, {
      onError: (error, node) => errors.push([node, (error as Error).message]),
    })
    await readServers(db)
    expect(stats()[2]).toMatchObject({ role: 'replica', healthy: true, lagBytes: undefined })
    expect(errors[0]).toEqual(['c', 'permission denied for function pg_last_wal_replay_lsn'])
  })
})

describe('lifecycle', () => {
  it('stops checking on destroy and gives every connection back', async () => {
    const servers = healthyServers()
    servers.update('c', { slowMs: 60 })
    const { db } = setup(servers)
    await readServers(db)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await db.destroy()
    destroy = undefined
    const checks = servers.checksOf('a')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(servers.checksOf('a')).toBe(checks)
    expect([...servers.outstanding.values()].every((count) => count === 0)).toBe(true)
  })
})

describe('options', () => {
  it.each<[unknown, RegExp]>([
    [{ intervalMs: 0 }, /intervalMs must be a positive number of milliseconds, got 0/],
    [{ timeoutMs: Number.NaN }, /timeoutMs must be a positive number/],
    [{ outageIntervalMs: -5 }, /outageIntervalMs must be a positive number/],
    [{ maxReplicationLag: {} }, /maxReplicationLag needs bytes, seconds or both/],
    [
      { maxReplicationLag: { bytes: -1 } },
      /maxReplicationLag.bytes must be a number of bytes >= 0/,
    ],
    [
      { maxReplicationLag: { secs: 5 } },
      /maxReplicationLag has no option 'secs'; did you mean 'seconds'\? The options are: bytes, seconds, resumeRatio, resumeAfterMs\./,
    ],
    ...[0, 1.5, -0.2, Number.NaN, '0.8'].map((resumeRatio): [unknown, RegExp] => [
      { maxReplicationLag: { bytes: 1, resumeRatio } },
      /maxReplicationLag.resumeRatio must be a number in \(0, 1\], got/,
    ]),
    [
      { maxReplicationLag: { bytes: 1, resumeAfterMs: -1 } },
      /maxReplicationLag.resumeAfterMs must be a number of milliseconds >= 0, got -1/,
    ],
    [{ splitBrain: 'first-wins' }, /splitBrain must be 'refuse-writes' or 'prefer-configured'/],
    [
      { interval: 1000 },
      /postgresTopology\(\) has no option 'interval'; did you mean 'intervalMs'\? The options are: intervalMs, outageIntervalMs/,
    ],
    [{ onError: 'log' }, /onError must be a function/],
    ['fast', /takes an options object/],
  ])('rejects %j', (options, message) => {
    expect(() => postgresTopology(options as PostgresTopologyOptions)).toThrow(InvalidConfigError)
    expect(() => postgresTopology(options as PostgresTopologyOptions)).toThrow(message)
  })
})

describe('parseLsn', () => {
  it('reads the two hex halves of a WAL position', () => {
    expect(parseLsn('0/0')).toBe(0n)
    expect(parseLsn('0/174CF00')).toBe(0x174cf00n)
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n)
    expect(() => parseLsn('16B374D848')).toThrow(TypeError)
  })
})

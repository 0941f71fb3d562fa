import { CompiledQuery, type DatabaseConnection, type Kysely } from 'kysely'
import {
  type ConsistencyEvent,
  type PositionSource,
  type ReadYourWritesConfig,
  type ReplayedPosition,
  replicationOf,
  StaleReadError,
} from 'kysely-replicas'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRecordedDatabase, type Database } from '../support/database.js'
import type { Journal } from '../support/recording-dialect.js'

/**
 * Positions kept in memory: the primary is at `primary`, each replica at its `replayed` entry.
 * Every question is a statement on the node's connection, so the journal tells who was asked.
 */
class MemoryPositions implements PositionSource {
  primary = 0n
  readonly replayed = new Map<string, bigint>()
  cluster = 'cluster-a'
  /** Set once the database (which makes the journal) exists. */
  journal: Journal | undefined
  /** While set, replay checks wait for it once asked. */
  gate: Promise<void> | undefined
  /** Errors that replay checks fail with, by node. */
  readonly replayErrors = new Map<string, Error>()

  async primaryPosition(connection: DatabaseConnection): Promise<bigint> {
    await this.ask(connection, 'primary position')
    return this.primary
  }

  // Each node is one server: what a check learns holds for the node's other connections.
  async replayedPosition(connection: DatabaseConnection): Promise<ReplayedPosition> {
    const server = await this.ask(connection, 'replayed position')
    await this.gate
    const error = this.replayErrors.get(server)
    if (error !== undefined) {
      throw error
    }
    return { position: this.replayed.get(server) ?? 0n, server }
  }

  async clusterId(connection: DatabaseConnection): Promise<string> {
    await this.ask(connection, 'cluster id')
    return this.cluster
  }

  // The recording connection journals the statement synchronously: its entry is the last one.
  protected async ask(connection: DatabaseConnection, what: string): Promise<string> {
    const running = connection.executeQuery(CompiledQuery.raw(`-- ${what}`))
    const node = this.journal?.entries.at(-1)?.node ?? ''
    await running
    return node
  }
}

function createDatabase(
  readYourWrites: Omit<ReadYourWritesConfig, 'positions'> = {},
  replicas = 2,
) {
  const positions = new MemoryPositions()
  const { db, journal } = createRecordedDatabase(replicas, {
    // No probe during a test: a node marked down stays down.
    health: { probeIntervalMs: 60_000, maxProbeIntervalMs: 60_000 },
    readYourWrites: { ...readYourWrites, positions },
  })
  positions.journal = journal
  const events: ConsistencyEvent[] = []
  replicationOf(db).on('consistency', (event) => events.push(event))
  return { db, journal, positions, events }
}

/** Reads `person` and says which node served it. */
async function readNode(db: Kysely<Database>, journal: Journal): Promise<string | undefined> {
  await db.selectFrom('person').selectAll().execute()
  return journal.nodesFor('select * from "person"').at(-1)
}

async function write(db: Kysely<Database>, positions: MemoryPositions, at: bigint): Promise<void> {
  positions.primary = at
  await db
    .insertInto('person')
    .values({ id: Number(at), name: 'a' })
    .execute()
}

describe('read-your-writes by position', () => {
  let database: ReturnType<typeof createDatabase>
  beforeEach(() => {
    database = createDatabase({ maxWaitMs: 30 })
    database.positions.replayed.set('replica-0', 50n)
    database.positions.replayed.set('replica-1', 100n)
  })
  afterEach(() => {
    expect(database.journal.allReleased).toBe(true)
  })

  it('costs a scope that wrote nothing no question to any node', async () => {
    const { db, journal } = database
    const nodes = await replicationOf(db).runInScope(async () => [
      await readNode(db, journal),
      await readNode(db, journal),
      await readNode(db, journal),
      await readNode(db, journal),
    ])
    expect(new Set(nodes)).toEqual(new Set(['replica-0', 'replica-1']))
    expect(journal.entries.filter((entry) => entry.sql.startsWith('--'))).toEqual([])
  })

  it('reads the position after a write on its primary connection', async () => {
    const { db, journal, positions } = database
    await replicationOf(db).runInScope(() => write(db, positions, 100n))
    expect(journal.entries).toEqual([
      {
        node: 'primary',
        connection: 1,
        sql: 'insert into "person" ("id", "name") values ($1, $2)',
      },
      { node: 'primary', connection: 1, sql: '-- primary position' },
      { node: 'primary', connection: 1, sql: '-- cluster id' },
    ])
  })

  it("sends a scope's reads to a replica that has replayed its last write", async () => {
    const { db, journal, positions } = database
    const nodes = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      return [await readNode(db, journal), await readNode(db, journal), await readNode(db, journal)]
    })
    expect(nodes).toEqual(['replica-1', 'replica-1', 'replica-1'])
  })

  it('retries a failed read only on a replica known to have the write, else on the primary', async () => {
    const { db, journal, positions } = database
    const node = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      // A first read learns that replica-1 has the write; then replica-1's queries fail.
      await readNode(db, journal)
      journal.queryErrors.set(
        'replica-1',
        Object.assign(new Error('terminating connection due to administrator command'), {
          code: '57P01',
        }),
      )
      return readNode(db, journal)
    })
    // replica-0 is up but behind (50 < 100): the retry goes to the primary, never stale.
    expect(node).toBe('primary')
    expect(journal.nodesFor('select * from "person"')).toEqual([
      'replica-1',
      'replica-1',
      'primary',
    ])
    await db.destroy()
  })

  it('asks a replica once, then trusts what it said for older positions', async () => {
    const { db, journal, positions } = database
    await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      await readNode(db, journal)
      await readNode(db, journal)
    })
    expect(journal.nodesFor('-- replayed position')).toEqual(['replica-0', 'replica-1'])
  })

  it('leaves the reads of other scopes on any replica', async () => {
    const { db, journal, positions } = database
    const replication = replicationOf(db)
    await replication.runInScope(() => write(db, positions, 100n))
    positions.primary = 500n
    await replication.runInScope(() => write(db, positions, 500n))
    const nodes = await replication.runInScope(async () => [
      await readNode(db, journal),
      await readNode(db, journal),
      await readNode(db, journal),
      await readNode(db, journal),
    ])
    expect(new Set(nodes)).toEqual(new Set(['replica-0', 'replica-1']))
  })

  it('waits for a replica to catch up, up to maxWaitMs', async () => {
    const { db, journal, positions } = createDatabase({ maxWaitMs: 2000 })
    positions.replayed.set('replica-0', 0n)
    positions.replayed.set('replica-1', 0n)
    const node = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      setTimeout(() => positions.replayed.set('replica-0', 120n), 30)
      return readNode(db, journal)
    })
    expect(node).toBe('replica-0')
  })

  it('reads on the primary when no replica caught up in time, and says so', async () => {
    const { db, journal, positions, events } = database
    const started = performance.now()
    const node = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 200n)
      return readNode(db, journal)
    })
    expect(node).toBe('primary')
    expect(performance.now() - started).toBeGreaterThanOrEqual(29)
    expect(events).toEqual([{ kind: 'read-on-primary', detail: expect.stringContaining('c8') }])
  })

  it("throws StaleReadError instead with onTimeout: 'error'", async () => {
    const { db, journal, positions } = createDatabase({ maxWaitMs: 10, onTimeout: 'error' })
    await replicationOf(db).runInScope(async () => {
      await write(db, positions, 200n)
      await expect(readNode(db, journal)).rejects.toThrow(StaleReadError)
    })
    expect(journal.allReleased).toBe(true)
  })

  it('records a transaction at its commit, and a rolled back one that wrote at its rollback', async () => {
    const { db, journal, positions } = database
    positions.primary = 100n
    await replicationOf(db).runInScope(async () => {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('person').values({ id: 1, name: 'a' }).execute()
      })
      expect(journal.entries.map((entry) => entry.sql).slice(-4)).toEqual([
        'insert into "person" ("id", "name") values ($1, $2)',
        'commit',
        '-- primary position',
        '-- cluster id',
      ])
      expect(await readNode(db, journal)).toBe('replica-1')
    })
    journal.clear()
    await replicationOf(db).runInScope(async () => {
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('person').values({ id: 1, name: 'a' }).execute()
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      // What the failed transaction saw (a duplicate key, say) must not be unseen by later reads.
      expect(journal.entries.map((entry) => entry.sql).slice(-2)).toEqual([
        'rollback',
        '-- primary position',
      ])
      expect(replicationOf(db).token()).toMatch(/^ryw1\.cluster-a\.64\./)
    })
  })

  it('records a write of a connection() block right after the statement', async () => {
    const { db, journal, positions } = database
    positions.primary = 100n
    const node = await replicationOf(db).runInScope(async () => {
      await db.connection().execute(async (connection) => {
        await connection.insertInto('person').values({ id: 1, name: 'a' }).execute()
        expect(journal.nodesFor('-- primary position')).toEqual(['primary'])
        await connection.selectFrom('person').selectAll().execute()
      })
      return readNode(db, journal)
    })
    expect(journal.nodesFor('-- primary position')).toEqual(['primary'])
    expect(node).toBe('replica-1')
  })

  it('keeps the reads of the window on the primary when the position cannot be read', async () => {
    const { db, journal, positions } = createDatabase({ windowMs: 60_000 })
    positions.primaryPosition = async () => {
      throw new Error('no position')
    }
    const nodes = await replicationOf(db).runInScope(async () => {
      await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
      return [await readNode(db, journal), await readNode(db, journal)]
    })
    expect(nodes).toEqual(['primary', 'primary'])
  })

  it('uses the instance as the scope of code outside runInScope()', async () => {
    const { db, journal, positions } = database
    await write(db, positions, 100n)
    expect([await readNode(db, journal), await readNode(db, journal)]).toEqual([
      'replica-1',
      'replica-1',
    ])
    const inFreshScope = await replicationOf(db).runInScope(async () => [
      await readNode(db, journal),
      await readNode(db, journal),
    ])
    expect(new Set(inFreshScope)).toEqual(new Set(['replica-0', 'replica-1']))
  })

  it('does not let a scope see what a nested scope wrote', async () => {
    const { db, journal, positions } = database
    const replication = replicationOf(db)
    await replication.runInScope(async () => {
      await replication.runInScope(() => write(db, positions, 100n))
      expect(replication.token()).toBe('ryw1.cluster-a..')
      expect(new Set([await readNode(db, journal), await readNode(db, journal)])).toEqual(
        new Set(['replica-0', 'replica-1']),
      )
    })
  })

  it('carries a scope to another instance with its token', async () => {
    const { db, positions } = database
    const token = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      return replicationOf(db).token()
    })
    expect(token).toMatch(/^ryw1\.cluster-a\.64\.[0-9a-z]+$/)

    const other = createDatabase({ maxWaitMs: 30 })
    other.positions.replayed.set('replica-0', 100n)
    other.positions.replayed.set('replica-1', 99n)
    const nodes = await replicationOf(other.db).runInScope(
      async () => [
        await readNode(other.db, other.journal),
        await readNode(other.db, other.journal),
      ],
      token,
    )
    expect(nodes).toEqual(['replica-0', 'replica-0'])
    expect(other.events).toEqual([])
    // The receiving instance asked its own primary which cluster it serves, once.
    expect(other.journal.nodesFor('-- cluster id')).toEqual(['primary'])
  })

  it('gives no position in the token when the last write has none: its reads stay on the primary', async () => {
    const { db, journal, positions } = createDatabase({ windowMs: 60_000 })
    const token = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 0x300n)
      positions.primaryPosition = async () => {
        throw new Error('no position')
      }
      await db.insertInto('person').values({ id: 2, name: 'b' }).execute()
      return replicationOf(db).token()
    })
    // An older position would send the next request's reads to a replica without the last write.
    expect(token).toMatch(/^ryw1\.cluster-a\.\./)
    positions.replayed.set('replica-0', 0x300n).set('replica-1', 0x300n)
    const node = await replicationOf(db).runInScope(() => readNode(db, journal), token)
    expect(node).toBe('primary')
  })

  it("gives a scope's token the highest position it wrote", async () => {
    const { db, positions } = database
    const token = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 0x300n)
      await write(db, positions, 0x500n)
      return replicationOf(db).token()
    })
    expect(token).toMatch(/^ryw1\.cluster-a\.500\./)
  })
})

describe('read-your-writes by position: waiting, sharing and failing checks', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('lets concurrent reads of one replica share one replay check', async () => {
    const { db, journal, positions } = createDatabase({ maxWaitMs: 60_000 }, 1)
    positions.replayed.set('replica-0', 100n)
    const read = () => db.selectFrom('person').selectAll().execute()
    await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      // Two reads at once: each of the two connections learns which server it reaches.
      await Promise.all([read(), read()])
      await write(db, positions, 200n)
      positions.replayed.set('replica-0', 200n)
      const checksBefore = journal.nodesFor('-- replayed position').length
      let open = () => {}
      positions.gate = new Promise<void>((resolve) => (open = resolve))
      const reads = Promise.all([read(), read()])
      // Both reads hold their connection: the second has joined the first one's check.
      await vi.waitFor(() => expect(journal.outstanding.get('replica-0')).toBe(2))
      await new Promise((resolve) => setImmediate(resolve))
      open()
      await reads
      expect(journal.nodesFor('-- replayed position').length - checksBefore).toBe(1)
    })
    expect(journal.nodesFor('select * from "person"')).toEqual(new Array(4).fill('replica-0'))
  })

  it('reads on the primary at once when no replica is up', async () => {
    const { db, journal, positions } = createDatabase({ maxWaitMs: 60_000 })
    journal.down.add('replica-0').add('replica-1')
    // A read finds both down (and falls back to the primary).
    expect(await readNode(db, journal)).toBe('primary')
    const node = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      return readNode(db, journal)
    })
    expect(node).toBe('primary')
    expect(journal.nodesFor('-- replayed position')).toEqual([])
  })

  it('asks every replica again every 5 ms, and gives up at maxWaitMs exactly', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const { db, journal, positions } = createDatabase({ maxWaitMs: 7 })
    let node: string | undefined
    const reading = replicationOf(db).runInScope(async () => {
      await write(db, positions, 200n)
      node = await readNode(db, journal)
    })
    const checksAfter = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms)
      return journal.nodesFor('-- replayed position').length
    }
    // Rounds at 0, 5 and 7 ms, both replicas each time.
    expect(await checksAfter(0)).toBe(2)
    expect(await checksAfter(4)).toBe(2)
    expect(await checksAfter(1)).toBe(4)
    expect([await checksAfter(1), node]).toEqual([4, undefined])
    expect([await checksAfter(1), node]).toEqual([6, 'primary'])
    await reading
  })

  it.each([
    ['a connection error marks it down', new Error('Connection terminated unexpectedly'), false],
    [
      'an SQL error leaves it up',
      Object.assign(new Error('function pg_last_wal_replay_lsn() does not exist'), {
        code: '42883',
      }),
      true,
    ],
  ])(
    'skips a replica whose replay check fails, and gives its connection back: %s',
    async (_, error, healthy) => {
      const { db, journal, positions } = createDatabase({ maxWaitMs: 20 })
      positions.replayed.set('replica-0', 100n)
      positions.replayed.set('replica-1', 100n)
      positions.replayErrors.set('replica-0', error)
      const nodes = await replicationOf(db).runInScope(async () => {
        await write(db, positions, 100n)
        return [await readNode(db, journal), await readNode(db, journal)]
      })
      expect(nodes).toEqual(['replica-1', 'replica-1'])
      expect(
        replicationOf(db)
          .stats()
          .find((node) => node.name === 'replica-0')?.healthy,
      ).toBe(healthy)
      expect(journal.allReleased).toBe(true)
    },
  )
})

/** {@link MemoryPositions} that can wait on the server: a wait answers once the replica is there. */
class WaitingPositions extends MemoryPositions {
  readonly #waiters = new Set<() => void>()

  async waitForReplay(
    connection: DatabaseConnection,
    position: bigint,
    timeoutMs: number,
  ): Promise<ReplayedPosition> {
    const server = await this.ask(connection, 'wait for replay')
    const error = this.replayErrors.get(server)
    if (error !== undefined) {
      throw error
    }
    const reached = () => (this.replayed.get(server) ?? 0n) >= position
    if (!reached()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs)
        const waiter = () => reached() && done()
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#waiters.add(waiter)
      })
    }
    return { position: this.replayed.get(server) ?? 0n, server }
  }

  /** Moves a replica on, answering the waits it now satisfies. */
  replay(server: string, position: bigint): void {
    this.replayed.set(server, position)
    for (const waiter of this.#waiters) {
      waiter()
    }
  }
}

describe('read-your-writes by position, with a source that waits on the server', () => {
  function createWaitingDatabase(maxWaitMs: number, replicas = 2) {
    const positions = new WaitingPositions()
    const { db, journal } = createRecordedDatabase(replicas, {
      health: { probeIntervalMs: 60_000, maxProbeIntervalMs: 60_000 },
      readYourWrites: { maxWaitMs, positions },
    })
    positions.journal = journal
    const events: ConsistencyEvent[] = []
    replicationOf(db).on('consistency', (event) => events.push(event))
    return { db, journal, positions, events }
  }
  const questions = (journal: Journal) =>
    journal.entries.filter(({ sql, node }) => sql.startsWith('-- ') && node !== 'primary')

  it('costs a gated read one statement, a wait on the replica that then runs the read', async () => {
    const { db, journal, positions } = createWaitingDatabase(60_000, 1)
    positions.replayed.set('replica-0', 50n)
    await replicationOf(db).runInScope(async () => {
      // The first gated read asks the replica, not known yet, where it is.
      await write(db, positions, 40n)
      await readNode(db, journal)
      expect(questions(journal).map(({ sql }) => sql)).toEqual(['-- replayed position'])
      await write(db, positions, 100n)
      const before = journal.entries.length
      const reading = readNode(db, journal)
      await vi.waitFor(() => expect(questions(journal)).toHaveLength(2))
      // Long after a short first wait would have given up: there is no other replica to try.
      await new Promise((resolve) => setTimeout(resolve, 60))
      positions.replay('replica-0', 100n)
      expect(await reading).toBe('replica-0')
      expect(journal.entries.slice(before).map(({ sql }) => sql)).toEqual([
        '-- wait for replay',
        'select * from "person"',
      ])
    })
    expect(journal.allReleased).toBe(true)
  })

  it('passes over a replica that fell short of a first, short wait', async () => {
    // The first wait gets half of maxWaitMs: 100 ms on the stuck replica, at most once.
    const { db, journal, positions } = createWaitingDatabase(200)
    // replica-0 is stuck; replica-1 replays every write at once.
    positions.replayed.set('replica-0', 1n)
    const reads = 8
    await replicationOf(db).runInScope(async () => {
      for (let read = 0; read < reads; read++) {
        await write(db, positions, 100n + BigInt(read))
        positions.replay('replica-1', 100n + BigInt(read))
        expect(await readNode(db, journal)).toBe('replica-1')
      }
    })
    const asked = (sql: string, node?: string) =>
      questions(journal).filter((entry) => entry.sql === sql && (node ?? entry.node) === entry.node)
        .length
    // Each replica is asked where it is once; then each read waits once, on replica-1, but for
    // one read whose short first wait, on replica-0, fell short.
    expect(asked('-- replayed position', 'replica-0')).toBe(1)
    expect(asked('-- replayed position', 'replica-1')).toBe(1)
    expect(asked('-- wait for replay', 'replica-0')).toBeLessThanOrEqual(1)
    expect(asked('-- wait for replay', 'replica-1')).toBe(reads - 1)
  })

  it('keeps gated reads balanced over replicas that catch up (round-robin)', async () => {
    const { db, journal, positions } = createWaitingDatabase(60_000)
    const served: (string | undefined)[] = []
    await replicationOf(db).runInScope(async () => {
      for (let read = 0; read < 12; read++) {
        const at = 100n + BigInt(read)
        await write(db, positions, at)
        // Both replicas get the write a moment later: the read waits on whichever it is sent to.
        setTimeout(() => {
          positions.replay('replica-0', at)
          positions.replay('replica-1', at)
        }, 2)
        served.push(await readNode(db, journal))
      }
    })
    // Not all on the replica whose last answer is the freshest, nor skewed by a second pick.
    expect(served.filter((node) => node === 'replica-0')).toHaveLength(6)
    expect(served.filter((node) => node === 'replica-1')).toHaveLength(6)
  })

  it('gives up at maxWaitMs in all and reads on the primary, after a short wait and a long one', async () => {
    const { db, journal, positions, events } = createWaitingDatabase(60)
    const started = performance.now()
    const node = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      return readNode(db, journal)
    })
    expect(node).toBe('primary')
    expect(performance.now() - started).toBeGreaterThanOrEqual(55)
    expect(questions(journal).map(({ sql }) => sql)).toEqual([
      '-- replayed position',
      '-- replayed position',
      '-- wait for replay',
      '-- wait for replay',
    ])
    expect(events.map(({ kind }) => kind)).toEqual(['read-on-primary'])
  })

  it('waits on another replica when the first one fails, and marks a failed one down', async () => {
    const { db, journal, positions } = createWaitingDatabase(60_000)
    positions.replayed.set('replica-0', 100n).set('replica-1', 100n)
    positions.replayErrors
      .set('replica-0', new Error('Connection terminated unexpectedly'))
      .set('replica-1', new Error('Connection terminated unexpectedly'))
    const firstNode = await replicationOf(db).runInScope(async () => {
      await write(db, positions, 100n)
      return readNode(db, journal)
    })
    // Both failed: the read is on the primary, and both replicas are out of the rotation.
    expect(firstNode).toBe('primary')
    expect(
      questions(journal)
        .map(({ node }) => node)
        .sort(),
    ).toEqual(['replica-0', 'replica-1'])
    expect(
      replicationOf(db)
        .stats()
        .filter((node) => node.role === 'replica')
        .map((node) => node.healthy),
    ).toEqual([false, false])
    expect(journal.allReleased).toBe(true)
  })
})

import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { sql } from 'kysely'
import {
  type ConsistencyEvent,
  type PositionSource,
  postgresPositions,
  replicationOf,
} from 'kysely-replicas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createReplicatedDatabase, serverPort } from './support/replicated-database.js'

// Pauses and delays replay, so it runs on a cluster of its own: replica1 is paused for the whole
// file (it never sees a row written by a test), replica2 applies every commit 50 ms late (it sees
// a row a little after the write, within read-your-writes' default wait of 100 ms).
const REPLICA2_DELAY_MS = 50
const table = 'ryw_note'
const TOKEN_SECRET = 'read-your-writes-integration-secret'

type ReadYourWritesOption = Parameters<typeof createReplicatedDatabase>[0]
type Database = ReturnType<typeof createReplicatedDatabase>

let cluster: PgCluster
let replica1: PgClusterNode
let replica2: PgClusterNode
const opened: Database[] = []
/** A row every node had before replica1 was paused. */
let seedId: number

/** A Kysely over this file's cluster (or another one), with larger pools for concurrent scopes. */
function open(options: ReadYourWritesOption = {}, on: PgCluster = cluster): Database {
  const info = (node: PgClusterNode) => ({ name: node.name, ...node.poolConfig(), max: 20 })
  const database = createReplicatedDatabase(options, {
    primary: info(on.primary),
    replicas: on.replicas.map(info),
  })
  opened.push(database)
  return database
}

function consistencyEvents(database: Database): ConsistencyEvent[] {
  const events: ConsistencyEvent[] = []
  replicationOf(database.db).on('consistency', (event) => events.push(event))
  return events
}

const insertNote = async ({ db }: Database, name: string) =>
  (await db.insertInto(table).values({ name }).returning('id').executeTakeFirstOrThrow()).id

/** Reads a note by id with a plain query: `undefined` is a stale read. */
const readNote = ({ db }: Database, id: number) =>
  db.selectFrom(table).select(['id', serverPort]).where('id', '=', id).executeTakeFirst()

// The test's own reference, so that it runs (and fails) against a source without the method.
const waitForReplay: NonNullable<PositionSource['waitForReplay']> = (...args) => {
  const wait = postgresPositions.waitForReplay
  if (wait === undefined) throw new Error('postgresPositions cannot wait on the server')
  return wait.apply(postgresPositions, args)
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The position in a token (tokens are opaque to applications; the tests peek). */
const tokenPosition = (token: string) => token.split('.')[2] ?? ''

function parseLsn(lsn: string): bigint {
  const [high = '', low = ''] = lsn.split('/')
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

function share(count: number, total: number): string {
  return `${count}/${total} (${((100 * count) / Math.max(total, 1)).toFixed(1)}%)`
}

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  const [first, second] = cluster.replicas
  if (first === undefined || second === undefined) throw new Error('two replicas expected')
  replica1 = first
  replica2 = second
  const setup = open({ readYourWrites: false })
  await setup.db.schema
    .createTable(table)
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .execute()
  seedId = await insertNote(setup, 'seed')
  await cluster.waitForReplay()
  await cluster.pauseReplay(replica1)
  await cluster.setApplyDelay(replica2, REPLICA2_DELAY_MS)
})

afterAll(async () => {
  await Promise.allSettled(opened.map(({ db }) => db.destroy()))
  await cluster?.stop()
})

describe('read-your-writes by WAL position (the default) on a lagging cluster', () => {
  it('never reads stale in 2000 write-then-read pairs, 16 scopes at a time', async () => {
    const database = open()
    const { db, primaryPort, replicaPorts } = database
    const events = consistencyEvents(database)
    const pairs = 2000
    const concurrency = 16
    let stale = 0
    const servedBy = new Map<number, number>()
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let pair = worker; pair < pairs; pair += concurrency) {
          await replicationOf(db).runInScope(async () => {
            const id = await insertNote(database, `pair ${pair}`)
            const row = await readNote(database, id)
            if (row === undefined) {
              stale++
            } else {
              servedBy.set(row.port, (servedBy.get(row.port) ?? 0) + 1)
            }
          })
        }
      }),
    )
    const elapsed = performance.now() - started
    const onPrimary = servedBy.get(primaryPort) ?? 0
    const [onReplica1 = 0, onReplica2 = 0] = replicaPorts.map((port) => servedBy.get(port) ?? 0)
    console.info(
      `position mode, ${pairs} pairs × ${concurrency} scopes in ${(elapsed / 1000).toFixed(1)} s: ` +
        `stale ${stale}; served by replica2 (${REPLICA2_DELAY_MS} ms behind) ${share(onReplica2, pairs)}, ` +
        `replica1 (paused) ${share(onReplica1, pairs)}, primary ${share(onPrimary, pairs)}; ` +
        `read-on-primary events ${events.filter((event) => event.kind === 'read-on-primary').length}`,
    )
    expect(stale).toBe(0)
    expect(onReplica1).toBe(0)
    expect(onPrimary + onReplica2).toBe(pairs)
    // The position wait is what makes them consistent, not sending every read to the primary.
    expect(onReplica2).toBeGreaterThan(pairs / 4)
  })

  it('waits for a lagging replica on the server: one wait statement per read, once replicas are known', async () => {
    // Without a wait on the server, the read asked every replica again every few ms; then it
    // asked each replica before every wait.
    const calls = { checks: 0, waits: 0 }
    const positions: PositionSource = {
      primaryPosition: (connection) => postgresPositions.primaryPosition(connection),
      replayedPosition: (connection) => {
        calls.checks++
        return postgresPositions.replayedPosition(connection)
      },
      waitForReplay: (connection, position, timeoutMs) => {
        calls.waits++
        return waitForReplay(connection, position, timeoutMs)
      },
      clusterId: (connection) => postgresPositions.clusterId(connection),
    }
    const database = open({ readYourWrites: { positions, maxWaitMs: 10_000 } })
    // Far enough behind that no check made right after the write can find the row there.
    await cluster.setApplyDelay(replica2, 1000)
    const perRead: { checks: number; waits: number }[] = []
    try {
      for (let read = 0; read < 4; read++) {
        await replicationOf(database.db).runInScope(async () => {
          const id = await insertNote(database, `waited for ${read}`)
          const before = { ...calls }
          const row = await readNote(database, id)
          expect(row?.port).toBe(replica2.port)
          perRead.push({ checks: calls.checks - before.checks, waits: calls.waits - before.waits })
        })
      }
    } finally {
      await cluster.setApplyDelay(replica2, REPLICA2_DELAY_MS)
    }
    // The first read asks each replica where it is. A short first wait may go to the paused
    // replica1 (then passed over): never more than two waits, and one once it is passed over.
    expect(perRead[0]?.checks).toBeLessThanOrEqual(2)
    expect(perRead.slice(1).map(({ checks }) => checks)).toEqual([0, 0, 0])
    expect(Math.max(...perRead.map(({ waits }) => waits))).toBeLessThanOrEqual(2)
    expect(perRead.slice(2).map(({ waits }) => waits)).toEqual([1, 1])
  })

  it('keeps the reads of scopes that wrote nothing on the replicas while other scopes write', async () => {
    const database = open()
    const { db, replicaPorts } = database
    let writing = true
    const writers = Array.from({ length: 4 }, async (_, worker) => {
      let pairs = 0
      while (writing || pairs < 5) {
        await replicationOf(db).runInScope(async () => {
          const id = await insertNote(database, `writer ${worker}`)
          expect(await readNote(database, id)).toBeDefined()
        })
        pairs++
      }
    })
    const readerPorts: number[] = []
    await Promise.all(
      Array.from({ length: 4 }, () =>
        replicationOf(db).runInScope(async () => {
          for (let read = 0; read < 50; read++) {
            const row = await readNote(database, seedId)
            readerPorts.push(row?.port ?? -1)
          }
        }),
      ),
    )
    writing = false
    await Promise.all(writers)
    expect(readerPorts).toHaveLength(200)
    expect(readerPorts.filter((port) => !replicaPorts.includes(port))).toEqual([])
    expect(new Set(readerPorts)).toEqual(new Set(replicaPorts))
  })

  it("does not make a scope wait for another scope's write", async () => {
    // Both replicas paused: scope A's position is reachable nowhere, each of its reads waits
    // maxWaitMs and goes to the primary. Scope B, reading meanwhile, must not notice: its reads
    // start and end while A waits (a wide wait, so that a loaded machine still fits reads in it).
    const maxWaitMs = 1000
    const database = open({ readYourWrites: { maxWaitMs } })
    const { db, primaryPort, replicaPorts } = database
    await cluster.pauseReplay(replica2)
    try {
      type Read = { port: number | undefined; started: number; ended: number }
      const a: Read[] = []
      const b: Read[] = []
      let aDone = false
      const scopeA = replicationOf(db).runInScope(async () => {
        try {
          for (let pair = 0; pair < 3; pair++) {
            const id = await insertNote(database, 'scope A')
            const started = performance.now()
            const row = await readNote(database, id)
            a.push({ port: row?.port, started, ended: performance.now() })
          }
        } finally {
          aDone = true
        }
      })
      const scopeB = replicationOf(db).runInScope(async () => {
        while (!aDone) {
          const started = performance.now()
          const row = await readNote(database, seedId)
          b.push({ port: row?.port, started, ended: performance.now() })
        }
      })
      await Promise.all([scopeA, scopeB])
      console.info(
        `scope A: ${a.length} reads on the primary; scope B meanwhile: ${b.length} reads`,
      )
      expect(a.map((read) => read.port)).toEqual(Array(3).fill(primaryPort))
      // Each of A's reads waited (timers never fire early; a millisecond for rounding).
      expect(a.filter((read) => read.ended - read.started < maxWaitMs - 1)).toEqual([])
      expect(b.filter((read) => !replicaPorts.includes(read.port ?? -1))).toEqual([])
      const duringEachWait = a.map(
        (wait) =>
          b.filter((read) => read.started >= wait.started && read.ended <= wait.ended).length,
      )
      expect(duringEachWait.filter((reads) => reads === 0)).toEqual([])
    } finally {
      await cluster.resumeReplay(replica2)
    }
  })

  it('gives read-your-writes to another scope, and another Kysely instance, through a token', async () => {
    const first = open()
    const second = open() // another server, say
    let staleWithout = 0
    let staleWith = 0
    const rounds = 10
    for (let round = 0; round < rounds; round++) {
      const { id, token } = await replicationOf(first.db).runInScope(async () => ({
        id: await insertNote(first, `round ${round}`),
        token: replicationOf(first.db).token(),
      }))
      // Right after the write, no replica has the row (replica1 is paused, replica2 50 ms late).
      const withoutToken = await replicationOf(second.db).runInScope(() => readNote(second, id))
      const withToken = await replicationOf(second.db).runInScope(() => readNote(second, id), token)
      const sameInstance = await replicationOf(first.db).runInScope(
        () => readNote(first, id),
        token,
      )
      expect(sameInstance?.id).toBe(id)
      if (withToken === undefined) staleWith++
      if (withoutToken === undefined) staleWithout++
    }
    console.info(
      `token across instances: stale reads with the token ${staleWith}/${rounds}, without it ${staleWithout}/${rounds}`,
    )
    expect(staleWith).toBe(0)
    // Without the token the other instance reads from a replica, none of which has the row yet.
    expect(staleWithout).toBeGreaterThan(0)
  })
})

describe('a write whose position cannot be read', () => {
  it('gives a token that keeps the next scope on the primary, not at an older position', async () => {
    let failing = false
    const positions: PositionSource = {
      ...postgresPositions,
      primaryPosition: (connection) =>
        failing
          ? Promise.reject(new Error('position unavailable'))
          : postgresPositions.primaryPosition(connection),
      waitForReplay,
    }
    const database = open({ readYourWrites: { positions } })
    const rounds = 5
    let stale = 0
    for (let round = 0; round < rounds; round++) {
      const token = await replicationOf(database.db).runInScope(async () => {
        failing = false
        await insertNote(database, `placed ${round}`)
        // replica2 (50 ms late) has the placed write, then the next one commits.
        await pause(4 * REPLICA2_DELAY_MS)
        failing = true
        const id = await insertNote(database, `unplaced ${round}`)
        return { id, token: replicationOf(database.db).token() }
      })
      failing = false
      const row = await replicationOf(database.db).runInScope(
        () => readNote(database, token.id),
        token.token,
      )
      if (row === undefined) stale++
    }
    // Before: the token named the placed write's position, and replica2 served the read.
    expect(stale).toBe(0)
  })
})

describe('bad tokens on a real cluster', () => {
  let otherCluster: PgCluster | undefined
  let other: Database | undefined
  afterAll(async () => {
    await other?.db.destroy()
    await otherCluster?.stop()
  })

  it('are rejected (malformed, forged, from another cluster) and never break a read', async () => {
    const database = open({ readYourWrites: { tokenSecret: TOKEN_SECRET } })
    const events = consistencyEvents(database)
    const { db } = database
    const genuine = await replicationOf(db).runInScope(async () => {
      await insertNote(database, 'genuine')
      return replicationOf(db).token()
    })
    const [prefix, clusterId, position, time, mac] = genuine.split('.')
    expect(clusterId).toMatch(/^\d+$/)

    otherCluster = await PgCluster.start({ replicas: 0 })
    const elsewhere = open({ readYourWrites: { tokenSecret: TOKEN_SECRET } }, otherCluster)
    other = elsewhere
    const fromOtherCluster = await replicationOf(elsewhere.db).runInScope(async () => {
      await elsewhere.db.schema.createTable('elsewhere').addColumn('id', 'integer').execute()
      return replicationOf(elsewhere.db).token()
    })
    expect(fromOtherCluster.split('.')[1]).not.toBe(clusterId)

    const cases: Array<[string, unknown, string]> = [
      ['garbage', 'garbage', 'malformed'],
      ['not a string', 12345, 'malformed'],
      ['wrong prefix', ['ryw0', clusterId, position, time, mac].join('.'), 'malformed'],
      // With a secret the MAC is checked first: a changed part of any shape is a bad signature.
      ['bad hex', [prefix, clusterId, 'not-hex', time, mac].join('.'), 'bad-signature'],
      ['too long', `${genuine}${'0'.repeat(600)}`, 'malformed'],
      ['forged position', [prefix, clusterId, 'ffffffffff', time, mac].join('.'), 'bad-signature'],
      ['unsigned', [prefix, clusterId, position, time].join('.'), 'bad-signature'],
      ['forged cluster', [prefix, '42', position, time, mac].join('.'), 'bad-signature'],
      ['another cluster', fromOtherCluster, 'other-cluster'],
    ]
    // An empty header or cookie is no token at all: the read runs in a fresh scope, silently.
    events.length = 0
    expect((await replicationOf(db).runInScope(() => readNote(database, seedId), ''))?.id).toBe(
      seedId,
    )
    expect(events).toEqual([])
    for (const [what, token, reason] of cases) {
      events.length = 0
      const row = await replicationOf(db).runInScope(
        () => readNote(database, seedId),
        token as string,
      )
      expect({ what, id: row?.id, events }).toEqual({
        what,
        id: seedId,
        events: [{ kind: 'token-rejected', detail: reason }],
      })
    }
  })

  it('rejects a token whose cluster field was changed, without a secret', async () => {
    const database = open()
    const events = consistencyEvents(database)
    const { db } = database
    const genuine = await replicationOf(db).runInScope(async () => {
      await insertNote(database, 'genuine')
      return replicationOf(db).token()
    })
    const parts = genuine.split('.')
    parts[1] = '1234567890123456789'
    const row = await replicationOf(db).runInScope(
      () => readNote(database, seedId),
      parts.join('.'),
    )
    expect(row?.id).toBe(seedId)
    expect(events).toEqual([{ kind: 'token-rejected', detail: 'other-cluster' }])
  })

  it('clamps a token from the future to the primary’s position: one read on the primary, then none', async () => {
    const database = open()
    const events = consistencyEvents(database)
    const { db, primaryPort } = database
    const genuine = await replicationOf(db).runInScope(async () => {
      await insertNote(database, 'genuine')
      return replicationOf(db).token()
    })
    const parts = genuine.split('.')
    parts[2] = 'ffff000000000000'
    const { first, scopeToken } = await replicationOf(db).runInScope(
      async () => ({
        first: await readNote(database, seedId),
        scopeToken: replicationOf(db).token(),
      }),
      parts.join('.'),
    )
    expect(first).toEqual({ id: seedId, port: primaryPort })
    expect(events.map((event) => event.kind)).toEqual(['token-clamped', 'read-on-primary'])
    // The scope now holds the primary's position, which the replicas will reach.
    const { lsn } = await db
      .onPrimary()
      .selectNoFrom(sql<string>`pg_current_wal_lsn()::text`.as('lsn'))
      .executeTakeFirstOrThrow()
    expect(BigInt(`0x${tokenPosition(scopeToken)}`)).toBeLessThanOrEqual(parseLsn(lsn))
  })
})

describe('read-your-writes with asynchronous commits (synchronous_commit = off)', () => {
  // After an asynchronous commit the commit record may still be in the primary's WAL buffers: the
  // WAL *write* position (pg_current_wal_lsn()) can be behind it, and a replica that replayed that
  // position does not have the row. A cluster of its own, with the WAL writer flushing every 200 ms.
  let asyncCluster: PgCluster | undefined
  let database: Database | undefined
  afterAll(async () => {
    await database?.db.destroy()
    await asyncCluster?.stop()
  })

  it('never reads stale', async () => {
    asyncCluster = await PgCluster.start({
      replicas: 1,
      settings: { synchronous_commit: 'off', wal_writer_delay: 200 },
    })
    const opened = open({}, asyncCluster)
    database = opened
    const { db, primaryPort } = opened
    // Committed synchronously, so that waitForReplay() (by pg_current_wal_lsn()) covers it.
    await db.connection().execute(async (connection) => {
      await sql`set synchronous_commit = on`.execute(connection)
      await connection.schema
        .createTable(table)
        .addColumn('id', 'serial', (col) => col.primaryKey())
        .addColumn('name', 'text', (col) => col.notNull())
        .execute()
      await sql`reset synchronous_commit`.execute(connection)
    })
    await asyncCluster.waitForReplay()
    // One pair at a time: with concurrent writers, one's commit often flushes another's. Read by
    // pg_current_wal_lsn(), the position made 96 of 100 such reads stale.
    const pairs = 30
    let stale = 0
    let onPrimary = 0
    for (let pair = 0; pair < pairs; pair++) {
      await replicationOf(db).runInScope(async () => {
        const row = await readNote(opened, await insertNote(opened, `async ${pair}`))
        if (row === undefined) stale++
        else if (row.port === primaryPort) onPrimary++
      })
    }
    console.info(
      `synchronous_commit = off: stale ${stale}; served by replica1 ${share(pairs - stale - onPrimary, pairs)}, primary ${share(onPrimary, pairs)}`,
    )
    expect(stale).toBe(0)
  })
})

describe("read-your-writes, mode 'sticky', on a real cluster", () => {
  it('reads from the primary for the window after a write, then from the replicas', async () => {
    const windowMs = 500
    const database = open({ readYourWrites: { mode: 'sticky', windowMs } })
    const { db, primaryPort, replicaPorts } = database
    const result = await replicationOf(db).runInScope(async () => {
      const id = await insertNote(database, 'sticky')
      const wroteAt = performance.now()
      const during = [await readNote(database, id), await readNote(database, id)]
      const meanwhile = await replicationOf(db).runInScope(async () => [
        (await readNote(database, seedId))?.port,
        (await readNote(database, seedId))?.port,
      ])
      await pause(windowMs + 50 - (performance.now() - wroteAt))
      const after = [await readNote(database, seedId), await readNote(database, seedId)]
      return { id, during, meanwhile, after }
    })
    expect(result.during).toEqual([
      { id: result.id, port: primaryPort },
      { id: result.id, port: primaryPort },
    ])
    expect(new Set(result.meanwhile)).toEqual(new Set(replicaPorts))
    expect(new Set(result.after.map((row) => row?.port))).toEqual(new Set(replicaPorts))
  })
})

describe('readYourWrites: false (the anchor)', () => {
  it('reads stale right after a write on this cluster, which is what the tests above rule out', async () => {
    const database = open({ readYourWrites: false })
    const pairs = 200
    let stale = 0
    for (let pair = 0; pair < pairs; pair++) {
      const id = await insertNote(database, `anchor ${pair}`)
      if ((await readNote(database, id)) === undefined) stale++
    }
    console.info(`readYourWrites: false: stale reads ${share(stale, pairs)}`)
    expect(stale).toBeGreaterThan(0)
  })
})

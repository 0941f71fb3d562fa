import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import {
  CamelCasePlugin,
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely'
import { ReplicatedDialect, replicationOf, StaleReadError } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPool,
  createReplicatedDatabase,
  type Database,
  serverPort,
} from './support/replicated-database.js'
import { RoundRobinProxy } from './support/round-robin-proxy.js'

// Paths where read-your-writes went stale. This file's cluster has replica1 paused for good: a
// read it serves after a write is stale. Most databases here read from replica1 alone, so that a
// read that was not sent to the primary (or to a caught-up server) shows.
const table = 'ryw_edge'

let cluster: PgCluster
let replica1: PgClusterNode
let replica2: PgClusterNode
const opened: Array<{ db: Kysely<Database> }> = []
let proxy: RoundRobinProxy | undefined

type Options = Parameters<typeof createReplicatedDatabase>[0]

const info = (node: PgClusterNode) => ({ name: node.name, ...node.poolConfig() })

/** A Kysely whose only replica is the paused replica1. */
function openOnPaused(options: Options = {}) {
  const database = createReplicatedDatabase(
    { readYourWrites: { maxWaitMs: 50 }, ...options },
    { primary: info(cluster.primary), replicas: [info(replica1)] },
  )
  opened.push(database)
  return database
}

/** Inserts a row with a plain client, as another process would. */
async function insertElsewhere(name: string): Promise<number> {
  const client = new pg.Client(cluster.primary.poolConfig())
  await client.connect()
  try {
    const { rows } = await client.query(`insert into ${table} (name) values ($1) returning id`, [
      name,
    ])
    return rows[0].id
  } finally {
    await client.end()
  }
}

const readRow = (db: Kysely<Database>, id: number) =>
  db.selectFrom(table).select(['id', serverPort]).where('id', '=', id).executeTakeFirst()

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  const [first, second] = cluster.replicas
  if (first === undefined || second === undefined) throw new Error('two replicas expected')
  replica1 = first
  replica2 = second
  const setup = openOnPaused({ readYourWrites: false })
  await setup.db.schema
    .createTable(table)
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .execute()
  await cluster.waitForReplay()
  await cluster.pauseReplay(replica1)
})

afterAll(async () => {
  await proxy?.close()
  await Promise.allSettled(opened.map(({ db }) => db.destroy()))
  await cluster?.stop()
})

describe('a statement that failed on the primary', () => {
  it('leaves its scope at the primary’s position: the row behind a duplicate key is seen', async () => {
    const { db, primaryPort } = openOnPaused()
    const name = 'taken elsewhere'
    const id = await insertElsewhere(name)
    const row = await replicationOf(db).runInScope(async () => {
      await expect(db.insertInto(table).values({ name }).execute()).rejects.toMatchObject({
        code: '23505',
      })
      return readRow(db, id)
    })
    expect(row).toEqual({ id, port: primaryPort })
  })

  it('lets a migration re-check see a table another process created (Migrator’s pattern)', async () => {
    const { db } = openOnPaused()
    const client = new pg.Client(cluster.primary.poolConfig())
    await client.connect()
    await client.query('create table ryw_edge_migrations (name text primary key)')
    await client.end()
    const tables = await replicationOf(db).runInScope(async () => {
      await expect(
        db.schema.createTable('ryw_edge_migrations').addColumn('name', 'text').execute(),
      ).rejects.toMatchObject({ code: '42P07' })
      return db.introspection.getTables()
    })
    expect(tables.map((each) => each.name)).toContain('ryw_edge_migrations')
  })

  it('in a transaction, leaves its scope at the primary’s position after the rollback', async () => {
    const { db, primaryPort } = openOnPaused()
    const name = 'taken before a transaction'
    const id = await insertElsewhere(name)
    const row = await replicationOf(db).runInScope(async () => {
      await expect(
        db.transaction().execute((trx) => trx.insertInto(table).values({ name }).execute()),
      ).rejects.toMatchObject({ code: '23505' })
      return readRow(db, id)
    })
    expect(row).toEqual({ id, port: primaryPort })
  })
})

describe('writes that read-your-writes used to miss', () => {
  it('records a write run with stream()', async () => {
    const { db, primaryPort } = openOnPaused()
    const row = await replicationOf(db).runInScope(async () => {
      let id = 0
      for await (const inserted of db
        .insertInto(table)
        .values({ name: 'streamed' })
        .returning('id')
        .stream()) {
        id = inserted.id
      }
      return readRow(db, id)
    })
    expect(row?.port).toBe(primaryPort)
  })

  it('sees a write of a connection() block from a read through db while the block goes on', async () => {
    const { db, primaryPort } = openOnPaused()
    const seen = await replicationOf(db).runInScope(() =>
      db.connection().execute(async (connection) => {
        const { id } = await connection
          .insertInto(table)
          .values({ name: 'written in a block' })
          .returning('id')
          .executeTakeFirstOrThrow()
        // A helper that reads through the application-wide instance.
        return readRow(db, id)
      }),
    )
    expect(seen?.port).toBe(primaryPort)
  })

  it('shares one consistency state between the Kysely instances of one dialect', async () => {
    const dialect = new ReplicatedDialect({
      readYourWrites: { maxWaitMs: 50 },
      primary: new PostgresDialect({ pool: createPool(cluster.primary.poolConfig()) }),
      replicas: [new PostgresDialect({ pool: createPool(replica1.poolConfig()) })],
    })
    const db = new Kysely<Database>({ dialect })
    const camel = new Kysely<Database>({ dialect, plugins: [new CamelCasePlugin()] })
    opened.push({ db })
    const { id } = await db
      .insertInto(table)
      .values({ name: 'through one instance' })
      .returning('id')
      .executeTakeFirstOrThrow()
    const row = await camel.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst()
    expect(row).toEqual({ id })
  })
})

describe('a token from the future', () => {
  it('does not make every read throw with onTimeout: error: the read goes to the primary', async () => {
    const { db, primaryPort } = openOnPaused({
      readYourWrites: { maxWaitMs: 50, onTimeout: 'error' },
    })
    const token = await replicationOf(db).runInScope(async () => {
      await db.insertInto(table).values({ name: 'before the forged token' }).execute()
      return replicationOf(db).token()
    })
    const [version, cluster, , time] = token.split('.')
    const forged = [version, cluster, 'ffffffffff', time].join('.')
    const rows = await replicationOf(db).runInScope(
      () => db.selectFrom(table).select(serverPort).limit(1).execute(),
      forged,
    )
    expect(rows[0]?.port).toBe(primaryPort)
  })

  it('still throws StaleReadError for a position the primary has but no replica replayed', async () => {
    const { db } = openOnPaused({ readYourWrites: { maxWaitMs: 50, onTimeout: 'error' } })
    await replicationOf(db).runInScope(async () => {
      await db.insertInto(table).values({ name: 'unreplayed' }).execute()
      await expect(db.selectFrom(table).selectAll().execute()).rejects.toBeInstanceOf(
        StaleReadError,
      )
    })
  })
})

describe('reads that need not be gated or sent to the primary', () => {
  it('runs a select compiled by another Kysely instance, or copied, on a replica', async () => {
    const { db, replicaPorts } = openOnPaused()
    const cold = new Kysely<Database>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (each) => new PostgresIntrospector(each),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    })
    // Replica1 was paused before any row: a select with no table tells where it ran.
    const elsewhere = cold.selectNoFrom(serverPort).compile()
    const copy: CompiledQuery<{ port: number }> = { ...db.selectNoFrom(serverPort).compile() }
    const ports = [
      (await db.executeQuery(elsewhere)).rows[0]?.port,
      (await db.executeQuery(copy)).rows[0]?.port,
    ]
    expect(ports).toEqual([replicaPorts[0], replicaPorts[0]])
    expect(replicationOf(db).explain(elsewhere).role).toBe('replica')
  })

  it('does not count a read-only transaction or connection() block as a write', async () => {
    const { db, replicaPorts } = openOnPaused()
    await db.insertInto(table).values({ name: 'seen by every node' }).execute()
    const ports = await replicationOf(db).runInScope(async () => {
      await db.transaction().execute((trx) => trx.selectFrom(table).selectAll().execute())
      await db.connection().execute((conn) => conn.selectFrom(table).selectAll().execute())
      return (await db.selectNoFrom(serverPort).execute()).map((row) => row.port)
    })
    expect(ports).toEqual([replicaPorts[0]])
  })
})

describe('a replica entry that is a load-balanced endpoint', () => {
  it('checks the position on the connection that runs the read: 0 stale in 40', async () => {
    // One address for the paused replica1 and the live replica2, connection by connection.
    proxy = await RoundRobinProxy.start([replica1.port, replica2.port])
    const endpoint = { ...replica2.poolConfig(), name: 'reader-endpoint', port: proxy.port }
    const database = createReplicatedDatabase(
      { readYourWrites: { maxWaitMs: 200 } },
      { primary: info(cluster.primary), replicas: [{ ...endpoint, max: 4 }] },
    )
    opened.push(database)
    const { db, primaryPort, replicaPorts } = database
    let stale = 0
    const served: number[] = []
    // Concurrent scopes, so that the connection a check used is not always the next one a read gets.
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let round = 0; round < 5; round++) {
          await replicationOf(db).runInScope(async () => {
            const { id } = await db
              .insertInto(table)
              .values({ name: `through the endpoint ${worker}.${round}` })
              .returning('id')
              .executeTakeFirstOrThrow()
            const row = await readRow(db, id)
            if (row === undefined) stale++
            else served.push(row.port)
          })
        }
      }),
    )
    expect(stale).toBe(0)
    expect(served).toHaveLength(40)
    // The live server behind the endpoint serves reads (its port is replica2's, not the proxy's).
    expect(served.some((port) => port !== primaryPort)).toBe(true)
    expect(replicaPorts).toEqual([proxy.port])
  })
})

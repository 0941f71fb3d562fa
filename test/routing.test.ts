import { sql } from 'kysely'
import { ReplicaWriteError } from 'kysely-replicas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createReplicatedDatabase,
  serverPort,
  waitForReplicas,
} from './support/replicated-database.js'

const { db, primaryPort, replicaPorts } = createReplicatedDatabase({ sessionReset: 'DISCARD ALL' })
const table = 'routing_person'

beforeAll(async () => {
  await db.schema.dropTable(table).ifExists().execute()
  await db.schema
    .createTable(table)
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .execute()
  await db
    .insertInto(table)
    .values([{ name: 'ada' }, { name: 'grace' }])
    .execute()
  await waitForReplicas()
})

afterAll(async () => {
  await db.schema.dropTable(table).ifExists().execute()
  await db.destroy()
})

const port = async (query: { executeTakeFirstOrThrow(): Promise<{ port: number }> }) =>
  (await query.executeTakeFirstOrThrow()).port

describe('on a real cluster, single queries', () => {
  it('send reads to the replicas, spread round-robin', async () => {
    const ports: number[] = []
    for (let i = 0; i < 6; i++) {
      ports.push(await port(db.selectFrom(table).select(serverPort).limit(1)))
    }
    expect(new Set(ports)).toEqual(new Set(replicaPorts))
    expect(ports.slice(0, 2)).toEqual(ports.slice(2, 4))
    const { standby } = await db
      .selectNoFrom(sql<boolean>`pg_is_in_recovery()`.as('standby'))
      .executeTakeFirstOrThrow()
    expect(standby).toBe(true)
  })

  it('send writes to the primary', async () => {
    const inserted = await db
      .insertInto(table)
      .values({ name: 'edsger' })
      .returning(serverPort)
      .executeTakeFirstOrThrow()
    const updated = await db
      .updateTable(table)
      .set({ name: 'edsger w.' })
      .where('name', '=', 'edsger')
      .returning(serverPort)
      .executeTakeFirstOrThrow()
    const deleted = await db
      .deleteFrom(table)
      .where('name', '=', 'edsger w.')
      .returning(serverPort)
      .executeTakeFirstOrThrow()
    expect([inserted.port, updated.port, deleted.port]).toEqual([
      primaryPort,
      primaryPort,
      primaryPort,
    ])
  })

  it('send reads that cannot run on a hot standby to the primary, without read-only errors', async () => {
    const locked = await port(db.selectFrom(table).select(serverPort).limit(1).forUpdate())
    const shared = await port(
      db.selectFrom(table).select(serverPort).limit(1).forKeyShare().skipLocked(),
    )
    const sequence = await port(
      db.selectNoFrom([
        serverPort,
        (eb) => eb.fn('nextval', [sql.lit(`${table}_id_seq`)]).as('next'),
      ]),
    )
    const cte = await port(
      db
        .with('added', (qb) => qb.insertInto(table).values({ name: 'barbara' }).returning('id'))
        .selectFrom('added')
        .select(serverPort),
    )
    const lock = await port(
      db.selectNoFrom([serverPort, sql`pg_advisory_xact_lock(42)`.as('locked')]),
    )
    expect([locked, shared, sequence, cte, lock]).toEqual(Array(5).fill(primaryPort))
  })

  it('sends raw sql to the primary unless onReplica() says otherwise', async () => {
    const raw = await sql<{ port: number }>`select inet_server_port() as port`.execute(db)
    const onReplica = await sql<{ port: number }>`select inet_server_port() as port`.execute(
      db.onReplica(),
    )
    expect(raw.rows[0]?.port).toBe(primaryPort)
    expect(replicaPorts).toContain(onReplica.rows[0]?.port)
  })

  it('honours onPrimary() and onReplica(index)', async () => {
    expect(await port(db.onPrimary().selectFrom(table).select(serverPort).limit(1))).toBe(
      primaryPort,
    )
    for (const [index, replicaPort] of replicaPorts.entries()) {
      expect(await port(db.onReplica(index).selectFrom(table).select(serverPort).limit(1))).toBe(
        replicaPort,
      )
    }
  })

  it('streams from a replica', async () => {
    const ports: number[] = []
    for await (const row of db.selectFrom(table).select(serverPort).stream()) {
      ports.push(row.port)
    }
    expect(ports.length).toBeGreaterThan(0)
    expect(replicaPorts).toContain(ports[0])
  })
})

describe('on a real cluster, blocks', () => {
  it('keep a transaction on one primary connection', async () => {
    const seen = await db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom(table)
        .select([serverPort, sql<number>`pg_backend_pid()`.as('pid')])
        .limit(1)
        .executeTakeFirstOrThrow()
      await trx.insertInto(table).values({ name: 'in transaction' }).execute()
      const after = await trx
        .selectNoFrom([serverPort, sql<number>`pg_backend_pid()`.as('pid')])
        .executeTakeFirstOrThrow()
      return [before, after]
    })
    expect(seen[0]).toEqual(seen[1])
    expect(seen[0]?.port).toBe(primaryPort)
  })

  it('run onReplica().transaction() as a read-only snapshot on one replica', async () => {
    const rows = await db
      .onReplica()
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const first = await trx
          .selectFrom(table)
          .select([serverPort, sql<number>`pg_backend_pid()`.as('pid')])
          .limit(1)
          .executeTakeFirstOrThrow()
        const mode = await sql<{
          transaction_read_only: string
        }>`show transaction_read_only`.execute(trx)
        const second = await trx
          .selectNoFrom([serverPort, sql<number>`pg_backend_pid()`.as('pid')])
          .executeTakeFirstOrThrow()
        await expect(trx.insertInto(table).values({ name: 'no' }).execute()).rejects.toThrow(
          ReplicaWriteError,
        )
        return { first, second, mode: mode.rows[0]?.transaction_read_only }
      })
    // The refused write was never sent, so it aborted nothing and the block could commit.
    expect(rows.mode).toBe('on')
    expect(rows.first).toEqual(rows.second)
    expect(replicaPorts).toContain(rows.first.port)
  })

  it('keep a connection() block on the primary, first query a read', async () => {
    const ports = await db.connection().execute(async (conn) => {
      const read = await port(conn.selectFrom(table).select(serverPort).limit(1))
      await conn.insertInto(table).values({ name: 'in block' }).execute()
      const again = await port(conn.selectNoFrom(serverPort))
      return [read, again]
    })
    expect(ports).toEqual([primaryPort, primaryPort])
  })

  it('show session state to every query of the block and to none outside it', async () => {
    const inside = await db.connection().execute(async (conn) => {
      await sql`select set_config('app.user', 'alice', false)`.execute(conn)
      await sql`create temporary table scratch (id int)`.execute(conn)
      await sql`insert into scratch values (1)`.execute(conn)
      const setting = await sql<{
        user: string
      }>`select current_setting('app.user', true) as user`.execute(conn)
      const scratch = await sql<{ n: number }>`select count(*)::int as n from scratch`.execute(conn)
      return { user: setting.rows[0]?.user, rows: scratch.rows[0]?.n }
    })
    expect(inside).toEqual({ user: 'alice', rows: 1 })
    for (let i = 0; i < 8; i++) {
      const outside = await sql<{
        user: string | null
      }>`select current_setting('app.user', true) as user`.execute(db)
      expect(outside.rows[0]?.user ?? '').toBe('')
      const temp = await sql<{
        n: number
      }>`select count(*)::int as n from pg_tables where tablename = 'scratch'`.execute(
        db.onPrimary(),
      )
      expect(temp.rows[0]?.n).toBe(0)
    }
  })

  it('keep an onReplica() block on one replica', async () => {
    const seen = await db
      .onReplica(1)
      .connection()
      .execute(async (conn) => {
        const a = await port(conn.selectFrom(table).select(serverPort).limit(1))
        const b = await port(conn.selectNoFrom(serverPort))
        return [a, b]
      })
    expect(seen).toEqual([replicaPorts[1], replicaPorts[1]])
  })
})

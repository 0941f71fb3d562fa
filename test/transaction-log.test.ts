import { Kysely, type LogEvent, PostgresDialect, sql } from 'kysely'
import { ReplicatedDialect } from 'kysely-replicas'
import { afterAll, describe, expect, it } from 'vitest'
import { clusterNodes, createPool, type Database } from './support/replicated-database.js'

// Kysely's `log` sees every statement a plain PostgresDialect runs, transaction statements
// included; through the ReplicatedDialect it must see the same ones, with their durations and
// errors.
const table = 'transaction_log'
const opened: Array<Kysely<Database>> = []

function open(replicated: boolean) {
  const { primary, replicas } = clusterNodes()
  const events: LogEvent[] = []
  const postgres = (node: typeof primary) => new PostgresDialect({ pool: createPool(node) })
  const db = new Kysely<Database>({
    dialect: replicated
      ? new ReplicatedDialect({ primary: postgres(primary), replicas: replicas.map(postgres) })
      : postgres(primary),
    log: (event) => {
      events.push(event)
    },
  })
  opened.push(db)
  return { db, events }
}

afterAll(async () => {
  await Promise.allSettled(opened.map((db) => db.destroy()))
})

/** Transactions of every kind: settings, savepoints, a failure and its rollback. */
async function exercise(db: Kysely<Database>): Promise<void> {
  await db.schema
    .createTable(table)
    .ifNotExists()
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .execute()
  await db
    .transaction()
    .setIsolationLevel('serializable')
    .setAccessMode('read only')
    .execute((trx) => trx.selectFrom(table).selectAll().execute())
  const trx = await db.startTransaction().execute()
  await trx.insertInto(table).values({ name: 'kept' }).execute()
  const afterA = await trx.savepoint('a').execute()
  await afterA.insertInto(table).values({ name: 'undone' }).execute()
  const backToA = await afterA.rollbackToSavepoint('a').execute()
  const afterB = await backToA.savepoint('b').execute()
  await afterB.releaseSavepoint('b').execute()
  await afterB.commit().execute()
  await db
    .transaction()
    .execute(async (failing) => {
      await sql`select 1 / 0`.execute(failing)
    })
    .catch(() => {})
}

const statements = (events: readonly LogEvent[]) =>
  events.map((event) => `${event.level}: ${event.query.sql}`)

describe("Kysely's log through the ReplicatedDialect", () => {
  it('sees the same statements as with PostgresDialect, transaction statements included', async () => {
    const plain = open(false)
    await exercise(plain.db)
    const replicated = open(true)
    await exercise(replicated.db)
    expect(statements(replicated.events)).toEqual(statements(plain.events))
    expect(statements(replicated.events)).toEqual(
      expect.arrayContaining([
        'query: start transaction isolation level serializable read only',
        'query: begin',
        'query: savepoint "a"',
        'query: rollback to "a"',
        'query: release "b"',
        'query: commit',
        'error: select 1 / 0',
        'query: rollback',
      ]),
    )
    for (const event of replicated.events) {
      expect(event.queryDurationMillis).toBeGreaterThanOrEqual(0)
    }
  })
})

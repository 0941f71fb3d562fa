import { Kysely, PostgresDialect, sql } from 'kysely'
import {
  NotReplicatedError,
  onPrimary,
  onReplica,
  PinConflictError,
  ReplicaWriteError,
  UnknownReplicaError,
} from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { type Database, useRecordedDatabase } from './support/database.js'

describe('onPrimary() and onReplica()', () => {
  const { db, journal } = useRecordedDatabase()

  it('onPrimary() sends reads to the primary', async () => {
    await db.onPrimary().selectFrom('person').selectAll().execute()
    await onPrimary(db).selectFrom('person').selectAll().execute()
    expect(journal.nodesFor('select')).toEqual(['primary', 'primary'])
  })

  it('onReplica(index) sends reads to that replica', async () => {
    await db.onReplica(1).selectFrom('person').selectAll().execute()
    await db.onReplica(1).selectFrom('person').selectAll().execute()
    await onReplica(db, 0).selectFrom('person').selectAll().execute()
    expect(journal.nodesFor('select')).toEqual(['replica-1', 'replica-1', 'replica-0'])
  })

  it('onReplica() sends raw sql to a replica', async () => {
    await sql`select 1`.execute(db.onReplica())
    expect(journal.entries[0]?.node).toMatch(/^replica-/)
  })

  it('refuses a write through onReplica() before sending anything', async () => {
    await expect(
      db.onReplica().insertInto('person').values({ id: 1, name: 'a' }).execute(),
    ).rejects.toThrow(ReplicaWriteError)
    await expect(
      db.onReplica(0).selectFrom('person').selectAll().forUpdate().execute(),
    ).rejects.toThrow(/row-lock/)
    expect(journal.entries).toEqual([])
  })

  it("rejects a refused write from the connection's executeQuery(), never throws", async () => {
    const view = db.onReplica()
    // Compiled before the acquisition, as Kysely does for a single query.
    const write = view.insertInto('person').values({ id: 1, name: 'a' }).compile()
    const outcome = await view.getExecutor().provideConnection(async (connection) => {
      let pending: Promise<unknown>
      try {
        pending = connection.executeQuery(write)
      } catch {
        return 'threw'
      }
      return pending.then(
        () => 'ran',
        (error: unknown) => (error instanceof ReplicaWriteError ? 'rejected' : String(error)),
      )
    })
    expect(outcome).toBe('rejected')
    expect(journal.entries).toEqual([])
  })

  it('refuses a replica index that does not exist', () => {
    expect(() => db.onReplica(2)).toThrow(UnknownReplicaError)
    expect(() => db.onReplica(-1)).toThrow(UnknownReplicaError)
    expect(() => db.onReplica(0.5)).toThrow(/0-based integers from 0 to 1/)
  })

  it('keeps plugins and schema of the viewed instance', async () => {
    await db.withSchema('app').onPrimary().selectFrom('person').selectAll().execute()
    expect(journal.entries[0]).toMatchObject({
      node: 'primary',
      sql: 'select * from "app"."person"',
    })
  })

  it('lets the last view win', async () => {
    await db.onReplica(0).onPrimary().selectFrom('person').selectAll().execute()
    await db.onPrimary().onReplica(1).selectFrom('person').selectAll().execute()
    expect(journal.nodesFor('select')).toEqual(['primary', 'replica-1'])
  })

  it('is refused on a Kysely that does not use a ReplicatedDialect', () => {
    const plain = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: async () => ({}) as never }),
    })
    expect(() => plain.onPrimary()).toThrow(NotReplicatedError)
    expect(() => onReplica(plain)).toThrow(NotReplicatedError)
  })

  it('cannot move a query out of a transaction to another node', async () => {
    await expect(
      db.transaction().execute((trx) => trx.onReplica().selectFrom('person').selectAll().execute()),
    ).rejects.toThrow(PinConflictError)
    await db
      .transaction()
      .execute((trx) => trx.onPrimary().selectFrom('person').selectAll().execute())
    expect(journal.entries.map((entry) => entry.sql)).toEqual([
      'begin',
      'rollback',
      'begin',
      'select * from "person"',
      'commit',
    ])
  })
})

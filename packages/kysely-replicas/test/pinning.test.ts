import { sql } from 'kysely'
import { ReplicaTransactionModeError, ReplicaWriteError } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { useRecordedDatabase } from './support/database.js'
import type { JournalEntry } from './support/recording-dialect.js'

function onOneConnection(entries: readonly JournalEntry[]): boolean {
  return new Set(entries.map((entry) => `${entry.node}#${entry.connection}`)).size === 1
}

describe('transactions', () => {
  const { db, journal } = useRecordedDatabase()

  it('run on one primary connection from begin to commit', async () => {
    await db.transaction().execute(async (trx) => {
      await trx.selectFrom('person').selectAll().execute()
      await trx.insertInto('person').values({ id: 1, name: 'a' }).execute()
      await trx.selectFrom('person').selectAll().execute()
    })
    expect(journal.entries.map((entry) => entry.sql)).toEqual([
      'begin',
      'select * from "person"',
      'insert into "person" ("id", "name") values ($1, $2)',
      'select * from "person"',
      'commit',
    ])
    expect(journal.entries[0]?.node).toBe('primary')
    expect(onOneConnection(journal.entries)).toBe(true)
  })

  it('keep savepoints of a controlled transaction on the same connection', async () => {
    const trx = await db.startTransaction().setIsolationLevel('serializable').execute()
    await trx.selectFrom('person').selectAll().execute()
    const afterRead = await trx.savepoint('after_read').execute()
    await afterRead.insertInto('person').values({ id: 1, name: 'a' }).execute()
    await afterRead.rollbackToSavepoint('after_read').execute()
    await afterRead.commit().execute()
    expect(journal.entries.map((entry) => entry.sql)).toEqual([
      'begin isolation level serializable',
      'select * from "person"',
      'savepoint after_read',
      'insert into "person" ("id", "name") values ($1, $2)',
      'rollback to savepoint after_read',
      'commit',
    ])
    expect(journal.entries[0]?.node).toBe('primary')
    expect(onOneConnection(journal.entries)).toBe(true)
  })

  it('roll back on the node that began them', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('person').values({ id: 1, name: 'a' }).execute()
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(journal.entries.map((entry) => entry.sql).at(-1)).toBe('rollback')
    expect(onOneConnection(journal.entries)).toBe(true)
  })

  it('onReplica().transaction() is a read-only transaction on one replica', async () => {
    await db
      .onReplica(1)
      .transaction()
      .execute(async (trx) => {
        await trx.selectFrom('person').selectAll().execute()
        await sql`select 2`.execute(trx)
      })
    expect(journal.entries.map((entry) => [entry.node, entry.sql])).toEqual([
      ['replica-1', 'begin read only'],
      ['replica-1', 'select * from "person"'],
      ['replica-1', 'select 2'],
      ['replica-1', 'commit'],
    ])
    expect(onOneConnection(journal.entries)).toBe(true)
  })

  it('refuses a write in a replica transaction, and a read-write replica transaction', async () => {
    await expect(
      db
        .onReplica()
        .transaction()
        .execute((trx) => trx.deleteFrom('person').execute()),
    ).rejects.toThrow(ReplicaWriteError)
    expect(journal.entries.map((entry) => entry.sql)).toEqual(['begin read only', 'rollback'])
    journal.clear()
    await expect(
      db
        .onReplica()
        .transaction()
        .setAccessMode('read write')
        .execute(async () => {}),
    ).rejects.toThrow(ReplicaTransactionModeError)
    expect(journal.entries).toEqual([])
  })
})

describe('connection() blocks', () => {
  const { db, journal } = useRecordedDatabase(2, { sessionReset: 'DISCARD ALL' })

  it('run on the primary from start to end, even when the first query reads', async () => {
    await db.connection().execute(async (conn) => {
      await conn.selectFrom('person').selectAll().execute()
      await sql`set role app_user`.execute(conn)
      await conn.insertInto('person').values({ id: 1, name: 'a' }).execute()
      await conn.selectFrom('person').selectAll().execute()
    })
    expect(new Set(journal.entries.map((entry) => entry.node))).toEqual(new Set(['primary']))
    expect(onOneConnection(journal.entries)).toBe(true)
    expect(journal.entries.at(-1)?.sql).toBe('DISCARD ALL')
  })

  it('run on one replica when opened with onReplica(), and refuse writes there', async () => {
    await db
      .onReplica()
      .connection()
      .execute(async (conn) => {
        await conn.selectFrom('person').selectAll().execute()
        await conn.selectFrom('person').select('id').execute()
        await expect(conn.updateTable('person').set({ name: 'x' }).execute()).rejects.toThrow(
          ReplicaWriteError,
        )
      })
    expect(journal.entries.map((entry) => entry.sql)).toEqual([
      'select * from "person"',
      'select "id" from "person"',
      'DISCARD ALL',
    ])
    expect(journal.entries[0]?.node).toMatch(/^replica-/)
    expect(onOneConnection(journal.entries)).toBe(true)
  })

  it('keep a transaction opened inside the block on the block node', async () => {
    await db
      .onReplica(0)
      .connection()
      .execute(async (conn) => {
        await conn.selectFrom('person').selectAll().execute()
        await conn.transaction().execute((trx) => trx.selectFrom('person').selectAll().execute())
      })
    expect(journal.entries.map((entry) => entry.node)).toEqual(Array(5).fill('replica-0'))
    expect(onOneConnection(journal.entries)).toBe(true)
  })

  it('do not reset the session after single queries', async () => {
    await db.selectFrom('person').selectAll().execute()
    await db.onReplica().selectFrom('person').selectAll().execute()
    await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
    expect(journal.nodesFor('DISCARD')).toEqual([])
  })

  it('run an empty block without taking a node connection', async () => {
    await db.connection().execute(async () => {})
    expect(journal.entries).toEqual([])
  })
})

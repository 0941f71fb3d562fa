import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase, useRecordedDatabase } from './support/database.js'

describe('routing of single queries', () => {
  const { db, journal } = useRecordedDatabase()

  it('sends reads to the replicas in turn', async () => {
    for (let i = 0; i < 4; i++) {
      await db.selectFrom('person').selectAll().execute()
    }
    expect(journal.nodesFor('select')).toEqual(['replica-0', 'replica-1', 'replica-0', 'replica-1'])
  })

  it('sends writes and raw sql to the primary', async () => {
    await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
    await db.updateTable('person').set({ name: 'b' }).execute()
    await db.deleteFrom('person').execute()
    await sql`select 1`.execute(db)
    expect(journal.entries.map((entry) => entry.node)).toEqual([
      'primary',
      'primary',
      'primary',
      'primary',
    ])
  })

  it('sends reads that are not safe on a standby to the primary', async () => {
    await db.selectFrom('person').selectAll().forUpdate().execute()
    await db.selectNoFrom((eb) => eb.fn('nextval', [sql.lit('person_id_seq')]).as('id')).execute()
    expect(journal.entries.map((entry) => entry.node)).toEqual(['primary', 'primary'])
  })

  it('routes a query compiled beforehand and run with executeQuery', async () => {
    await db.executeQuery(db.selectFrom('person').selectAll().compile())
    await db.executeQuery(db.deleteFrom('person').compile())
    expect(journal.entries.map((entry) => entry.node)).toEqual(['replica-0', 'primary'])
  })

  it('routes stream() like execute() and holds the connection until the stream ends', async () => {
    const stream = db.selectFrom('person').selectAll().stream()
    for await (const _ of stream) {
      expect(journal.outstanding.get('replica-1') ?? journal.outstanding.get('replica-0')).toBe(1)
    }
    expect(journal.entries.map((entry) => entry.node)).toHaveLength(1)
    expect(journal.entries[0]?.node).toMatch(/^replica-/)
  })

  it('runs concurrent reads and writes each where it belongs', async () => {
    await Promise.all([
      db.selectFrom('person').selectAll().execute(),
      db.insertInto('person').values({ id: 2, name: 'c' }).execute(),
      db.selectFrom('person').select('id').execute(),
    ])
    expect(journal.nodesFor('insert')).toEqual(['primary'])
    expect(journal.nodesFor('select').every((node) => node.startsWith('replica-'))).toBe(true)
  })
})

describe('with no replicas', () => {
  it('sends everything to the primary', async () => {
    const { db, journal } = createRecordedDatabase(0)
    await db.selectFrom('person').selectAll().execute()
    await db.onReplica().selectFrom('person').selectAll().execute()
    await db.transaction().execute((trx) => trx.selectFrom('person').selectAll().execute())
    expect(new Set(journal.entries.map((entry) => entry.node))).toEqual(new Set(['primary']))
  })
})

import { Kysely, PostgresQueryCompiler, type QueryCompiler, sql } from 'kysely'
import { ReplicatedDialect } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase, type Database, useRecordedDatabase } from './support/database.js'
import { Journal, RecordingDialect } from './support/recording-dialect.js'

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
    journal.streamedRows.push({ id: 1 }, { id: 2 })
    const heldWhileReading: (number | undefined)[] = []
    for await (const _ of db.selectFrom('person').selectAll().stream()) {
      const [node] = journal.nodesFor('select')
      heldWhileReading.push(journal.outstanding.get(node ?? ''))
    }
    expect(journal.nodesFor('select')).toHaveLength(1)
    expect(journal.nodesFor('select')[0]).toMatch(/^replica-/)
    expect(heldWhileReading).toEqual([1, 1])
    expect(journal.allReleased).toBe(true)
  })

  it('gives the connection back when a stream is left early', async () => {
    journal.streamedRows.push({ id: 1 }, { id: 2 }, { id: 3 })
    for await (const _ of db.selectFrom('person').selectAll().stream()) {
      break
    }
    expect(journal.allReleased).toBe(true)
  })

  it('runs concurrent reads and writes each where it belongs', async () => {
    await Promise.all([
      db.selectFrom('person').selectAll().execute(),
      db.insertInto('person').values({ id: 2, name: 'c' }).execute(),
      db.selectFrom('person').select('id').execute(),
    ])
    expect(journal.nodesFor('insert')).toEqual(['primary'])
    expect(journal.nodesFor('select')).toEqual([
      expect.stringMatching(/^replica-/),
      expect.stringMatching(/^replica-/),
    ])
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

describe('routing with a query compiler of the user’s own', () => {
  // Kysely's own compilers classify selects while compiling them; any other compiler's queries
  // are walked after compiling. The verdicts are the same.
  class OwnCompilerDialect extends RecordingDialect {
    override createQueryCompiler(): QueryCompiler {
      return new (class extends PostgresQueryCompiler {})()
    }
  }
  const journal = new Journal()
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      primary: new OwnCompilerDialect('primary', journal),
      replicas: [{ name: 'replica-0', dialect: new RecordingDialect('replica-0', journal) }],
    }),
  })

  it('sends plain reads to the replica and unsafe ones to the primary', async () => {
    await db.selectFrom('person').selectAll().execute()
    await db.selectFrom('person').selectAll().forUpdate().execute()
    await db.selectNoFrom((eb) => eb.fn('nextval', [sql.lit('person_id_seq')]).as('id')).execute()
    expect(journal.entries.map((entry) => entry.node)).toEqual(['replica-0', 'primary', 'primary'])
    expect(journal.allReleased).toBe(true)
  })
})

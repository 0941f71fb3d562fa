import type { Kysely } from 'kysely'
import { replicationOf } from 'kysely-replicas'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRecordedDatabase, type Database } from '../support/database.js'
import type { Journal } from '../support/recording-dialect.js'

async function readNode(db: Kysely<Database>, journal: Journal): Promise<string | undefined> {
  await db.selectFrom('person').selectAll().execute()
  return journal.nodesFor('select * from "person"').at(-1)
}

async function readNodes(db: Kysely<Database>, journal: Journal, count = 4): Promise<string[]> {
  const nodes: string[] = []
  for (let i = 0; i < count; i++) {
    nodes.push((await readNode(db, journal)) ?? '')
  }
  return nodes
}

const insert = (db: Kysely<Database>) =>
  db.insertInto('person').values({ id: 1, name: 'a' }).execute()

describe("read-your-writes, mode 'sticky'", () => {
  let database: ReturnType<typeof createRecordedDatabase>
  beforeEach(() => {
    // Only Date is faked: the window is measured with Date.now().
    vi.useFakeTimers({ toFake: ['Date'] })
    database = createRecordedDatabase(2, { readYourWrites: { mode: 'sticky', windowMs: 1000 } })
  })
  afterEach(() => {
    vi.useRealTimers()
    expect(database.journal.allReleased).toBe(true)
  })

  it('sends the reads of a scope to the primary for the window after its write', async () => {
    const { db, journal } = database
    const nodes = await replicationOf(db).runInScope(async () => {
      await insert(db)
      const right = await readNodes(db, journal)
      vi.setSystemTime(Date.now() + 999)
      const atTheEnd = await readNodes(db, journal)
      vi.setSystemTime(Date.now() + 1)
      const after = await readNodes(db, journal)
      return { right, atTheEnd, after }
    })
    expect(nodes.right).toEqual(['primary', 'primary', 'primary', 'primary'])
    expect(nodes.atTheEnd).toEqual(['primary', 'primary', 'primary', 'primary'])
    expect(new Set(nodes.after)).toEqual(new Set(['replica-0', 'replica-1']))
  })

  it('starts the window again at every write', async () => {
    const { db, journal } = database
    const nodes = await replicationOf(db).runInScope(async () => {
      await insert(db)
      vi.setSystemTime(Date.now() + 800)
      await insert(db)
      vi.setSystemTime(Date.now() + 800)
      return readNodes(db, journal, 2)
    })
    expect(nodes).toEqual(['primary', 'primary'])
  })

  it("leaves other scopes' reads on the replicas", async () => {
    const { db, journal } = database
    const replication = replicationOf(db)
    let wrote: () => void = () => {}
    const written = new Promise<void>((resolve) => {
      wrote = resolve
    })
    let finish: () => void = () => {}
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    const writer = replication.runInScope(async () => {
      await insert(db)
      wrote()
      await finished
      return readNodes(db, journal, 2)
    })
    await written
    const reader = await replication.runInScope(() => readNodes(db, journal))
    const outside = await readNodes(db, journal)
    finish()
    expect(await writer).toEqual(['primary', 'primary'])
    expect(new Set(reader)).toEqual(new Set(['replica-0', 'replica-1']))
    expect(new Set(outside)).toEqual(new Set(['replica-0', 'replica-1']))
  })

  it('uses the instance as the scope outside runInScope()', async () => {
    const { db, journal } = database
    await insert(db)
    expect(await readNodes(db, journal, 2)).toEqual(['primary', 'primary'])
    expect(new Set(await replicationOf(db).runInScope(() => readNodes(db, journal)))).toEqual(
      new Set(['replica-0', 'replica-1']),
    )
  })

  it('counts a transaction that committed or rolled back after writing, not one that only read', async () => {
    const { db, journal } = database
    const replication = replicationOf(db)
    const afterCommit = await replication.runInScope(async () => {
      await db.transaction().execute((trx) => insert(trx))
      return readNodes(db, journal, 2)
    })
    const afterRollback = await replication.runInScope(async () => {
      await db
        .transaction()
        .execute(async (trx) => {
          await insert(trx)
          throw new Error('boom')
        })
        .catch(() => {})
      return readNodes(db, journal, 2)
    })
    const afterReadOnly = await replication.runInScope(async () => {
      await db.transaction().execute((trx) => trx.selectFrom('person').selectAll().execute())
      return readNodes(db, journal, 2)
    })
    expect(afterCommit).toEqual(['primary', 'primary'])
    expect(afterRollback).toEqual(['primary', 'primary'])
    expect(new Set(afterReadOnly)).toEqual(new Set(['replica-0', 'replica-1']))
  })

  it('carries the window to another scope with a token, and asks no node for positions', async () => {
    const { db, journal } = database
    const replication = replicationOf(db)
    const token = await replication.runInScope(async () => {
      await insert(db)
      return replication.token()
    })
    expect(token).toMatch(/^ryw1\.\.\.[0-9a-z]+$/)
    expect(await replication.runInScope(() => readNodes(db, journal, 2), token)).toEqual([
      'primary',
      'primary',
    ])
    vi.setSystemTime(Date.now() + 1000)
    expect(new Set(await replication.runInScope(() => readNodes(db, journal), token))).toEqual(
      new Set(['replica-0', 'replica-1']),
    )
    expect(journal.entries.length).toBeGreaterThan(0)
    expect(journal.entries.filter((entry) => entry.sql.includes('lsn'))).toEqual([])
  })

  it('leaves views alone: onReplica() reads from a replica right after a write', async () => {
    const { db, journal } = database
    const node = await replicationOf(db).runInScope(async () => {
      await insert(db)
      await db.onReplica(1).selectFrom('person').selectAll().execute()
      return journal.nodesFor('select * from "person"').at(-1)
    })
    expect(node).toBe('replica-1')
  })
})

describe('readYourWrites: false', () => {
  it('sends reads right after a write to the replicas', async () => {
    const { db, journal } = createRecordedDatabase(2, { readYourWrites: false })
    await insert(db)
    expect(new Set(await readNodes(db, journal))).toEqual(new Set(['replica-0', 'replica-1']))
    expect(journal.entries.map((entry) => entry.sql)).toEqual([
      'insert into "person" ("id", "name") values ($1, $2)',
      ...Array(4).fill('select * from "person"'),
    ])
  })

  it('runs scopes as plain calls and gives empty tokens, so middleware need not branch', async () => {
    const { db } = createRecordedDatabase(2, { readYourWrites: false })
    expect(replicationOf(db).token()).toBe('')
    await expect(replicationOf(db).runInScope(() => 1, 'ryw1.x.10.1')).resolves.toBe(1)
  })
})

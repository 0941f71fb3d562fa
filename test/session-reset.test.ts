import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { clusterNodes, createReplicatedDatabase } from './support/replicated-database.js'

// `sessionReset` runs when a block gives its connection back. A block that began a transaction by
// hand and threw leaves it open or aborted, where the reset itself fails.
const opened: Array<ReturnType<typeof createReplicatedDatabase>> = []

function open(max: number) {
  const { primary, replicas } = clusterNodes()
  const database = createReplicatedDatabase(
    { sessionReset: 'DISCARD ALL' },
    { primary: { ...primary, max }, replicas },
  )
  opened.push(database)
  return database
}

afterAll(async () => {
  await Promise.allSettled(opened.map(({ db }) => db.destroy()))
})

describe('sessionReset after a block that left a transaction open', () => {
  it('keeps the block’s own error and never gives an aborted connection back to the pool', async () => {
    const { db } = open(2)
    for (let round = 0; round < 10; round++) {
      await expect(
        db.connection().execute(async (connection) => {
          await sql`begin`.execute(connection)
          await sql`select 1 / 0`.execute(connection).catch(() => {})
          throw new Error(`the block's own error ${round}`)
        }),
      ).rejects.toThrow(`the block's own error ${round}`)
    }
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        sql<{ one: number }>`select 1 as one`.execute(db.onPrimary()),
      ),
    )
    expect(answers.map(({ rows }) => rows[0]?.one)).toEqual(Array(10).fill(1))
  })

  it('resets a connection left in an open transaction: no transaction and no session state after', async () => {
    const { db } = open(1)
    await expect(
      db.connection().execute(async (connection) => {
        await sql`set application_name = 'left behind'`.execute(connection)
        await sql`begin`.execute(connection)
        throw new Error('before commit')
      }),
    ).rejects.toThrow('before commit')
    // Outside a transaction, a statement's transaction starts with it; in one left open by the
    // block, it started earlier.
    const state = await db.connection().execute(
      async (connection) =>
        (
          await sql<{
            name: string
            fresh: boolean
          }>`select current_setting('application_name') as name, now() = statement_timestamp() as fresh`.execute(
            connection,
          )
        ).rows[0],
    )
    expect(state).toEqual({ name: '', fresh: true })
  })

  it('does not reset a connection Kysely discarded after its rollback failed', async () => {
    const { db } = open(1)
    const error: unknown = await db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
        const admin = new pg.Client(clusterNodes().primary)
        await admin.connect()
        await admin.query('select pg_terminate_backend($1)', [rows[0]?.pid])
        await admin.end()
        throw new Error('the session is gone')
      })
      .catch((caught: unknown) => caught)
    // Kysely reports the block's error or the failed rollback's, never our reset's.
    expect(String(error)).not.toMatch(/discarded|DISCARD/)
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db.onPrimary())
    expect(rows).toEqual([{ one: 1 }])
  })
})

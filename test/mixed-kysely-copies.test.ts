import { createRequire } from 'node:module'
import type * as KyselyModule from 'kysely'
import { type ReadYourWritesModeEvent, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import { afterAll, describe, expect, it } from 'vitest'
import {
  clusterNodes,
  createPool,
  type Database,
  serverPort,
  waitForReplicas,
} from './support/replicated-database.js'

// The dual-package hazard: an application that `require`s Kysely (its CommonJS build) next to
// this library's ESM build, which imports Kysely's ESM build, has two copies of every Kysely
// class in the process. The dialects below come from the CommonJS copy.
const commonJsKysely = createRequire(import.meta.url)('kysely') as typeof KyselyModule
const table = 'mixed_copies_note'

const { primary, replicas } = clusterNodes()
const db = new commonJsKysely.Kysely<Database>({
  dialect: new ReplicatedDialect({
    primary: new commonJsKysely.PostgresDialect({ pool: createPool(primary) }),
    replicas: replicas.map(
      (replica) => new commonJsKysely.PostgresDialect({ pool: createPool(replica) }),
    ),
    // Long enough for a replica to catch up on this busy machine: the read must not time out to
    // the primary, which is where sticky mode would send it too.
    readYourWrites: { maxWaitMs: 30_000 },
  }),
})
const modeEvents: ReadYourWritesModeEvent[] = []
replicationOf(db).on('read-your-writes-mode', (event) => modeEvents.push(event))

afterAll(async () => {
  await db.schema.dropTable(table).ifExists().execute()
  await db.destroy()
})

describe('a PostgresDialect from a second copy of Kysely', () => {
  it('is still PostgreSQL: read-your-writes waits for a replica with the write, not sticky', async () => {
    await db.schema
      .createTable(table)
      .addColumn('id', 'serial', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .execute()
    await waitForReplicas()
    const replicaPorts = replicas.map((replica) => replica.port)

    const read = await replicationOf(db).runInScope(async () => {
      const { id } = await db
        .insertInto(table)
        .values({ name: 'written' })
        .returning('id')
        .executeTakeFirstOrThrow()
      return db
        .selectFrom(table)
        .select(['name', serverPort])
        .where('id', '=', id)
        .executeTakeFirst()
    })

    // Sticky mode would have read from the primary; position mode reads a replica that has it.
    expect(read?.name).toBe('written')
    expect(replicaPorts).toContain(read?.port)
  })

  it('says which read-your-writes mode it chose and why', () => {
    const { mode, reason } = replicationOf(db).readYourWritesMode
    expect(mode).toBe('position')
    expect(reason).toContain('speaks PostgreSQL')
    expect(modeEvents).toEqual([replicationOf(db).readYourWritesMode])
  })
})

import { Kysely, type LogEvent } from 'kysely'
import { ReplicatedDialect } from 'kysely-replicas'
import { expect, it } from 'vitest'
import type { Database } from './support/database.js'
import { Journal, RecordingDialect } from './support/recording-dialect.js'

it("keeps Kysely's log option working for single queries, views and blocks", async () => {
  const journal = new Journal()
  const logged: LogEvent[] = []
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      primary: new RecordingDialect('primary', journal),
      replicas: [new RecordingDialect('replica-0', journal)],
      readYourWrites: false,
    }),
    log: (event) => {
      logged.push(event)
    },
  })
  await db.selectFrom('person').selectAll().execute()
  await db.onPrimary().selectFrom('person').select('id').execute()
  await db.transaction().execute((trx) => trx.deleteFrom('person').execute())
  journal.queryErrors.set('replica-0', new Error('boom'))
  await expect(db.selectFrom('audit').selectAll().execute()).rejects.toThrow('boom')

  expect(logged.map((event) => [event.level, event.query.sql])).toEqual([
    ['query', 'select * from "person"'],
    ['query', 'select "id" from "person"'],
    ['query', 'delete from "person"'],
    ['error', 'select * from "audit"'],
  ])
  expect(logged.every((event) => event.queryDurationMillis >= 0)).toBe(true)
  expect(journal.entries.map((entry) => entry.node)).toEqual([
    'replica-0',
    'primary',
    'primary',
    'primary',
    'primary',
    'replica-0',
  ])
})

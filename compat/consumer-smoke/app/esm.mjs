// ESM: `import` everything.
import { Kysely, PostgresDialect, sql } from 'kysely'
import { ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { createDatabase, runChecks } from './checks.cjs'

const db = createDatabase({ Kysely, PostgresDialect, ReplicatedDialect, pg })
await runChecks({ db, sql, replicationOf, label: 'esm' })

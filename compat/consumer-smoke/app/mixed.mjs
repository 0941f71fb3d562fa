// Mixed copies (the dual-package hazard): kysely-replicas' ESM build, which imports Kysely's ESM
// build, next to Kysely `require`d (its CommonJS build, where it has one): two copies of every
// Kysely class in the process.
import { createRequire } from 'node:module'
import { ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { createDatabase, runChecks } from './checks.cjs'

const { Kysely, PostgresDialect, sql } = createRequire(import.meta.url)('kysely')
const db = createDatabase({ Kysely, PostgresDialect, ReplicatedDialect, pg })
await runChecks({ db, sql, replicationOf, label: 'mixed' })

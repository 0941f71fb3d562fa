// CommonJS: `require` everything.
const { Kysely, PostgresDialect, sql } = require('kysely')
const { ReplicatedDialect, replicationOf } = require('kysely-replicas')
const pg = require('pg')
const { createDatabase, runChecks } = require('./checks.cjs')

const db = createDatabase({ Kysely, PostgresDialect, ReplicatedDialect, pg })
runChecks({ db, sql, replicationOf, label: 'cjs' }).catch((error) => {
  console.error(error)
  process.exitCode = 1
})

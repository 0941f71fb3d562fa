// TypeScript, checked with moduleResolution node16 and bundler (tsconfig.*.json), then run.
import { type Generated, Kysely, PostgresDialect, sql } from 'kysely'
import { type ReadYourWritesMode, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { runChecks } from './checks.cjs'

interface Database {
  [table: string]: { id: Generated<number>; name: string }
}

interface SmokeCluster {
  primary: pg.PoolConfig
  replicas: pg.PoolConfig[]
}

const cluster: SmokeCluster = JSON.parse(process.env.SMOKE_CLUSTER ?? '{}')
const dialect = (config: pg.PoolConfig) => new PostgresDialect({ pool: new pg.Pool(config) })
const db = new Kysely<Database>({
  dialect: new ReplicatedDialect({
    primary: dialect(cluster.primary),
    replicas: cluster.replicas.map(dialect),
    readYourWrites: { maxWaitMs: 30_000 },
  }),
})
const mode: ReadYourWritesMode['mode'] = replicationOf(db).readYourWritesMode.mode
// The module augmentation types the views on Kysely itself.
const onPrimary: Kysely<Database> = db.onPrimary()
if (!(onPrimary instanceof Kysely) || mode === undefined) {
  throw new Error('the typed API does not match what runs')
}
await runChecks({ db, sql, replicationOf, label: `typescript (${process.env.SMOKE_VARIANT})` })

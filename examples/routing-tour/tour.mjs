// kysely-replicas on a real local cluster. Run from the repository root with `pnpm demo`, which
// builds the packages first: this file imports the built output like any other application.
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { handlePoolErrors, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'

const cluster = await PgCluster.start({ replicas: 2 })
const portToNode = new Map(cluster.nodes.map((node) => [node.port, node.name]))

// Every pool gets error listeners: a server that dies makes node-postgres emit 'error', which
// would otherwise end the process.
const dialect = (node) =>
  new PostgresDialect({
    pool: handlePoolErrors(new pg.Pool({ ...node.poolConfig(), connectionTimeoutMillis: 2000 })),
  })
const db = new Kysely({
  dialect: new ReplicatedDialect({
    primary: { name: cluster.primary.name, dialect: dialect(cluster.primary) },
    replicas: cluster.replicas.map((node) => ({ name: node.name, dialect: dialect(node) })),
    sessionReset: 'DISCARD ALL',
    health: { probeIntervalMs: 100, maxProbeIntervalMs: 500 },
  }),
})
const replication = replicationOf(db)
replication.on('node-down', ({ node, error }) =>
  console.log(`  event node-down: ${node} (${error})`),
)
replication.on('node-up', ({ node, downForMs }) =>
  console.log(`  event node-up: ${node} after ${downForMs} ms`),
)

const served = sql`inet_server_port()`.as('port')
const where = (rows) => portToNode.get(rows[0]?.port) ?? '?'
const show = (label, rows) => console.log(`  ${label.padEnd(54)} -> ${where(rows)}`)

try {
  await db.schema
    .createTable('note')
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('text', 'text', (col) => col.notNull())
    .execute()
  await cluster.waitForReplay()

  console.log('Where each query goes:')
  for (let i = 0; i < 3; i++) {
    show('select (round-robin over the replicas)', await db.selectNoFrom(served).execute())
  }
  show(
    'insert ... returning',
    await db.insertInto('note').values({ text: 'a' }).returning(served).execute(),
  )
  show('select ... for update', await db.selectFrom('note').select(served).forUpdate().execute())
  show(
    "select nextval('note_id_seq')",
    await db.selectNoFrom([served, sql`nextval('note_id_seq')`.as('n')]).execute(),
  )
  show('db.onPrimary().select', await db.onPrimary().selectNoFrom(served).execute())
  show('db.onReplica(1).select', await db.onReplica(1).selectNoFrom(served).execute())
  show(
    'db.transaction(): first query a select',
    await db.transaction().execute((trx) => trx.selectNoFrom(served).execute()),
  )
  show(
    'db.onReplica().transaction(): read-only snapshot',
    await db
      .onReplica()
      .transaction()
      .execute((trx) => trx.selectNoFrom(served).execute()),
  )
  const why = replication.explain(db.selectFrom('note').selectAll().forUpdate())
  console.log(
    `  explain(select ... for update): ${why.role}, because ${why.reason} (${why.detail})`,
  )

  console.log('\nRead-your-writes: replica1 stops replaying, then a write and an immediate read.')
  await cluster.pauseReplay(cluster.replicas[0])
  await replication.runInScope(async () => {
    const { id } = await db
      .insertInto('note')
      .values({ text: 'fresh' })
      .returning('id')
      .executeTakeFirstOrThrow()
    const rows = await db.selectFrom('note').select(['text', served]).where('id', '=', id).execute()
    console.log(
      `  read right after the write: ${rows.length === 1 ? 'sees the row' : 'STALE'} on ${where(rows)}`,
    )
  })
  await cluster.resumeReplay(cluster.replicas[0])

  console.log('\nKilling replica1 while 4 loops read for 2 s:')
  let reads = 0
  let failures = 0
  let running = true
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        await db.selectNoFrom(served).execute()
        reads++
      } catch {
        failures++
      }
    }
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await cluster.kill(cluster.replicas[0])
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await cluster.start(cluster.replicas[0])
  await new Promise((resolve) => setTimeout(resolve, 700))
  running = false
  await Promise.all(loops)
  console.log(`  ${reads} reads, ${failures} failed`)

  console.log('\nPer-node stats:')
  for (const node of replication.stats()) {
    console.log(
      `  ${node.name.padEnd(9)} ${node.role.padEnd(8)} healthy=${String(node.healthy).padEnd(5)} served=${node.served} errors=${node.errors}`,
    )
  }
} finally {
  await db.destroy()
  await cluster.stop()
}
console.log('\nStopped the cluster and removed its files.')

// A failover drill. Run from the repository root after `pnpm build`:
//   pnpm --filter @kysely-replicas/example-failover-drill start
// It imports the built packages like any consumer would.
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { Kysely } from 'kysely'
import { isConnectionError, NoPrimaryError, replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect, parseLsn } from 'kysely-replicas/postgres'
import pg from 'pg'

const WRITERS = 4
const STEADY_MS = 2000
/** How long the "operator" (or a failover manager) takes to notice and promote. */
const DETECTION_MS = 1000
const AFTER_MS = 2000

const started = performance.now()
const clock = () => `${String(Math.round(performance.now() - started)).padStart(6)} ms`
const log = (message) => console.log(`${clock()}  ${message}`)
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Default, asynchronous replication: a commit is acknowledged once the primary has it.
const cluster = await PgCluster.start({ replicas: 2 })
let db
let exitCode = 0
try {
  log(
    `started a primary and 2 streaming replicas (${cluster.nodes.map((n) => `${n.name}:${n.port}`).join(', ')})`,
  )

  // One pool per node, roles discovered by the topology monitor (on by default).
  db = new Kysely({
    dialect: createPostgresReplicatedDialect({
      Pool: pg.Pool,
      nodes: cluster.nodes.map((node) => ({ name: node.name, ...node.poolConfig() })),
      poolOptions: { max: WRITERS + 2 },
      health: { probeIntervalMs: 100, maxProbeIntervalMs: 500 },
    }),
  })
  const replication = replicationOf(db)
  replication.on('role-change', ({ node, from, to }) =>
    log(`event role-change: ${node} ${from} -> ${to}`),
  )
  replication.on('node-down', ({ node }) => log(`event node-down: ${node}`))
  replication.on('split-brain', ({ nodes }) => log(`event split-brain: ${nodes.join(', ')}`))

  await db.schema
    .createTable('drill_write')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .execute()

  // Writers share one counter; every outcome is kept with its time.
  const acked = []
  const refused = []
  const inFlight = []
  const other = []
  let next = 1
  let running = true
  const writers = Array.from({ length: WRITERS }, async () => {
    while (running) {
      const id = next++
      try {
        await db.insertInto('drill_write').values({ id }).execute()
        acked.push({ id, at: performance.now() })
      } catch (error) {
        if (error instanceof NoPrimaryError) refused.push({ id, at: performance.now() })
        else if (isConnectionError(error)) inFlight.push({ id, at: performance.now(), error })
        else other.push({ id, at: performance.now(), error })
        await pause(10)
      }
    }
  })

  log(`writing with ${WRITERS} writers`)
  await pause(STEADY_MS)
  await cluster.kill('primary')
  // Once kill() resolves the server and its backends are gone: a later ack is the new primary's.
  const killedAt = performance.now()
  log(`killed the primary (SIGKILL) after ${acked.length} acknowledged writes`)
  await pause(DETECTION_MS)

  // Promote replica1, unless replica2 received more WAL: the most advanced replica has every
  // commit any replica got, and the other one can follow it (not the other way round).
  const received = await Promise.all(
    cluster.replicas.map(async (node) => {
      const [row] = await cluster.query(node, 'select pg_last_wal_receive_lsn()::text as lsn')
      return { node, lsn: parseLsn(row?.lsn ?? '0/0') }
    }),
  )
  const target = received.reduce((best, candidate) =>
    candidate.lsn > best.lsn ? candidate : best,
  ).node
  log(`promoting ${target.name}`)
  const promoteStartedAt = performance.now()
  await cluster.promote(target)
  const promotedAt = performance.now()
  log(`promote() resolved: ${target.name} is the primary, the other replica follows it`)
  await pause(AFTER_MS)
  running = false
  await Promise.all(writers)

  const stored = new Set(
    (await cluster.query(cluster.primary, 'select id from drill_write')).map((row) => row.id),
  )
  const lastBeforeKill = acked.filter((write) => write.at <= killedAt).at(-1)
  const firstAfterKill = acked.find((write) => write.at > killedAt)
  const lost = acked.filter((write) => !stored.has(write.id))
  const ms = (value) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'n/a')

  console.log('\nResults')
  console.log(`  acknowledged writes        ${acked.length}`)
  console.log(`  refused (NoPrimaryError)   ${refused.length}  (never sent: safe to retry)`)
  console.log(
    `  failed in flight           ${inFlight.length}  (connection lost mid-commit; ${inFlight.filter((write) => stored.has(write.id)).length} of them committed anyway)`,
  )
  if (other.length > 0)
    console.log(`  other errors               ${other.length}: ${other[0].error}`)
  console.log(
    `  promote() took             ${ms(promotedAt - promoteStartedAt)}  (after ${DETECTION_MS} ms of simulated detection)`,
  )
  console.log(
    `  RTO  last ack before the kill -> first ack after   ${ms(firstAfterKill?.at - lastBeforeKill?.at)}  (detection + promotion + monitor)`,
  )
  console.log(
    `  RTO  promote() called -> first ack                 ${ms(firstAfterKill?.at - promoteStartedAt)}`,
  )
  console.log(
    `  RTO  promote() resolved -> first ack               ${ms(firstAfterKill?.at - promotedAt)}${
      firstAfterKill !== undefined && firstAfterKill.at < promotedAt
        ? '  (negative: writes were back before promote() returned; it waits for the other replica to follow)'
        : ''
    }`,
  )
  console.log(
    `  RPO  acknowledged writes missing on ${target.name}: ${lost.length}${
      lost.length > 0
        ? ` (ids ${lost
            .slice(0, 10)
            .map((w) => w.id)
            .join(', ')}${lost.length > 10 ? ', …' : ''})`
        : ''
    }`,
  )
  if (other.length > 0 || firstAfterKill === undefined) exitCode = 1
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  await db?.destroy().catch(() => {})
  await cluster.stop()
  log('stopped the cluster and removed its files')
}
process.exitCode = exitCode

// A tour of @kysely-replicas/pg-cluster. Run from the repository root with `pnpm demo`, which
// builds the packages first: this file imports the built output like any other consumer.
import { PgCluster } from '@kysely-replicas/pg-cluster'
import pg from 'pg'

const started = Date.now()
const cluster = await PgCluster.start({ replicas: 2 })
console.log(
  `Started a primary and 2 replicas in ${Date.now() - started} ms (files in ${cluster.dir}).\n`,
)

// One pool per node, from the node's connection settings. A server that stops (or is killed)
// sends its idle connections an error, which a pool re-emits: without a listener, Node.js would
// end the process. pool.end() does not wait for the sockets to close, so this matters here too.
const pools = new Map(
  cluster.nodes.map((node) => {
    const pool = new pg.Pool(node.poolConfig())
    pool.on('error', () => {})
    return [node.name, pool]
  }),
)
const pool = (node) => pools.get(node.name)

try {
  console.log('Nodes:')
  for (const node of cluster.nodes) {
    const { rows } = await pool(node).query('select pg_is_in_recovery() as in_recovery')
    console.log(
      `  ${node.name.padEnd(9)} ${node.role.padEnd(8)} port ${node.port}  pg_is_in_recovery() = ${rows[0].in_recovery}`,
    )
  }

  await pool(cluster.primary).query('create table greeting (id serial primary key, text text)')
  await pool(cluster.primary).query(`insert into greeting (text) values ('hello from the primary')`)
  console.log('\nWrote a row on the primary; waiting until every replica has replayed it.')
  await cluster.waitForReplay()
  for (const replica of cluster.replicas) {
    const { rows } = await pool(replica).query('select text from greeting order by id')
    console.log(
      `  ${replica.name} reads: ${rows.map((row) => JSON.stringify(row.text)).join(', ')}`,
    )
  }

  // Make one replica fall behind, to see lag in the status.
  await cluster.pauseReplay('replica2')
  await pool(cluster.primary).query(
    `insert into greeting (text) select 'row ' || n from generate_series(1, 1000) as n`,
  )
  await cluster.waitForReplay('replica1')
  console.log('\nPaused replay on replica2 and wrote 1000 more rows. Status:')
  printStatus(await cluster.status())

  await cluster.resumeReplay('replica2')
  await cluster.waitForReplay()
  console.log('\nResumed replica2; once it has caught up:')
  printStatus(await cluster.status())
} finally {
  await Promise.all([...pools.values()].map((p) => p.end()))
  await cluster.stop()
}
console.log('\nStopped the cluster and removed its files.')

function printStatus(status) {
  for (const node of status) {
    const lag =
      node.role === 'replica'
        ? `lag ${node.lagBytes} bytes, ${node.lagSeconds?.toFixed(2) ?? '?'} s${node.replayPaused ? ' (replay paused)' : ''}`
        : `writes WAL at ${node.lsn}`
    console.log(
      `  ${node.name.padEnd(9)} ${node.role.padEnd(8)} ${node.up ? 'up' : 'down'}  ${lag}`,
    )
  }
}

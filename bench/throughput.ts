/**
 * Throughput on a real cluster: point reads, and a mix of 90% point reads and 10% point updates
 * (each update followed by a read of the same row, which must see it), with concurrent workers.
 * Variants, side by side in one run over the same pools:
 *
 * - `round-robin`: hand-written: writes on a Kysely over the primary's pool, reads on Kyselys
 *   over the replicas' pools in turn (the baseline: no routing, no read-your-writes);
 * - `ours`: `ReplicatedDialect` with its defaults, the workers outside any request: one
 *   read-your-writes scope for all of them (a script's, a job's);
 * - `ours, per request`: the same, each operation a request with its own scope (what every
 *   request of a node:http server gets by default; here through `runInScope()`);
 * - `ours, sticky, per request`: each operation a request, in sticky mode (reads of a request
 *   that wrote go to the primary; no position is read or waited for);
 * - `ours, ryw off`: `readYourWrites: false`;
 * - `kysely-replication`: its dialect with round-robin replicas;
 * - `pgpool`: Pgpool-II in front of the cluster with statement-level load balancing, when
 *   `pgpool` is installed (Debian's `pgpool2`).
 *
 * Run with `pnpm bench:throughput` from the workspace root (it builds first).
 * `BENCH_WORKERS` (16), `BENCH_ROUND_MS` (1500) and `BENCH_ROUNDS` (5) change the run.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { KyselyReplicationDialect } from 'kysely-replication'
import { RoundRobinReplicaStrategy } from 'kysely-replication/strategy/round-robin'
import pg from 'pg'
import { importBuilt } from './built-package.js'
import { positiveInteger, printTable } from './report.js'

const WORKERS = positiveInteger(process.env.BENCH_WORKERS, 16)
const ROUND_MS = positiveInteger(process.env.BENCH_ROUND_MS, 1500)
const ROUNDS = positiveInteger(process.env.BENCH_ROUNDS, 5)
const ROWS = 10_000
const POOL_MAX = 10

const { module: replicas } = await importBuilt<typeof import('kysely-replicas')>('kysely-replicas')
const { ReplicatedDialect, handlePoolErrors, replicationOf } = replicas

interface Database {
  bench_account: { id: number; balance: number }
}
type Db = Kysely<Database>

/** How a variant reaches the database: where reads and writes go. */
interface Variant {
  readonly label: string
  reader(): Db
  readonly writer: Db
  /** Runs one operation (a request: a read, or an update and the read after it). */
  readonly request?: <T>(operation: () => Promise<T>) => Promise<T>
}

const inline = <T>(operation: () => Promise<T>) => operation()

interface Sample {
  ops: number
  stale: number
  readonly latencies: number[]
}

const randomId = () => 1 + Math.floor(Math.random() * ROWS)

const readBalance = async (db: Db, id: number) =>
  (await db.selectFrom('bench_account').select('balance').where('id', '=', id).executeTakeFirst())
    ?.balance

async function pointReads(variant: Variant, until: number, sample: Sample): Promise<void> {
  const request = variant.request ?? inline
  while (performance.now() < until) {
    const started = performance.now()
    await request(() => readBalance(variant.reader(), randomId()))
    sample.latencies.push(performance.now() - started)
    sample.ops++
  }
}

// One update in ten, and the read right after it is of the row it updated: it must see it.
async function mix(variant: Variant, until: number, sample: Sample): Promise<void> {
  const request = variant.request ?? inline
  for (let op = 0; performance.now() < until; op++) {
    if (op % 10 === 0) {
      await request(() => updateThenRead(variant, sample))
      op++
    } else {
      const started = performance.now()
      await request(() => readBalance(variant.reader(), randomId()))
      sample.latencies.push(performance.now() - started)
      sample.ops++
    }
  }
}

async function updateThenRead(variant: Variant, sample: Sample): Promise<void> {
  const started = performance.now()
  const id = randomId()
  const { balance } = await variant.writer
    .updateTable('bench_account')
    .set((eb) => ({ balance: eb('balance', '+', 1) }))
    .where('id', '=', id)
    .returning('balance')
    .executeTakeFirstOrThrow()
  sample.latencies.push(performance.now() - started)
  const readStarted = performance.now()
  const seen = await readBalance(variant.reader(), id)
  if (seen === undefined || seen < balance) sample.stale++
  sample.latencies.push(performance.now() - readStarted)
  sample.ops += 2
}

const WORKLOADS = { 'point reads': pointReads, '90/10 mix': mix } as const

async function runRound(
  variant: Variant,
  workload: (variant: Variant, until: number, sample: Sample) => Promise<void>,
): Promise<Sample & { seconds: number }> {
  const sample: Sample = { ops: 0, stale: 0, latencies: [] }
  const started = performance.now()
  const until = started + ROUND_MS
  await Promise.all(Array.from({ length: WORKERS }, () => workload(variant, until, sample)))
  return { ...sample, seconds: (performance.now() - started) / 1000 }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

// ---------------------------------------------------------------------------------------------
// Pgpool-II, when installed: statement-level load balancing over the replicas.

function findPgpool(): string | undefined {
  for (const candidate of ['pgpool', '/usr/sbin/pgpool']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' })
      return candidate
    } catch {}
  }
  return undefined
}

async function startPgpool(binary: string, cluster: PgCluster) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pgpool-'))
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const nodes = [cluster.primary, ...cluster.replicas]
  const { user, password, database } = cluster.primary.poolConfig()
  const backends = nodes
    .map(
      (node, index) =>
        `backend_hostname${index} = '127.0.0.1'\nbackend_port${index} = ${node.port}\nbackend_weight${index} = ${index === 0 ? 0 : 1}\nbackend_flag${index} = 'ALLOW_TO_FAILOVER'`,
    )
    .join('\n')
  writeFileSync(
    join(dir, 'pgpool.conf'),
    `listen_addresses = '127.0.0.1'\nport = ${port}\nsocket_dir = '${dir}'\npcp_socket_dir = '${dir}'\npcp_port = ${port + 1}\n` +
      `unix_socket_directories = '${dir}'\npcp_listen_addresses = ''\npid_file_name = '${dir}/pgpool.pid'\nlogdir = '${dir}'\n` +
      `backend_clustering_mode = 'streaming_replication'\nload_balance_mode = on\nstatement_level_load_balance = on\n` +
      `sr_check_period = 0\nhealth_check_period = 0\nnum_init_children = ${WORKERS * 2}\nmax_pool = 2\n` +
      `enable_pool_hba = off\nallow_clear_text_frontend_auth = on\nsr_check_user = '${user}'\nsr_check_password = '${password}'\n${backends}\n`,
  )
  writeFileSync(join(dir, 'pcp.conf'), '')
  const child = spawn(binary, ['-n', '-f', join(dir, 'pgpool.conf'), '-F', join(dir, 'pcp.conf')], {
    stdio: 'ignore',
  })
  const config = { host: '127.0.0.1', port, user, password, database }
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client(config)
    try {
      await client.connect()
      await client.end()
      break
    } catch (error) {
      client.end().catch(() => {})
      if (attempt > 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    config,
    async stop() {
      child.kill('SIGINT')
      await new Promise((resolve) => child.once('exit', resolve))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// ---------------------------------------------------------------------------------------------

const cluster = await PgCluster.start({ replicas: 2 })
const pools: pg.Pool[] = []
const pool = (node: PgClusterNode | pg.PoolConfig) => {
  const config = 'poolConfig' in node ? node.poolConfig() : node
  const created = handlePoolErrors(new pg.Pool({ ...config, max: POOL_MAX }))
  pools.push(created)
  return created
}
let pgpool: Awaited<ReturnType<typeof startPgpool>> | undefined
try {
  const primaryPool = pool(cluster.primary)
  const replicaPools = cluster.replicas.map(pool)
  const dialect = (each: pg.Pool) => new PostgresDialect({ pool: each })
  const kysely = (dialectOf: ConstructorParameters<typeof Kysely<Database>>[0]['dialect']) =>
    new Kysely<Database>({ dialect: dialectOf })

  const setup = kysely(dialect(primaryPool))
  await setup.schema
    .createTable('bench_account')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('balance', 'bigint', (col) => col.notNull())
    .execute()
  await sql`insert into bench_account select g, 0 from generate_series(1, ${ROWS}) g`.execute(setup)
  await sql`analyze bench_account`.execute(setup)
  await cluster.waitForReplay()

  const primary = kysely(dialect(primaryPool))
  const replicaDbs = replicaPools.map((each) => kysely(dialect(each)))
  let next = 0
  const single = (db: Db, label: string): Variant => ({ label, reader: () => db, writer: db })
  const perRequest = kysely(
    new ReplicatedDialect({ primary: dialect(primaryPool), replicas: replicaPools.map(dialect) }),
  )
  const stickyPerRequest = kysely(
    new ReplicatedDialect({
      primary: dialect(primaryPool),
      replicas: replicaPools.map(dialect),
      readYourWrites: { mode: 'sticky' },
    }),
  )
  const variants: Variant[] = [
    {
      label: 'round-robin',
      reader: () => replicaDbs[next++ % replicaDbs.length] as Db,
      writer: primary,
    },
    single(
      kysely(
        new ReplicatedDialect({
          primary: dialect(primaryPool),
          replicas: replicaPools.map(dialect),
        }),
      ),
      'ours',
    ),
    {
      ...single(perRequest, 'ours, per request'),
      request: (operation) => replicationOf(perRequest).runInScope(operation),
    },
    {
      ...single(stickyPerRequest, 'ours, sticky, per request'),
      request: (operation) => replicationOf(stickyPerRequest).runInScope(operation),
    },
    single(
      kysely(
        new ReplicatedDialect({
          primary: dialect(primaryPool),
          replicas: replicaPools.map(dialect),
          readYourWrites: false,
        }),
      ),
      'ours, ryw off',
    ),
    single(
      kysely(
        new KyselyReplicationDialect({
          primaryDialect: dialect(primaryPool),
          replicaDialects: replicaPools.map(dialect) as [PostgresDialect, ...PostgresDialect[]],
          replicaStrategy: new RoundRobinReplicaStrategy({}),
        }),
      ),
      'kysely-replication',
    ),
  ]
  const binary = findPgpool()
  if (binary === undefined) {
    console.log('pgpool not found (apt-get install pgpool2): its column is left out.')
  } else {
    pgpool = await startPgpool(binary, cluster)
    variants.push(single(kysely(dialect(pool(pgpool.config))), 'pgpool'))
  }

  console.log(
    `${WORKERS} workers, pools of ${POOL_MAX}, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms per variant and workload.`,
  )
  const rows: string[][] = [
    ['workload', 'variant', 'ops/s (median)', 'vs round-robin', 'p50 ms', 'p99 ms', 'stale'],
  ]
  for (const [name, workload] of Object.entries(WORKLOADS)) {
    const results = new Map<string, Array<Sample & { seconds: number }>>()
    for (let round = 0; round < ROUNDS; round++) {
      // The order rotates so that no variant always runs first or after the same one.
      for (let index = 0; index < variants.length; index++) {
        const variant = variants[(index + round) % variants.length] as Variant
        const result = await runRound(variant, workload)
        results.set(variant.label, [...(results.get(variant.label) ?? []), result])
      }
    }
    const throughput = (label: string) =>
      median((results.get(label) ?? []).map((each) => each.ops / each.seconds))
    const baseline = throughput('round-robin')
    for (const variant of variants) {
      const samples = results.get(variant.label) ?? []
      const latencies = samples.flatMap((each) => each.latencies).sort((a, b) => a - b)
      const stale = samples.reduce((sum, each) => sum + each.stale, 0)
      const ops = samples.reduce((sum, each) => sum + each.ops, 0)
      rows.push([
        name,
        variant.label,
        throughput(variant.label).toFixed(0),
        `${(throughput(variant.label) / baseline).toFixed(2)}x`,
        quantile(latencies, 0.5).toFixed(2),
        quantile(latencies, 0.99).toFixed(2),
        name === 'point reads' ? '—' : `${stale}/${Math.round(ops / 11)}`,
      ])
    }
  }
  printTable(rows)
} finally {
  await pgpool?.stop()
  await Promise.allSettled(pools.map((each) => each.end()))
  await cluster.stop()
}

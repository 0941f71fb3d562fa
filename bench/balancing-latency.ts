/**
 * Read latency with one slow replica, on a real cluster: how much of a slow replica's tail each
 * balancing strategy passes on to the application, next to a baseline without that replica.
 *
 * Run with `pnpm bench:balancing` from the workspace root (it builds first), or
 * `pnpm --filter @kysely-replicas/bench balancing` after `pnpm build`.
 *
 * A PgCluster (a primary, replica1, replica2) serves a 10 000-row table. replica2 is made slow on
 * the client side: a SlowDialect around its PostgresDialect delays each query it runs (see
 * `overloadedReplicaDelay`), while holding the pooled connection as a busy server would. Six
 * Kysely instances share the cluster: ReplicatedDialect with `round-robin`,
 * `least-outstanding` and `latency-aware` over both replicas, `round-robin` and `latency-aware`
 * with hedged reads (`hedge: {}`), and a baseline with replica1 alone. They are measured in short interleaved rounds (the order rotates every round) so that
 * load from other processes hits them alike; in a round, each variant gets a warm-up (longer in
 * the first round, which opens the pools), then a measured stretch.
 *
 * Two workloads: a closed loop of `BENCH_READERS` (16) readers, each sending its next read as
 * soon as the last one answered, for `BENCH_SECONDS` (2) per variant and round; then an open
 * loop, Poisson arrivals at 35% of the baseline's closed-loop throughput, whose latencies count
 * from each read's scheduled arrival (a backlog shows as latency). `BENCH_ROUNDS` (6).
 */
import { loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { type Dialect, type Generated, Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { importBuilt } from './built-package.js'
import { positiveInteger, printTable } from './report.js'
import { SlowDialect } from './slow-dialect.js'

interface Database {
  item: {
    id: Generated<number>
    sku: string
    name: string
    price_cents: number
    stock: number
    updated_at: Generated<Date>
  }
}

type Db = Kysely<Database>
type Balancing = 'round-robin' | 'least-outstanding' | 'latency-aware'

// Many short rounds rather than a few long ones: a burst of load from another process then
// spoils a stretch of every variant instead of most of one.
const ROUNDS = positiveInteger(process.env.BENCH_ROUNDS, 6)
const MEASURE_MS = positiveInteger(process.env.BENCH_SECONDS, 2) * 1000
const READERS = positiveInteger(process.env.BENCH_READERS, 16)
const OPEN_MEASURE_MS = MEASURE_MS * 0.75
/** The open loop's arrival rate, as a share of the baseline's closed-loop throughput. */
const OPEN_LOAD = 0.35
/** Connections per node and Kysely instance: node-postgres' default, stated. */
const POOL_MAX = 10
const ROWS = 10_000
/** What "within target" means: latency-aware's p99 at most this many times the baseline's. */
const TARGET_RATIO = 1.5

// ---------------------------------------------------------------------------------------------
// The package under test, as users install it (see built-package.ts).

const { module: replicas, entry } =
  await importBuilt<typeof import('kysely-replicas')>('kysely-replicas')
const { ReplicatedDialect, handlePoolErrors, replicationOf } = replicas

// ---------------------------------------------------------------------------------------------
// The slow replica.

/**
 * The extra time of one query on an overloaded replica, in ms: 90% of queries +1–3 ms (waiting
 * for a CPU the replica shares with a heavy report, say), 10% +15–25 ms (stuck behind I/O or a
 * burst: a checkpoint, a sequential scan evicting the cache). Mean +3.8 ms, which is several
 * times a healthy replica's whole answer on this machine, and a tail ten times its median.
 */
function overloadedReplicaDelay(): number {
  return Math.random() < 0.1
    ? 15 + Math.floor(Math.random() * 11)
    : 1 + Math.floor(Math.random() * 3)
}

const SLOW_DESCRIPTION =
  'replica2 is slowed on the client side: each query waits, holding its pooled connection, ' +
  '+1–3 ms (90%) or +15–25 ms (10%), mean +3.8 ms, before it is sent (bench/slow-dialect.ts)'

// ---------------------------------------------------------------------------------------------
// Variants.

interface Variant {
  readonly label: string
  readonly db: Db
  /** The replicas' pools, to watch how many reads wait for a connection. */
  readonly pools: { readonly healthy: pg.Pool; readonly slow?: pg.Pool }
  /** The baseline has no slow replica: the others' p99 are compared with its. */
  readonly baseline: boolean
  readonly hedged: boolean
}

interface Nodes {
  readonly primary: PgClusterNode
  readonly healthy: PgClusterNode
  readonly slow: PgClusterNode
}

// Set when the cluster is being stopped: connection errors are expected from then on. pool.end()
// does not wait for its sockets to close, so a fast shutdown still terminates a few of them.
let stopping = false

function createPool(node: PgClusterNode): pg.Pool {
  return handlePoolErrors(
    new pg.Pool({
      ...node.poolConfig(),
      max: POOL_MAX,
      connectionTimeoutMillis: 2000,
      // Longer than a round of the other variants: connections stay open between rounds.
      idleTimeoutMillis: 120_000,
    }),
    (error) => {
      if (!stopping) console.warn(`pool of ${node.name}: ${error.message}`)
    },
  )
}

function createVariant(
  label: string,
  nodes: Nodes,
  balancing: Balancing,
  withSlow: boolean,
  hedge = false,
): Variant {
  const healthyPool = createPool(nodes.healthy)
  const slowPool = withSlow ? createPool(nodes.slow) : undefined
  const replicas: { name: string; dialect: Dialect }[] = [
    { name: nodes.healthy.name, dialect: new PostgresDialect({ pool: healthyPool }) },
  ]
  if (slowPool !== undefined) {
    replicas.push({
      name: nodes.slow.name,
      dialect: new SlowDialect(new PostgresDialect({ pool: slowPool }), {
        delayMs: overloadedReplicaDelay,
      }),
    })
  }
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      primary: {
        name: nodes.primary.name,
        dialect: new PostgresDialect({ pool: createPool(nodes.primary) }),
      },
      replicas,
      balancing,
      hedge: hedge ? {} : false,
    }),
  })
  return {
    label,
    db,
    pools: { healthy: healthyPool, slow: slowPool },
    baseline: !withSlow,
    hedged: hedge,
  }
}

function createVariants(nodes: Nodes): Variant[] {
  return [
    createVariant('round-robin', nodes, 'round-robin', true),
    createVariant('least-outstanding', nodes, 'least-outstanding', true),
    createVariant('latency-aware', nodes, 'latency-aware', true),
    createVariant('round-robin, hedged', nodes, 'round-robin', true, true),
    createVariant('latency-aware, hedged', nodes, 'latency-aware', true, true),
    createVariant('baseline: round-robin, replica2 removed', nodes, 'round-robin', false),
  ]
}

// ---------------------------------------------------------------------------------------------
// The read: a row by primary key, with the port of the server that answered.

const serverPort = sql<number>`inet_server_port()`.as('port')

function read(db: Db) {
  return db
    .selectFrom('item')
    .select(['id', 'sku', 'name', 'price_cents', 'stock', serverPort])
    .where('id', '=', 1 + Math.floor(Math.random() * ROWS))
    .executeTakeFirstOrThrow()
}

// ---------------------------------------------------------------------------------------------
// Measurement.

/** The reads of one measured stretch: latency, and whether the slow replica answered. */
class Recorder {
  readonly latencies: number[] = []
  readonly fromSlow: boolean[] = []
  failures = 0
  readonly #slowPort: number

  constructor(slowPort: number) {
    this.#slowPort = slowPort
  }

  add(latency: number, port: number): void {
    this.latencies.push(latency)
    this.fromSlow.push(port === this.#slowPort)
  }

  fail(): void {
    this.failures++
  }
}

/** What the balancer could see, sampled every few ms while a stretch is measured. */
class ViewSampler {
  readonly healthyEstimate: number[] = []
  readonly slowEstimate: number[] = []
  readonly healthyInFlight: number[] = []
  readonly slowInFlight: number[] = []
  readonly healthyWaiting: number[] = []
  readonly slowWaiting: number[] = []
  readonly #timer: NodeJS.Timeout
  // How late the event loop ran: a process that waited for a core (2 shared vCPUs) or collected
  // garbage delays every read in flight, whichever replica serves it.
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 5 })

  constructor(variant: Variant, slowName: string) {
    const replication = replicationOf(variant.db)
    this.#timer = setInterval(() => {
      for (const node of replication.stats()) {
        if (node.role !== 'replica') continue
        const slow = node.name === slowName
        ;(slow ? this.slowEstimate : this.healthyEstimate).push(node.latencyMs)
        ;(slow ? this.slowInFlight : this.healthyInFlight).push(node.inFlight)
      }
      this.healthyWaiting.push(variant.pools.healthy.waitingCount)
      if (variant.pools.slow !== undefined) this.slowWaiting.push(variant.pools.slow.waitingCount)
    }, 5)
    this.#loopDelay.enable()
  }

  /** Stops sampling; returns the longest event-loop delay seen, in ms. */
  stop(): number {
    clearInterval(this.#timer)
    this.#loopDelay.disable()
    return this.#loopDelay.max / 1e6
  }
}

/** Everything measured of one variant in one scenario, over all its rounds. */
class Samples {
  readonly latencies: number[] = []
  readonly fromSlow: boolean[] = []
  readonly p99PerRound: number[] = []
  /** The longest event-loop delay of each round's measured stretch, in ms. */
  readonly stallPerRound: number[] = []
  failures = 0
  seconds = 0
  servedBySlow = 0
  served = 0
  /** Hedge copies sent, and those that answered first. */
  hedges = 0
  hedgesWon = 0
  readonly views: ViewSampler[] = []

  add(recorder: Recorder, seconds: number): void {
    this.latencies.push(...recorder.latencies)
    this.fromSlow.push(...recorder.fromSlow)
    this.failures += recorder.failures
    this.seconds += seconds
    this.p99PerRound.push(percentile(sorted(recorder.latencies), 0.99))
  }
}

/** `READERS` loops, each sending its next read when the last one answered, for `ms`. */
async function closedLoop(db: Db, ms: number, recorder?: Recorder): Promise<void> {
  const end = performance.now() + ms
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (performance.now() < end) {
        const start = performance.now()
        try {
          const { port } = await read(db)
          recorder?.add(performance.now() - start, port)
        } catch {
          recorder?.fail()
        }
      }
    }),
  )
}

/**
 * Reads arriving at `perSecond` on average (exponential gaps) for `ms`, whatever is still running.
 * A read's latency counts from its scheduled arrival: when the timer loop falls behind, the delay
 * is charged to the reads it held up instead of disappearing.
 */
async function openLoop(db: Db, perSecond: number, ms: number, recorder?: Recorder) {
  const start = performance.now()
  const end = start + ms
  const running: Promise<void>[] = []
  const gap = () => (-Math.log(1 - Math.random()) * 1000) / perSecond
  let next = start + gap()
  while (next < end) {
    const now = performance.now()
    while (next <= now && next < end) {
      const arrival = next
      running.push(
        read(db).then(
          ({ port }) => recorder?.add(performance.now() - arrival, port),
          () => recorder?.fail(),
        ),
      )
      next += gap()
    }
    await sleep(1)
  }
  await Promise.all(running)
}

type Workload = (db: Db, ms: number, recorder?: Recorder) => Promise<void>

function served(
  db: Db,
  slowName: string,
): { slow: number; total: number; hedges: number; won: number } {
  let slow = 0
  let total = 0
  let hedges = 0
  let won = 0
  for (const node of replicationOf(db).stats()) {
    total += node.served
    hedges += node.hedgesSent
    won += node.hedgesWon
    if (node.name === slowName) slow += node.served
  }
  return { slow, total, hedges, won }
}

async function runScenario(
  title: string,
  variants: readonly Variant[],
  workload: Workload,
  /** The warm-up of the first round, then of the others. */
  warmupMs: readonly [number, number],
  measureMs: number,
  nodes: { slowName: string; slowPort: number },
): Promise<Map<Variant, Samples>> {
  console.log(
    `${title}: ${ROUNDS} rounds; in each, every variant gets ${warmupMs[1] / 1000} s of warm-up (${warmupMs[0] / 1000} s in the first round) and ${measureMs / 1000} s measured, in a rotating order…`,
  )
  const results = new Map(variants.map((variant) => [variant, new Samples()]))
  for (let round = 0; round < ROUNDS; round++) {
    for (let offset = 0; offset < variants.length; offset++) {
      const variant = variants[(round + offset) % variants.length] as Variant
      const samples = results.get(variant) as Samples
      await workload(variant.db, round === 0 ? warmupMs[0] : warmupMs[1])
      // Nothing is in flight between the two snapshots' stretches: the counts are exact.
      const before = served(variant.db, nodes.slowName)
      const recorder = new Recorder(nodes.slowPort)
      const view = new ViewSampler(variant, nodes.slowName)
      const started = performance.now()
      await workload(variant.db, measureMs, recorder)
      samples.add(recorder, (performance.now() - started) / 1000)
      samples.stallPerRound.push(view.stop())
      samples.views.push(view)
      const after = served(variant.db, nodes.slowName)
      samples.servedBySlow += after.slow - before.slow
      samples.served += after.total - before.total
      samples.hedges += after.hedges - before.hedges
      samples.hedgesWon += after.won - before.won
      // Hedge copies are served too, and a copy left running may answer in a later stretch:
      // with hedging the counts only bound each other.
      const counted = after.total - before.total
      const reads = recorder.latencies.length + recorder.failures
      if (variant.hedged ? counted < recorder.latencies.length : counted !== reads) {
        console.warn(
          `  ${variant.label}: ${after.total - before.total} reads counted by stats(), ${recorder.latencies.length + recorder.failures} by the bench`,
        )
      }
    }
  }
  return results
}

function report(results: Map<Variant, Samples>): void {
  const baseline = [...results].find(([variant]) => variant.baseline)?.[1]
  const baselineP99 =
    baseline === undefined ? Number.NaN : percentile(sorted(baseline.latencies), 0.99)
  // The median of the rounds' p99: one round spoilt by a stall of the machine does not move it.
  const baselineRoundP99 = baseline === undefined ? Number.NaN : median(baseline.p99PerRound)
  const rows: string[][] = [
    [
      'variant',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99 per round',
      'reads/s',
      'failed',
      'served by replica2',
      'p99 vs baseline',
      'median round p99 vs baseline',
      'extra reads (hedges, won)',
    ],
  ]
  for (const [variant, samples] of results) {
    const all = sorted(samples.latencies)
    const p99 = percentile(all, 0.99)
    rows.push([
      variant.label,
      percentile(all, 0.5).toFixed(2),
      percentile(all, 0.9).toFixed(2),
      p99.toFixed(2),
      samples.p99PerRound.map((value) => value.toFixed(1)).join(' / '),
      (samples.latencies.length / samples.seconds).toFixed(0),
      String(samples.failures),
      variant.baseline ? '—' : `${((100 * samples.servedBySlow) / samples.served).toFixed(1)}%`,
      variant.baseline ? '1.00×' : `${(p99 / baselineP99).toFixed(2)}×`,
      variant.baseline
        ? '1.00×'
        : `${(median(samples.p99PerRound) / baselineRoundP99).toFixed(2)}×`,
      samples.hedges === 0
        ? '—'
        : `${((100 * samples.hedges) / samples.latencies.length).toFixed(1)}% (${samples.hedges}, ${samples.hedgesWon})`,
    ])
  }
  printTable(rows)
  const latencyAware = [...results].find(([variant]) => variant.label === 'latency-aware')?.[1]
  if (latencyAware !== undefined) {
    const ratio = percentile(sorted(latencyAware.latencies), 0.99) / baselineP99
    const roundRatio = median(latencyAware.p99PerRound) / baselineRoundP99
    console.log(
      `  Target: latency-aware p99 ≤ ${TARGET_RATIO}× baseline p99: ${ratio <= TARGET_RATIO ? 'met' : 'MISSED'} (${ratio.toFixed(2)}×; median round ${roundRatio.toFixed(2)}×).`,
    )
  }
  for (const [variant, samples] of results) {
    if (!variant.hedged) continue
    const ratio = percentile(sorted(samples.latencies), 0.99) / baselineP99
    const extra = samples.hedges / samples.latencies.length
    console.log(
      `  Target: ${variant.label} p99 ≤ ${TARGET_RATIO}× baseline p99 with extra reads ≤ 5%: ${ratio <= TARGET_RATIO && extra <= 0.05 ? 'met' : 'MISSED'} (${ratio.toFixed(2)}×, ${(100 * extra).toFixed(1)}%).`,
    )
  }
  console.log()

  // Where the tail comes from: each replica's reads apart, and who served the slowest 1%.
  console.log('  By the replica that answered (latency as the application saw it):')
  const byNode: string[][] = [
    [
      'variant',
      'replica1 p50',
      'replica1 p99',
      'replica2 p50',
      'replica2 p99',
      'slowest 1% from replica2',
      'longest event-loop stall per round, ms',
    ],
  ]
  for (const [variant, samples] of results) {
    const healthy = sorted(samples.latencies.filter((_, i) => !samples.fromSlow[i]))
    const slow = sorted(samples.latencies.filter((_, i) => samples.fromSlow[i]))
    byNode.push([
      variant.label,
      percentile(healthy, 0.5).toFixed(2),
      percentile(healthy, 0.99).toFixed(2),
      slow.length === 0 ? '—' : percentile(slow, 0.5).toFixed(2),
      slow.length === 0 ? '—' : percentile(slow, 0.99).toFixed(2),
      `${(100 * slowestShareFromSlow(samples)).toFixed(0)}%`,
      samples.stallPerRound.map((value) => value.toFixed(0)).join(' / '),
    ])
  }
  printTable(byNode)
  console.log()

  // What the balancers saw: their latency estimates (stats().latencyMs, time-weighted over the
  // measured stretches; every query is timed for latency-aware, one in 16 for the others), the
  // queries they count as in flight, and the reads waiting for a pooled connection, which no
  // balancer sees.
  console.log(
    '  What the balancers saw (sampled every 5 ms; estimate = stats().latencyMs, median [p10–p90]):',
  )
  const view: string[][] = [
    [
      'variant',
      'replica1 estimate',
      'replica2 estimate',
      'in flight 1 / 2',
      'waiting for a connection 1 / 2',
    ],
  ]
  for (const [variant, samples] of results) {
    const views = samples.views
    const pick = (key: Exclude<keyof ViewSampler, 'stop'>) => views.flatMap((v) => v[key])
    view.push([
      variant.label,
      spread(pick('healthyEstimate')),
      variant.baseline ? '—' : spread(pick('slowEstimate')),
      `${mean(pick('healthyInFlight')).toFixed(1)} / ${variant.baseline ? '—' : mean(pick('slowInFlight')).toFixed(1)}`,
      `${mean(pick('healthyWaiting')).toFixed(1)} / ${variant.baseline ? '—' : mean(pick('slowWaiting')).toFixed(1)}`,
    ])
  }
  printTable(view)
  console.log()
}

/** Of the slowest 1% of the reads, the share the slow replica answered. */
function slowestShareFromSlow(samples: Samples): number {
  const order = samples.latencies
    .map((_, i) => i)
    .sort((a, b) => {
      return (samples.latencies[b] as number) - (samples.latencies[a] as number)
    })
  const top = order.slice(0, Math.max(1, Math.floor(order.length / 100)))
  return top.filter((i) => samples.fromSlow[i]).length / top.length
}

// ---------------------------------------------------------------------------------------------
// Main.

console.log(
  `Balancing with one slow replica. node ${process.version}, load average ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')}, kysely-replicas from ${entry}`,
)
const startedAt = performance.now()
const cluster = await PgCluster.start({ replicas: 2 })
const variants: Variant[] = []
try {
  const [healthy, slow] = cluster.replicas as [PgClusterNode, PgClusterNode]
  const nodes: Nodes = { primary: cluster.primary, healthy, slow }
  console.log(
    `Cluster up in ${((performance.now() - startedAt) / 1000).toFixed(1)} s: primary :${cluster.primary.port}, ${healthy.name} :${healthy.port} (healthy), ${slow.name} :${slow.port} (slow).`,
  )
  console.log(`${SLOW_DESCRIPTION}.`)
  console.log(
    `${READERS} readers; pools of ${POOL_MAX} connections per node and instance; a read is a select by primary key in ${ROWS} rows.`,
  )
  console.log()

  const setup = createPool(cluster.primary)
  try {
    await setup.query(`
      create table item (
        id serial primary key,
        sku text not null,
        name text not null,
        price_cents integer not null,
        stock integer not null,
        updated_at timestamptz not null default now()
      )`)
    await setup.query(
      `insert into item (sku, name, price_cents, stock)
       select 'SKU-' || i, 'Item number ' || i, 100 + i % 9900, i % 500
       from generate_series(1, ${ROWS}) as i`,
    )
    await setup.query('analyze item')
  } finally {
    await setup.end()
  }
  await cluster.waitForReplay()

  variants.push(...createVariants(nodes))
  const where = { slowName: slow.name, slowPort: slow.port }

  const closed = await runScenario(
    `Closed loop, ${READERS} readers`,
    variants,
    closedLoop,
    [1000, 500],
    MEASURE_MS,
    where,
  )
  console.log()
  report(closed)

  const baselineSamples = [...closed].find(([variant]) => variant.baseline)?.[1] as Samples
  const rate = Math.max(
    100,
    Math.round((OPEN_LOAD * baselineSamples.latencies.length) / baselineSamples.seconds),
  )
  const open = await runScenario(
    `Open loop, ${rate} reads/s (Poisson; ${OPEN_LOAD * 100}% of the baseline's closed-loop throughput)`,
    variants,
    (db, ms, recorder) => openLoop(db, rate, ms, recorder),
    [500, 250],
    OPEN_MEASURE_MS,
    where,
  )
  console.log()
  report(open)

  console.log(
    `Done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s; load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}.`,
  )
} finally {
  stopping = true
  const closing = await Promise.allSettled(variants.map((variant) => variant.db.destroy()))
  for (const result of closing) {
    if (result.status === 'rejected') console.warn('destroy failed:', result.reason)
  }
  await cluster.stop()
}

// ---------------------------------------------------------------------------------------------
// Helpers.

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort()
}

/** Nearest rank: the smallest sample with at least `q` of the samples at or below it. */
function percentile(values: Float64Array, q: number): number {
  if (values.length === 0) return Number.NaN
  return values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] as number
}

function median(values: readonly number[]): number {
  return percentile(sorted(values), 0.5)
}

function mean(values: readonly number[]): number {
  return values.length === 0
    ? Number.NaN
    : values.reduce((sum, value) => sum + value, 0) / values.length
}

/** `median [p10–p90]` of some values, in ms. */
function spread(values: readonly number[]): string {
  const ordered = sorted(values)
  if (ordered.length === 0) return '—'
  const at = (q: number) => percentile(ordered, q).toFixed(2)
  return `${at(0.5)} [${at(0.1)}–${at(0.9)}]`
}

/**
 * The CPU cost of routing, per query: bare Kysely, kysely-replication and kysely-replicas over
 * in-memory nodes that answer at once, so that nothing but the library code is measured.
 *
 * Run with `pnpm bench:routing` from the workspace root (it builds first), or
 * `pnpm --filter @kysely-replicas/bench routing` after `pnpm build`.
 *
 * The variants are measured side by side: each round runs one batch of every variant for every
 * workload, in a rotating order, and the report takes medians over the rounds. Machine noise
 * (frequency scaling, another process) then hits all variants alike instead of whichever one
 * happened to run at that moment. `BENCH_SECONDS` (30) and `BENCH_BATCH_MS` (10) change the
 * schedule.
 */
import { cpus } from 'node:os'
import { type Generated, Kysely } from 'kysely'
import { KyselyReplicationDialect } from 'kysely-replication'
import { RoundRobinReplicaStrategy } from 'kysely-replication/strategy/round-robin'
import { importBuilt } from './built-package.js'
import { InMemoryDialect } from './in-memory-dialect.js'
import { positiveInteger, printTable } from './report.js'

interface Database {
  person: { id: Generated<number>; first_name: string; last_name: string; age: number }
  pet: { id: Generated<number>; owner_id: number; name: string; species: string }
}

type Db = Kysely<Database>

const BUDGET_SECONDS = positiveInteger(process.env.BENCH_SECONDS, 30)
// Short batches, many rounds: a burst of load from another process then spoils a few rounds of
// all variants alike rather than long stretches of one of them.
const BATCH_MS = positiveInteger(process.env.BENCH_BATCH_MS, 10)
const WARMUP_MS = 300

// ---------------------------------------------------------------------------------------------
// The package under test, as users install it.

const { module: replicas, entry: builtEntry } =
  await importBuilt<typeof import('kysely-replicas')>('kysely-replicas')
const { ReplicatedDialect } = replicas

// ---------------------------------------------------------------------------------------------
// Variants: the same three in-memory nodes (or one, for bare Kysely) behind each library.

interface Variant {
  readonly name: string
  /** A short column title. */
  readonly label: string
  readonly db: Db
  /** The in-memory nodes, primary first. */
  readonly nodes: readonly InMemoryDialect[]
}

function createVariants(): Variant[] {
  const bare = new InMemoryDialect()
  const replication = [new InMemoryDialect(), new InMemoryDialect(), new InMemoryDialect()]
  const ours = [new InMemoryDialect(), new InMemoryDialect(), new InMemoryDialect()]
  const oursRyw = [new InMemoryDialect(), new InMemoryDialect(), new InMemoryDialect()]
  const [replicationPrimary, ...replicationReplicas] = replication as [
    InMemoryDialect,
    InMemoryDialect,
    InMemoryDialect,
  ]
  const [ourPrimary, ...ourReplicas] = ours as [InMemoryDialect, InMemoryDialect, InMemoryDialect]
  const [rywPrimary, ...rywReplicas] = oursRyw as [
    InMemoryDialect,
    InMemoryDialect,
    InMemoryDialect,
  ]
  return [
    {
      name: 'Kysely alone',
      label: 'bare',
      db: new Kysely<Database>({ dialect: bare }),
      nodes: [bare],
    },
    {
      name: 'kysely-replication 0.3.0, round-robin',
      label: 'replication',
      db: new Kysely<Database>({
        dialect: new KyselyReplicationDialect({
          primaryDialect: replicationPrimary,
          replicaDialects: replicationReplicas as [InMemoryDialect, InMemoryDialect],
          replicaStrategy: new RoundRobinReplicaStrategy({}),
        }),
      }),
      nodes: replication,
    },
    {
      // Routing alone, the like-for-like comparison with kysely-replication.
      name: 'kysely-replicas (built dist), round-robin, readYourWrites: false',
      label: 'ours',
      db: new Kysely<Database>({
        dialect: new ReplicatedDialect({
          primary: ourPrimary,
          replicas: ourReplicas,
          readYourWrites: false,
        }),
      }),
      nodes: ours,
    },
    {
      // The defaults: read-your-writes by position adds one statement after each write (on an
      // in-memory node here, a round trip on a real one) and a position check on later reads.
      name: 'kysely-replicas with its defaults (read-your-writes on)',
      label: 'ours+ryw',
      db: new Kysely<Database>({
        dialect: new ReplicatedDialect({ primary: rywPrimary, replicas: rywReplicas }),
      }),
      nodes: oursRyw,
    },
  ]
}

// ---------------------------------------------------------------------------------------------
// Workloads: one operation each, built and executed the way an application does it.

interface Workload {
  readonly name: string
  readonly run: (db: Db) => Promise<unknown>
}

const WORKLOADS: readonly Workload[] = [
  {
    name: 'select by id',
    run: (db) => db.selectFrom('person').selectAll().where('id', '=', 1).execute(),
  },
  {
    name: 'select: CTE + join + subquery',
    run: (db) =>
      db
        .with('cats', (qb) =>
          qb.selectFrom('pet').select(['owner_id', 'name']).where('species', '=', 'cat'),
        )
        .selectFrom('person')
        .innerJoin('cats', 'cats.owner_id', 'person.id')
        .select(['person.id', 'person.first_name', 'cats.name as cat'])
        .where('person.id', 'in', (eb) =>
          eb.selectFrom('pet').select('pet.owner_id').where('pet.name', 'like', 'A%'),
        )
        .where('person.age', '>', 18)
        .orderBy('person.id')
        .limit(10)
        .execute(),
  },
  {
    name: 'insert',
    run: (db) =>
      db
        .insertInto('person')
        .values({ first_name: 'Ada', last_name: 'Lovelace', age: 36 })
        .execute(),
  },
  {
    name: 'transaction: select + update',
    run: (db) =>
      db.transaction().execute(async (trx) => {
        await trx.selectFrom('person').select('age').where('id', '=', 1).executeTakeFirst()
        await trx.updateTable('person').set({ age: 37 }).where('id', '=', 1).execute()
      }),
  },
]

// ---------------------------------------------------------------------------------------------
// Measurement.

interface Sample {
  /** Wall-clock nanoseconds per operation. */
  readonly ns: number
  /** CPU time (user + system) in microseconds per operation, from process.cpuUsage(). */
  readonly cpuUs: number
}

async function runBatch(workload: Workload, db: Db, operations: number): Promise<Sample> {
  const cpuBefore = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (let i = 0; i < operations; i++) {
    await workload.run(db)
  }
  const elapsed = Number(process.hrtime.bigint() - start)
  const cpu = process.cpuUsage(cpuBefore)
  return { ns: elapsed / operations, cpuUs: (cpu.user + cpu.system) / operations }
}

/** Runs the workload until `ms` have passed; returns how many operations fit. */
async function runFor(workload: Workload, db: Db, ms: number): Promise<number> {
  const end = performance.now() + ms
  let operations = 0
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      await workload.run(db)
    }
    operations += 100
  }
  return operations
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

function quartiles(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return [at(0.25), at(0.75)]
}

// ---------------------------------------------------------------------------------------------
// Main.

const variants = createVariants()
const [bare] = variants as [Variant, ...Variant[]]

console.log(
  `Routing overhead. node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, kysely-replicas from ${builtEntry}`,
)
console.log()

// Where each workload's queries went, once: checks that every variant routes what it claims to.
console.log('Routing check (queries per node for one operation; primary first):')
for (const workload of WORKLOADS) {
  const line = [workload.name.padEnd(32)]
  for (const variant of variants) {
    for (const node of variant.nodes) node.counter.reset()
    await workload.run(variant.db)
    line.push(`${variant.label}: ${variant.nodes.map((node) => node.counter.count).join('/')}`)
  }
  console.log(`  ${line.join('  ')}`)
}
console.log()

// Warm-up: every path compiled by the JIT before anything counts, and the batch size per
// workload fixed so that a bare batch takes about BATCH_MS.
const batchSizes = new Map<Workload, number>()
for (const workload of WORKLOADS) {
  for (const variant of variants) {
    await runFor(workload, variant.db, WARMUP_MS / 2)
  }
  const operations = await runFor(workload, bare.db, WARMUP_MS)
  batchSizes.set(workload, Math.max(100, Math.round((operations * BATCH_MS) / WARMUP_MS)))
}

// As many rounds as fit in the budget; a variant's batch takes up to ~1.5 bare batches.
const ROUNDS = Math.max(
  5,
  Math.floor((BUDGET_SECONDS * 1000) / (WORKLOADS.length * variants.length * BATCH_MS * 1.25)),
)
console.log(`${ROUNDS} interleaved rounds of ~${BATCH_MS} ms batches per workload and variant…`)
const samples = new Map<string, Sample[]>()
const key = (workload: Workload, variant: Variant) => `${workload.name}\u0000${variant.name}`
const startedAt = performance.now()
for (let round = 0; round < ROUNDS; round++) {
  for (const workload of WORKLOADS) {
    const operations = batchSizes.get(workload) ?? 1000
    // Rotate which variant goes first so that none always runs right after a GC-heavy one.
    for (let offset = 0; offset < variants.length; offset++) {
      const variant = variants[(round + offset) % variants.length] as Variant
      const sample = await runBatch(workload, variant.db, operations)
      const list = samples.get(key(workload, variant)) ?? []
      list.push(sample)
      samples.set(key(workload, variant), list)
    }
  }
}
const seconds = (performance.now() - startedAt) / 1000

// Overheads are paired per round (each variant's batch against the bare batch of the same
// round) before the median is taken, which cancels slow drifts of the machine.
function report(metric: 'ns' | 'cpuUs', title: string, digits: number): void {
  const others = variants.slice(1)
  const rows: string[][] = [
    [
      'workload',
      ...variants.map((variant) => variant.label),
      ...others.map((variant) => `${variant.label} vs bare (IQR)`),
    ],
  ]
  for (const workload of WORKLOADS) {
    const bareSamples = samples.get(key(workload, bare)) ?? []
    const row = [workload.name]
    for (const variant of variants) {
      const values = (samples.get(key(workload, variant)) ?? []).map((sample) => sample[metric])
      row.push(median(values).toFixed(digits))
    }
    for (const variant of others) {
      const ratios = (samples.get(key(workload, variant)) ?? []).map(
        (sample, round) => sample[metric] / (bareSamples[round]?.[metric] ?? Number.NaN),
      )
      const [low, high] = quartiles(ratios)
      row.push(`${percent(median(ratios))} (${percent(low)} … ${percent(high)})`)
    }
    rows.push(row)
  }
  console.log(title)
  printTable(rows)
  console.log()
}

console.log(`${ROUNDS} rounds in ${seconds.toFixed(1)} s.`)
console.log(
  variants.map((variant) => `${variant.label} = ${variant.name}`).join(', ') +
    '; "vs bare" is the median of the per-round overheads, with their interquartile range.',
)
console.log()
report('ns', 'Wall clock, ns per operation (median of the rounds):', 0)
report('cpuUs', 'CPU time (process.cpuUsage(), user + system), µs per operation:', 2)
console.log(
  'The transaction workload is comparable in work: both libraries run a transaction on the ' +
    'primary. kysely-replication has no transaction on a replica, no write check and no session ' +
    'reset, so it skips what those cost.',
)

await Promise.all(variants.map((variant) => variant.db.destroy()))

// ---------------------------------------------------------------------------------------------
// Helpers.

function percent(ratio: number): string {
  const value = (ratio - 1) * 100
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)}%`
}

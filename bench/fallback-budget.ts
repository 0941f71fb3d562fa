/**
 * Writes while every replica is dead and the reads fall back to the primary, on a real cluster:
 * do slow fallback reads starve the writes? Pools of 10 per node, 32 readers doing 50 ms reads
 * (`pg_sleep(0.05)`) and 4 writers doing single-row inserts, for 5 s per variant:
 *
 * - replicas up or dead (their pools point at ports where nothing listens: connections are
 *   refused, as by a dead host);
 * - the fallback budget `'unlimited'` (what the library did before it had one) or the default
 *   (half of the primary's pool: 5 of 10).
 *
 * Each variant is a fresh `createPostgresReplicatedDialect` (topology monitor on) per round; the
 * rounds rotate the order. Run with `pnpm bench:fallback` from the workspace root (it builds
 * first). `BENCH_ROUNDS` (2) and `BENCH_ROUND_MS` (2500) change the run.
 */
import net from 'node:net'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { type Generated, Kysely, sql } from 'kysely'
import pg from 'pg'
import { importBuilt } from './built-package.js'
import { positiveInteger, printTable } from './report.js'

const ROUNDS = positiveInteger(process.env.BENCH_ROUNDS, 2)
const ROUND_MS = positiveInteger(process.env.BENCH_ROUND_MS, 2500)
const WARMUP_MS = 500
const READERS = 32
const WRITERS = 4
const POOL_MAX = 10

const { module: replicas } = await importBuilt<typeof import('kysely-replicas')>('kysely-replicas')
const { module: postgres } = await importBuilt<typeof import('kysely-replicas/postgres')>(
  'kysely-replicas',
  './postgres',
)
const { NoReplicaAvailableError, replicationOf } = replicas
const { createPostgresReplicatedDialect } = postgres

interface Database {
  bench_fallback: { id: Generated<number>; n: number }
}

interface Variant {
  readonly label: string
  readonly replicasUp: boolean
  readonly budget: 'unlimited' | 'default'
}

interface Sample {
  writes: number[]
  writeErrors: number
  readsOnReplicas: number
  readsOnPrimary: number
  refused: number
  readErrors: number
  seconds: number
}

const VARIANTS: readonly Variant[] = [
  { label: 'replicas up, unlimited', replicasUp: true, budget: 'unlimited' },
  { label: 'replicas up, budget', replicasUp: true, budget: 'default' },
  { label: 'replicas dead, unlimited', replicasUp: false, budget: 'unlimited' },
  { label: 'replicas dead, budget', replicasUp: false, budget: 'default' },
]

async function deadPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

const cluster = await PgCluster.start({ replicas: 2 })
try {
  const [primary, ...standbys] = [cluster.primary, ...cluster.replicas].map((node) =>
    node.poolConfig(),
  )
  if (primary === undefined) {
    throw new Error('the cluster has no primary')
  }
  const deadPorts = await Promise.all(standbys.map(deadPort))
  const setup = new pg.Client(primary)
  await setup.connect()
  await setup.query('create table bench_fallback (id serial primary key, n int not null)')
  await setup.end()

  const open = (variant: Variant) =>
    new Kysely<Database>({
      dialect: createPostgresReplicatedDialect({
        Pool: pg.Pool,
        nodes: [
          primary,
          ...standbys.map((standby, index) =>
            variant.replicasUp ? standby : { ...standby, port: deadPorts[index] },
          ),
        ],
        poolOptions: { max: POOL_MAX },
        ...(variant.budget === 'unlimited'
          ? { fallback: { maxConcurrent: 'unlimited' as const } }
          : {}),
      }),
    })

  const primaryPort = primary.port
  const runRound = async (variant: Variant): Promise<Sample> => {
    const db = open(variant)
    try {
      const sample: Sample = {
        writes: [],
        writeErrors: 0,
        readsOnReplicas: 0,
        readsOnPrimary: 0,
        refused: 0,
        readErrors: 0,
        seconds: 0,
      }
      let measuring = false
      const started = performance.now()
      const measureFrom = started + WARMUP_MS
      const until = measureFrom + ROUND_MS
      const reader = async () => {
        while (performance.now() < until) {
          try {
            const { port } = await db
              .selectNoFrom([
                sql<number>`inet_server_port()`.as('port'),
                sql`pg_sleep(0.05)`.as('slept'),
              ])
              .executeTakeFirstOrThrow()
            if (measuring) {
              if (port === primaryPort) sample.readsOnPrimary++
              else sample.readsOnReplicas++
            }
          } catch (error) {
            if (measuring) {
              if (error instanceof NoReplicaAvailableError) sample.refused++
              else sample.readErrors++
            }
          }
        }
      }
      const writer = async () => {
        for (let n = 0; performance.now() < until; n++) {
          const writeStarted = performance.now()
          try {
            await db.insertInto('bench_fallback').values({ n }).execute()
            if (measuring) sample.writes.push(performance.now() - writeStarted)
          } catch {
            if (measuring) sample.writeErrors++
          }
        }
      }
      const timer = setTimeout(() => {
        measuring = true
      }, measureFrom - performance.now())
      await Promise.all([
        ...Array.from({ length: READERS }, reader),
        ...Array.from({ length: WRITERS }, writer),
      ])
      clearTimeout(timer)
      sample.seconds = ROUND_MS / 1000
      const fallback = replicationOf(db).fallbackReads()
      if (variant.budget === 'default' && fallback.maxConcurrent !== POOL_MAX / 2) {
        throw new Error(`expected a budget of ${POOL_MAX / 2}, got ${fallback.maxConcurrent}`)
      }
      return sample
    } finally {
      await db.destroy()
    }
  }

  console.log(
    `${READERS} readers (50 ms reads), ${WRITERS} writers, pools of ${POOL_MAX}, ${ROUNDS} rounds of ${ROUND_MS} ms per variant.`,
  )
  const samples = new Map<string, Sample[]>()
  for (let round = 0; round < ROUNDS; round++) {
    for (let index = 0; index < VARIANTS.length; index++) {
      const variant = VARIANTS[(index + round) % VARIANTS.length] as Variant
      samples.set(variant.label, [...(samples.get(variant.label) ?? []), await runRound(variant)])
    }
  }

  const total = (label: string) => {
    const each = samples.get(label) ?? []
    const sum = (pick: (sample: Sample) => number) => each.reduce((n, s) => n + pick(s), 0)
    const writes = each.flatMap((s) => s.writes).sort((a, b) => a - b)
    return {
      writes,
      p50: quantile(writes, 0.5),
      p99: quantile(writes, 0.99),
      writeErrors: sum((s) => s.writeErrors),
      readsOnReplicas: sum((s) => s.readsOnReplicas),
      readsOnPrimary: sum((s) => s.readsOnPrimary),
      refused: sum((s) => s.refused),
      readErrors: sum((s) => s.readErrors),
      seconds: sum((s) => s.seconds),
    }
  }
  const rows = [
    [
      'variant',
      'acked writes',
      'write p50 ms',
      'write p99 ms',
      'failed writes',
      'reads on replicas',
      'reads on primary',
      'reads refused',
      'other read errors',
    ],
  ]
  for (const variant of VARIANTS) {
    const t = total(variant.label)
    rows.push([
      variant.label,
      String(t.writes.length),
      t.p50.toFixed(2),
      t.p99.toFixed(2),
      String(t.writeErrors),
      String(t.readsOnReplicas),
      String(t.readsOnPrimary),
      String(t.refused),
      String(t.readErrors),
    ])
  }
  printTable(rows)
  console.log('')
  const ratios = [['replicas dead vs up (same budget)', 'write p99', 'acked writes']]
  for (const budget of ['unlimited', 'budget']) {
    const up = total(`replicas up, ${budget}`)
    const dead = total(`replicas dead, ${budget}`)
    ratios.push([
      budget,
      `${(dead.p99 / up.p99).toFixed(2)}x`,
      `${(dead.writes.length / up.writes.length).toFixed(2)}x`,
    ])
  }
  printTable(ratios)
  const up = total('replicas up, budget')
  const dead = total('replicas dead, budget')
  console.log(
    `\nGoal: with replicas dead, write p99 within 2x of replicas up: ${(dead.p99 / up.p99).toFixed(2)}x, ${dead.p99 <= 2 * up.p99 ? 'met' : 'NOT met'}.`,
  )
} finally {
  await cluster.stop()
}

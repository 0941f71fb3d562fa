/**
 * What read-your-writes costs and buys on a real cluster: the same streams of reads with
 * `readYourWrites: false`, sticky mode and position mode, side by side in one run.
 *
 * Run with `pnpm bench:ryw` from the workspace root (it builds first), or
 * `pnpm --filter @kysely-replicas/bench read-your-writes` after `pnpm build`.
 *
 * A local primary with two streaming replicas (`@kysely-replicas/pg-cluster`); both replicas
 * apply every commit `APPLY_DELAY_MS` late (`recovery_min_apply_delay`), as replicas a little
 * behind a busy primary are. Streams, for each mode:
 *
 * - write → read at once: in its own scope, insert a row, then read it back by id;
 * - write → read 50 ms later: the same, with the read issued 50 ms after the write returned;
 * - plain reads: scopes that never write read rows written long before, while other scopes write.
 *
 * A read that does not find its row is stale. `BENCH_PAIRS` (1000) and `BENCH_PLAIN_MS` (3000)
 * change the size of the run.
 */
import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { type Generated, Kysely, PostgresDialect, sql } from 'kysely'
import type { ReplicatedDialectConfig } from 'kysely-replicas'
import pg from 'pg'
import { importBuilt } from './built-package.js'
import { positiveInteger } from './report.js'

const PAIRS = positiveInteger(process.env.BENCH_PAIRS, 1000)
const PLAIN_MS = positiveInteger(process.env.BENCH_PLAIN_MS, 3000)
// Each stream runs in this many slices per mode, interleaved with the other modes' slices, so that
// a burst of load from another process spoils a little of every mode rather than much of one.
const ROUNDS = 4
const APPLY_DELAY_MS = 20
const READ_AFTER_MS = 50
const SEED_ROWS = 100

// ---------------------------------------------------------------------------------------------
// The package under test, as users install it (see routing-overhead.ts: tsx would otherwise
// follow bench/tsconfig.json's `paths` to the sources).

const { module: replicas } = await importBuilt<typeof import('kysely-replicas')>('kysely-replicas')
const { ReplicatedDialect, replicationOf, handlePoolErrors } = replicas

// ---------------------------------------------------------------------------------------------
// Modes and streams.

interface Database {
  bench_note: { id: Generated<number>; name: string }
}

type Db = Kysely<Database>

interface Mode {
  readonly label: string
  readonly readYourWrites: ReplicatedDialectConfig['readYourWrites']
}

const MODES: readonly Mode[] = [
  { label: 'off', readYourWrites: false },
  { label: 'sticky', readYourWrites: { mode: 'sticky' } },
  { label: 'position', readYourWrites: { mode: 'position' } },
]

/** One read: how long it took, the port of the server that answered, whether its row was missing. */
interface Read {
  readonly ms: number
  readonly port: number
  readonly stale: boolean
}

interface Stream {
  readonly label: string
  readonly staleCounts: boolean
  run(db: Db): Promise<Read[]>
}

const serverPort = sql<number>`inet_server_port()`.as('port')

/**
 * Runs `fn` in a scope of its own. `runInScope()` refuses to run without read-your-writes, so the
 * `off` mode runs `fn` as it is.
 */
function inScope<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  return readYourWritesOn.get(db) === false ? fn() : replicationOf(db).runInScope(fn)
}

const readYourWritesOn = new WeakMap<Db, boolean>()

async function insert(db: Db, name: string): Promise<number> {
  const row = await db
    .insertInto('bench_note')
    .values({ name })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

// The port comes back even when the row is missing, so that a stale read names its server too.
async function timedRead(db: Db, id: number): Promise<Read> {
  const started = performance.now()
  const row = await db
    .selectNoFrom((eb) => [
      serverPort,
      eb.selectFrom('bench_note').select('id').where('id', '=', id).as('found'),
    ])
    .executeTakeFirstOrThrow()
  return { ms: performance.now() - started, port: row.port, stale: row.found === null }
}

/**
 * Write-then-read pairs (`PAIRS / ROUNDS` per run), `concurrency` scopes at a time, each pair in
 * a scope of its own.
 */
function pairs(label: string, readAfterMs: number, concurrency: number): Stream {
  return {
    label,
    staleCounts: true,
    async run(db) {
      const reads: Read[] = []
      await Promise.all(
        Array.from({ length: concurrency }, async (_, worker) => {
          for (let pair = worker; pair < PAIRS / ROUNDS; pair += concurrency) {
            await inScope(db, async () => {
              const id = await insert(db, `pair ${pair}`)
              if (readAfterMs > 0) {
                await sleep(readAfterMs)
              }
              reads.push(await timedRead(db, id))
            })
          }
        }),
      )
      return reads
    },
  }
}

/** Readers in scopes that never write (`PLAIN_MS / ROUNDS` per run), while four scopes write. */
const plainReads: Stream = {
  label: 'plain reads (other scopes write)',
  staleCounts: false,
  async run(db) {
    const reads: Read[] = []
    const until = performance.now() + PLAIN_MS / ROUNDS
    const writers = Array.from({ length: 4 }, async (_, worker) => {
      while (performance.now() < until) {
        await inScope(db, () => insert(db, `writer ${worker}`))
      }
    })
    const readers = Array.from({ length: 8 }, (_, reader) =>
      inScope(db, async () => {
        for (let read = 0; performance.now() < until; read++) {
          reads.push(await timedRead(db, 1 + ((reader * 7 + read) % SEED_ROWS)))
        }
      }),
    )
    await Promise.all([...writers, ...readers])
    return reads
  },
}

const STREAMS: readonly Stream[] = [
  pairs('write → read at once', 0, 10),
  pairs(`write → read ${READ_AFTER_MS} ms later`, READ_AFTER_MS, 25),
  plainReads,
]

// ---------------------------------------------------------------------------------------------
// The run.

interface Row {
  readonly stream: string
  readonly mode: string
  readonly reads: number
  readonly onReplicas: number
  readonly replicaSplit: string
  readonly stale: number | undefined
  readonly p50: number
  readonly p99: number
}

function createDatabase(cluster: PgCluster, mode: Mode): Db {
  const dialect = (node: PgClusterNode) =>
    new PostgresDialect({
      pool: handlePoolErrors(
        new pg.Pool({ ...node.poolConfig(), max: 32, connectionTimeoutMillis: 5000 }),
      ),
    })
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      primary: { name: cluster.primary.name, dialect: dialect(cluster.primary) },
      replicas: cluster.replicas.map((node) => ({ name: node.name, dialect: dialect(node) })),
      readYourWrites: mode.readYourWrites,
    }),
  })
  readYourWritesOn.set(db, mode.readYourWrites !== false)
  return db
}

function summarize(stream: Stream, mode: Mode, reads: Read[], cluster: PgCluster): Row {
  const replicaPorts = cluster.replicas.map((node) => node.port)
  const perReplica = replicaPorts.map((port) => reads.filter((read) => read.port === port).length)
  const onReplicas = perReplica.reduce((sum, count) => sum + count, 0)
  const latencies = reads.map((read) => read.ms).sort((a, b) => a - b)
  return {
    stream: stream.label,
    mode: mode.label,
    reads: reads.length,
    onReplicas: reads.length === 0 ? 0 : onReplicas / reads.length,
    replicaSplit:
      onReplicas === 0
        ? '–'
        : perReplica.map((count) => percent(count / onReplicas, 0)).join(' / '),
    stale: stream.staleCounts ? reads.filter((read) => read.stale).length : undefined,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now()
  console.error('Starting a primary and two replicas…')
  const cluster = await PgCluster.start({ replicas: 2 })
  const databases: Db[] = []
  try {
    const setup = createDatabase(cluster, { label: 'setup', readYourWrites: false })
    databases.push(setup)
    await setup.schema
      .createTable('bench_note')
      .addColumn('id', 'serial', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .execute()
    await setup
      .insertInto('bench_note')
      .values(Array.from({ length: SEED_ROWS }, (_, index) => ({ name: `seed ${index}` })))
      .execute()
    await cluster.waitForReplay()
    for (const replica of cluster.replicas) {
      await cluster.setApplyDelay(replica, APPLY_DELAY_MS)
    }

    const dbs = MODES.map((mode) => createDatabase(cluster, mode))
    databases.push(...dbs)
    // Warm-up: open connections and let the position mode learn the cluster's id.
    for (const db of dbs) {
      await Promise.all(Array.from({ length: 64 }, (_, index) => timedRead(db, 1 + index)))
      await inScope(db, () => insert(db, 'warm-up'))
    }

    const reads = new Map<string, Read[]>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, stream] of STREAMS.entries()) {
        // The order of the modes rotates, so that none always runs first.
        for (let turn = 0; turn < MODES.length; turn++) {
          const modeIndex = (index + round + turn) % MODES.length
          const mode = MODES[modeIndex] as Mode
          console.error(`round ${round + 1}/${ROUNDS}: ${stream.label}, ${mode.label}…`)
          const key = `${stream.label}\0${mode.label}`
          reads.set(key, [...(reads.get(key) ?? []), ...(await stream.run(dbs[modeIndex] as Db))])
        }
      }
    }
    const rows = STREAMS.flatMap((stream) =>
      MODES.map((mode) =>
        summarize(stream, mode, reads.get(`${stream.label}\0${mode.label}`) ?? [], cluster),
      ),
    )
    print(rows)
    console.log(
      `\nBoth replicas apply commits ${APPLY_DELAY_MS} ms late (recovery_min_apply_delay); ` +
        `${PAIRS} pairs per pair stream; ${(PLAIN_MS / 1000).toFixed(1)} s of plain reads with 8 readers and 4 writers. ` +
        `Run took ${((performance.now() - startedAt) / 1000).toFixed(0)} s.`,
    )
    checkTargets(rows)
  } finally {
    await Promise.allSettled(databases.map((db) => db.destroy()))
    await cluster.stop()
  }
}

function print(rows: readonly Row[]): void {
  const header = [
    'stream',
    'mode',
    'reads',
    'on replicas',
    'replica1 / replica2',
    'stale',
    'p50 ms',
    'p99 ms',
  ]
  const lines = rows.map((row) => [
    row.stream,
    row.mode,
    String(row.reads),
    percent(row.onReplicas, 1),
    row.replicaSplit,
    row.stale === undefined ? '–' : String(row.stale),
    row.p50.toFixed(2),
    row.p99.toFixed(2),
  ])
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)),
  )
  const render = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`
  console.log()
  console.log(render(header))
  console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`)
  for (const line of lines) {
    console.log(render(line))
  }
}

function checkTargets(rows: readonly Row[]): void {
  const stale = rows.filter((row) => row.mode !== 'off' && (row.stale ?? 0) > 0)
  const later = rows.find((row) => row.mode === 'position' && row.stream.includes('later'))
  const checks = [
    [
      'no stale read in sticky and position modes',
      stale.length === 0,
      stale.map((row) => `${row.mode}/${row.stream}: ${row.stale}`).join(', '),
    ],
    [
      `position mode: ≥ 50% of the reads issued ${READ_AFTER_MS} ms after a write on a replica`,
      (later?.onReplicas ?? 0) >= 0.5,
      later === undefined ? '' : percent(later.onReplicas, 1),
    ],
  ] as const
  console.log()
  for (const [what, met, detail] of checks) {
    console.log(`${met ? 'met   ' : 'MISSED'} ${what}${detail === '' ? '' : ` (${detail})`}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) {
    return Number.NaN
  }
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

function percent(fraction: number, digits: number): string {
  return `${(100 * fraction).toFixed(digits)}%`
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

await main()

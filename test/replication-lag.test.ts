import { PgCluster } from '@kysely-replicas/pg-cluster'
import { sql } from 'kysely'
import { type LagEvent, type NodeStatsSnapshot, replicationOf } from 'kysely-replicas'
// By path until test/tsconfig.json maps kysely-replicas/postgres to the sources (by name it
// resolves to the package's dist/, whose classes TypeScript tells apart from the sources').
import { postgresTopology } from 'kysely-replicas/postgres'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createReplicatedDatabase, serverPort } from './support/replicated-database.js'

// Pauses replay on a replica, so it runs on a cluster of its own.
let cluster: PgCluster
let database: ReturnType<typeof createReplicatedDatabase>
const lagEvents: LagEvent[] = []
const table = 'lag_note'
const INTERVAL_MS = 200

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  const info = (node: (typeof cluster.nodes)[number]) => ({ name: node.name, ...node.poolConfig() })
  database = createReplicatedDatabase(
    {
      monitor: postgresTopology({
        intervalMs: INTERVAL_MS,
        maxReplicationLag: { bytes: 256 * 1024, seconds: 5 },
      }),
    },
    { primary: info(cluster.primary), replicas: cluster.replicas.map(info) },
  )
  replicationOf(database.db).on('lag', (event) => lagEvents.push(event))
  await database.db.schema
    .createTable(table)
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .execute()
  await cluster.waitForReplay()
})

afterAll(async () => {
  await database?.db.destroy()
  await cluster?.stop()
})

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const replicaStats = (name: string): NodeStatsSnapshot => {
  const found = replicationOf(database.db)
    .stats()
    .find((node) => node.name === name)
  if (found === undefined) throw new Error(`no node ${name}`)
  return found
}

async function readPorts(count: number): Promise<Set<number>> {
  const ports = new Set<number>()
  for (let i = 0; i < count; i++) {
    ports.add((await database.db.selectNoFrom(serverPort).executeTakeFirstOrThrow()).port)
  }
  return ports
}

/**
 * About 1 MB of WAL on the primary, in statements of about 100 kB: the replica that replays
 * stays well under the bound, however a check falls (one big statement would put it 1 MB behind
 * for a moment, and rightly out of the reads until the next check).
 */
async function writeRows(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await database.db
      .insertInto(table)
      .columns(['name'])
      .expression(
        database.db
          .selectFrom(sql<{ n: number }>`generate_series(1, 400)`.as('s'))
          .select(sql<string>`repeat('x', 200)`.as('name')),
      )
      .execute()
  }
}

describe('replication lag on a real cluster', () => {
  it('is zero on every replica of an idle primary, however long it stays idle', async () => {
    // Long enough for pg_last_xact_replay_timestamp() to age by seconds: that age is not lag.
    const samples: NodeStatsSnapshot[] = []
    for (let i = 0; i < 15; i++) {
      await pause(INTERVAL_MS)
      samples.push(replicaStats('replica1'), replicaStats('replica2'))
    }
    expect(samples.every((node) => node.lagSeconds !== undefined && node.lagSeconds < 1)).toBe(true)
    for (const name of ['replica1', 'replica2']) {
      expect(replicaStats(name)).toMatchObject({ lagBytes: 0, lagSeconds: 0, lagging: false })
    }
    expect(lagEvents).toEqual([])
    // The trap was there: the last replayed commit is seconds old on a replica that lacks nothing.
    const [row] = await cluster.query<{ age: number }>(
      'replica1',
      'select extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as age',
    )
    expect(row?.age).toBeGreaterThan(2)
  })

  it('takes a replica whose replay is paused out of the reads until it has caught up', async () => {
    const [replica1, replica2] = cluster.replicas
    if (replica1 === undefined || replica2 === undefined) throw new Error('two replicas expected')
    await cluster.pauseReplay(replica1)
    try {
      await writeRows()
      await vi.waitFor(() => expect(replicaStats('replica1').lagging).toBe(true), { timeout: 5000 })
      const first = replicaStats('replica1').lagBytes ?? 0
      expect(first).toBeGreaterThan(256 * 1024)
      await writeRows()
      await vi.waitFor(() =>
        expect(replicaStats('replica1').lagBytes).toBeGreaterThan(first + 500_000),
      )
      expect(replicaStats('replica1').lagSeconds).toBeGreaterThan(0)
      // replica2 replays as usual.
      await vi.waitFor(() =>
        expect(replicaStats('replica2')).toMatchObject({ lagBytes: 0, lagging: false }),
      )
      expect(await readPorts(20)).toEqual(new Set([replica2.port]))
      expect(lagEvents.filter((event) => event.node === 'replica1')).toEqual([
        {
          node: 'replica1',
          bytes: expect.any(Number),
          seconds: expect.any(Number),
          excluded: true,
        },
      ])
    } finally {
      await cluster.resumeReplay(replica1)
    }
    await vi.waitFor(
      () =>
        expect(replicaStats('replica1')).toMatchObject({
          lagBytes: 0,
          lagSeconds: 0,
          lagging: false,
        }),
      {
        timeout: 5000,
      },
    )
    expect(lagEvents.filter((event) => event.node === 'replica1').at(-1)).toEqual({
      node: 'replica1',
      bytes: 0,
      seconds: 0,
      excluded: false,
    })
    expect(await readPorts(20)).toEqual(new Set([replica1.port, replica2.port]))
  })
})

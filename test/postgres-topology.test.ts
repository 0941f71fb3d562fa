import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { type Generated, Kysely } from 'kysely'
import {
  isConnectionError,
  NoPrimaryError,
  type ReplicasEventMap,
  replicationOf,
  SplitBrainError,
} from 'kysely-replicas'
// By path until test/tsconfig.json maps kysely-replicas/postgres to the sources.
import {
  createPostgresReplicatedDialect,
  type PostgresReplicatedDialectConfig,
  type PostgresTopologyOptions,
} from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { serverPort } from './support/replicated-database.js'

// The topology monitor and createPostgresReplicatedDialect on real servers: the unit tests in
// packages/kysely-replicas/test/postgres run the same behaviour on fake pools. Stops, promotes
// and freezes nodes, so it runs on a cluster of its own; the tests run in order, the last one
// fails the primary over for good.
const table = 'topology_note'
const APP = 'topology-test'

interface Database {
  topology_note: { id: Generated<number> }
}

let cluster: PgCluster
let replica1: PgClusterNode
let replica2: PgClusterNode
const opened: Kysely<Database>[] = []

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  const [first, second] = cluster.replicas
  if (first === undefined || second === undefined) throw new Error('two replicas expected')
  replica1 = first
  replica2 = second
  await cluster.query('primary', `create table ${table} (id serial primary key)`)
  await cluster.waitForReplay()
})

afterAll(async () => {
  await Promise.allSettled(opened.map((db) => db.destroy()))
  await cluster?.stop()
})

/** A Kysely over every node of the cluster, the primary listed first unless `order` says. */
function open(
  topology: PostgresTopologyOptions,
  order: readonly PgClusterNode[] = [cluster.primary, replica1, replica2],
  options: Partial<PostgresReplicatedDialectConfig<pg.PoolConfig>> = {},
) {
  const db = new Kysely<Database>({
    dialect: createPostgresReplicatedDialect<pg.PoolConfig>({
      Pool: pg.Pool,
      nodes: order.map((node) => ({ name: node.name, ...node.poolConfig() })),
      poolOptions: { application_name: APP },
      topology,
      health: { probeIntervalMs: 100, maxProbeIntervalMs: 400, probeTimeoutMs: 1000 },
      readYourWrites: false,
      ...options,
    }),
  })
  opened.push(db)
  const events: Array<[keyof ReplicasEventMap, unknown]> = []
  for (const name of ['node-down', 'role-change', 'split-brain'] as const) {
    replicationOf(db).on(name, (event) => events.push([name, event]))
  }
  const stats = (name: string) =>
    replicationOf(db)
      .stats()
      .find((node) => node.name === name)
  return { db, events, stats }
}

const write = async (db: Kysely<Database>) =>
  (await db.insertInto(table).defaultValues().returning(serverPort).executeTakeFirstOrThrow()).port

async function readPorts(db: Kysely<Database>, reads = 6): Promise<Set<number>> {
  const ports = new Set<number>()
  for (let i = 0; i < reads; i++) {
    const row = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
    ports.add(row.port)
  }
  return ports
}

/** Sessions this file's pools hold on `node`. */
async function ownSessions(node: PgClusterNode): Promise<number> {
  const [row] = await cluster.query<{ n: number }>(
    node,
    'select count(*)::int as n from pg_stat_activity where application_name = $1',
    [APP],
  )
  return row?.n ?? -1
}

/** Freezes every process of a node (SIGSTOP to its process group): it accepts TCP, answers nothing. */
function freeze(node: PgClusterNode): () => void {
  const pid = node.pid
  if (pid === undefined) throw new Error(`${node.name} is not running`)
  process.kill(-pid, 'SIGSTOP')
  return () => process.kill(-pid, 'SIGCONT')
}

const generous = { timeout: 20_000, interval: 50 }

describe('createPostgresReplicatedDialect on a real cluster', () => {
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((db) => db.destroy()))
  })

  it('finds the primary whatever the order of nodes, and closes every connection on destroy', async () => {
    const { db, stats } = open({}, [replica1, cluster.primary, replica2])
    expect(await write(db)).toBe(cluster.primary.port)
    expect(await readPorts(db)).toEqual(new Set([replica1.port, replica2.port]))
    expect([stats('replica1')?.role, stats('primary')?.role, stats('replica2')?.role]).toEqual([
      'replica',
      'primary',
      'replica',
    ])
    expect(await ownSessions(cluster.primary)).toBeGreaterThan(0)
    opened.splice(opened.indexOf(db), 1)
    await db.destroy()
    await vi.waitFor(async () => {
      for (const node of cluster.nodes) expect(await ownSessions(node)).toBe(0)
    }, generous)
  })

  it('marks down a node that does not answer its check in time, without holding up the others', async () => {
    const thaw = freeze(replica2)
    try {
      const { db, events, stats } = open({ timeoutMs: 300 })
      // replica2 cannot answer while frozen: the first check went on without it.
      expect(await write(db)).toBe(cluster.primary.port)
      expect(stats('replica2')?.healthy).toBe(false)
      expect(events).toContainEqual([
        'node-down',
        { node: 'replica2', error: expect.stringContaining('did not answer') },
      ])
      expect(await readPorts(db)).toEqual(new Set([replica1.port]))
      thaw()
      await vi.waitFor(() => expect(stats('replica2')?.healthy).toBe(true), generous)
      expect(await readPorts(db)).toEqual(new Set([replica1.port, replica2.port]))
    } finally {
      thaw()
    }
  })

  it('refuses writes while two nodes are out of recovery, keeps reads going, and takes writes again once one is a standby', async () => {
    const { db, events, stats } = open({ intervalMs: 200 })
    expect(await write(db)).toBe(cluster.primary.port)
    // A promotion behind the kit's back: replica2 leaves recovery while the primary runs.
    await cluster.query(replica2, 'select pg_promote(true, 60)')
    await vi.waitFor(() => expect(stats('replica2')?.role).toBe('primary'), generous)
    const refused = await write(db).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(SplitBrainError)
    expect((refused as SplitBrainError).nodes).toEqual(['primary', 'replica2'])
    expect(await readPorts(db)).toEqual(new Set([replica1.port]))
    expect(events.filter(([name]) => name === 'split-brain')).toEqual([
      ['split-brain', { nodes: ['primary', 'replica2'] }],
    ])

    const preferred = open({ intervalMs: 200, splitBrain: 'prefer-configured' })
    expect(await write(preferred.db)).toBe(cluster.primary.port)
    expect(await readPorts(preferred.db)).toEqual(new Set([replica1.port]))

    // Rebuilt as a standby of the primary (a restart: its old sessions are gone, it is probed back).
    await cluster.rejoinAsReplica(replica2)
    await vi.waitFor(() => expect(stats('replica2')?.role).toBe('replica'), generous)
    expect(await write(db)).toBe(cluster.primary.port)
    await vi.waitFor(
      async () => expect(await readPorts(db)).toEqual(new Set([replica1.port, replica2.port])),
      generous,
    )
  })

  it('checks at once when the primary fails, long before the interval, and follows the promotion', async () => {
    // Ten minutes between regular checks: only the check a failure asks for, and the faster
    // ones while no node takes writes, can explain what follows.
    const { db, stats } = open({ intervalMs: 600_000 })
    expect(await write(db)).toBe(cluster.primary.port)
    await cluster.kill('primary')
    const failed = await write(db).catch((error: unknown) => error)
    expect(isConnectionError(failed) || failed instanceof NoPrimaryError, String(failed)).toBe(true)
    await vi.waitFor(() => expect(stats('primary')?.healthy).toBe(false), generous)
    await expect(write(db)).rejects.toThrow(NoPrimaryError)

    await cluster.promote(replica1)
    await vi.waitFor(() => expect(stats('replica1')?.role).toBe('primary'), generous)
    expect(await write(db)).toBe(replica1.port)
  })
})

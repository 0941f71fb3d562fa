import { PgCluster } from '@kysely-replicas/pg-cluster'
import { sql } from 'kysely'
import { replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createReplicatedDatabase, serverPort } from './support/replicated-database.js'

// Kills and restarts servers, so it runs on a cluster of its own.
let cluster: PgCluster
let database: ReturnType<typeof createReplicatedDatabase>

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  const info = (node: (typeof cluster.nodes)[number]) => ({ name: node.name, ...node.poolConfig() })
  database = createReplicatedDatabase(
    { health: { probeIntervalMs: 100, maxProbeIntervalMs: 400, probeTimeoutMs: 1000 } },
    { primary: info(cluster.primary), replicas: cluster.replicas.map(info) },
  )
  await database.db.schema.createTable('probe').addColumn('id', 'integer').execute()
  await cluster.waitForReplay()
})

afterAll(async () => {
  await database?.db.destroy()
  await cluster?.stop()
})

interface Served {
  readonly port: number
  readonly startedAt: number
}

/** Reads in `workers` loops until `stop()`; every failure is kept. */
function readLoad(workers: number) {
  const served: Served[] = []
  const failures: unknown[] = []
  let running = true
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const startedAt = performance.now()
      try {
        const { port } = await database.db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
        served.push({ port, startedAt })
      } catch (error) {
        failures.push(error)
      }
    }
  })
  return {
    served,
    failures,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** When a server accepts connections again, polled every 10 ms. */
async function acceptingAt(port: number): Promise<number> {
  for (;;) {
    const client = new pg.Client({
      ...cluster.primary.poolConfig(),
      port,
      connectionTimeoutMillis: 500,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.end()
      return performance.now()
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('replica failures under a read load', () => {
  it('loses no read when a replica is killed, and gives it reads again once it is back', async () => {
    const victim = cluster.replicas[0]
    if (victim === undefined) throw new Error('no replica')
    const load = readLoad(4)
    await pause(500)
    const killedAt = performance.now()
    await cluster.kill(victim)
    // kill() returns once every process of the node is gone: no read can be served there after.
    const deadAt = performance.now()
    await pause(1500)
    const restartedAt = performance.now()
    const restarting = cluster.start(victim)
    const acceptedAt = await acceptingAt(victim.port)
    await restarting
    const servedAgain = () =>
      load.served.some((read) => read.port === victim.port && read.startedAt >= acceptedAt)
    // Generous: probes back off, and a loaded machine is slow.
    await vi.waitFor(() => expect(servedAgain()).toBe(true), { timeout: 20_000, interval: 50 })
    await load.stop()

    expect(load.failures.map(String)).toEqual([])
    const onVictim = load.served.filter((read) => read.port === victim.port)
    expect(onVictim.some((read) => read.startedAt < killedAt)).toBe(true)
    expect(
      onVictim.filter((read) => read.startedAt > deadAt && read.startedAt < restartedAt),
    ).toEqual([])
    expect(
      replicationOf(database.db)
        .stats()
        .every((node) => node.healthy),
    ).toBe(true)
  })

  it('keeps reading from the primary when both replicas are down', async () => {
    const [first, second] = cluster.replicas
    if (first === undefined || second === undefined) throw new Error('two replicas expected')
    await cluster.kill(first)
    await cluster.kill(second)
    try {
      const ports: number[] = []
      for (let i = 0; i < 20; i++) {
        ports.push((await database.db.selectNoFrom(serverPort).executeTakeFirstOrThrow()).port)
      }
      expect(ports).toEqual(Array(20).fill(database.primaryPort))
    } finally {
      await cluster.start(first)
      await cluster.start(second)
    }
  })
})

describe('errors that are not health problems', () => {
  it('lets a SQL error on a replica through and marks nothing down', async () => {
    // The replicas restarted by the test before may still be waiting for their next probe.
    await vi.waitFor(
      () =>
        expect(
          replicationOf(database.db)
            .stats()
            .every((node) => node.healthy),
        ).toBe(true),
      {
        timeout: 5000,
      },
    )
    await expect(sql`select * from no_such_table`.execute(database.db.onReplica())).rejects.toThrow(
      /does not exist/,
    )
    await expect(
      database.db
        .selectFrom('no_such_table' as 'probe')
        .selectAll()
        .execute(),
    ).rejects.toThrow(/does not exist/)
    expect(
      replicationOf(database.db)
        .stats()
        .every((node) => node.healthy),
    ).toBe(true)
  })

  it('does not retry a write whose connection was terminated', async () => {
    await database.db.schema.createTable('once').addColumn('n', 'integer').execute()
    // Settled at once, so that its rejection is never unhandled while the admin connection works.
    const write = database.db
      .insertInto('once')
      .expression(sql<{ n: number }>`select 1 from pg_sleep(1)`)
      .execute()
      .then(
        () => undefined,
        (error: unknown) => error,
      )
    const admin = new pg.Client(cluster.primary.poolConfig())
    admin.on('error', () => {})
    await admin.connect()
    try {
      for (let attempt = 0; attempt < 100; attempt++) {
        const { rowCount } = await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where query like \'insert into "once"%\' and pid <> pg_backend_pid()',
        )
        if (rowCount) break
        await pause(20)
      }
    } finally {
      await admin.end()
    }
    expect(String(await write)).toMatch(/terminat/)
    await pause(1500)
    const { count } = await database.db
      .onPrimary()
      .selectFrom('once')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow()
    expect(Number(count)).toBe(0)
  })
})

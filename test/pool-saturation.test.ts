import { Kysely, sql } from 'kysely'
import { NoPrimaryError, replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect, postgresTopology } from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import {
  clusterNodes,
  createReplicatedDatabase,
  type Database,
  serverPort,
} from './support/replicated-database.js'

// A pool whose clients are all busy makes a caller wait in its queue; past
// connectionTimeoutMillis pg-pool fails it with "timeout exceeded when trying to connect". That
// says the pool is full, not that the server is gone: no node may be marked down for it.

const POOL = { max: 2, connectionTimeoutMillis: 300 }
const SLEEP = sql`pg_sleep(1)`.as('slept')

let destroy: (() => Promise<void>) | undefined
afterEach(async () => {
  await destroy?.()
  destroy = undefined
})

/** Every `node-down` of the instance, by node name. */
function recordDowns(db: Kysely<Database>): string[] {
  const downs: string[] = []
  replicationOf(db).on('node-down', ({ node }) => downs.push(node))
  return downs
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const settle = <T>(promises: Array<Promise<T>>) => Promise.allSettled(promises)

const failuresOf = (results: PromiseSettledResult<unknown>[]) =>
  results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []))

describe('replica pools that are all busy', () => {
  it('marks no replica down: reads wait, move on, or fail with the pool timeout', async () => {
    const { primary, replicas } = clusterNodes()
    const { db, replicaPorts } = createReplicatedDatabase(
      {},
      {
        primary: { ...primary, ...POOL },
        replicas: replicas.map((replica) => ({ ...replica, ...POOL })),
      },
    )
    destroy = () => db.destroy()
    const downs = recordDowns(db)

    // Eight slow reads for four replica connections.
    const results = await settle(
      Array.from({ length: 8 }, () =>
        db.selectNoFrom([serverPort, SLEEP]).executeTakeFirstOrThrow(),
      ),
    )

    const served = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.port] : []))
    const failures = failuresOf(results)
    const onReplicas = served.filter((port) => replicaPorts.includes(port)).length
    console.info(
      `replica saturation: ${downs.length} node-down (${downs.join(', ') || 'none'}), ` +
        `${onReplicas} reads on replicas, ${served.length - onReplicas} on the primary, ${failures.length} failed`,
    )
    expect(downs).toEqual([])
    expect(
      replicationOf(db)
        .stats()
        .every((node) => node.healthy),
    ).toBe(true)
    expect(onReplicas).toBeGreaterThanOrEqual(4)
    for (const failure of failures) {
      expect(failure.message).toBe('timeout exceeded when trying to connect')
    }
    // The replicas still serve reads at once.
    const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
    expect(replicaPorts).toContain(port)
  })

  it('with fallback none, a read that found no free connection fails with the pool timeout', async () => {
    const { primary, replicas } = clusterNodes()
    const { db } = createReplicatedDatabase(
      { fallback: 'none' },
      {
        primary: { ...primary, ...POOL },
        replicas: replicas.map((replica) => ({ ...replica, ...POOL })),
      },
    )
    destroy = () => db.destroy()
    const downs = recordDowns(db)

    const results = await settle(
      Array.from({ length: 8 }, () =>
        db.selectNoFrom([serverPort, SLEEP]).executeTakeFirstOrThrow(),
      ),
    )

    expect(downs).toEqual([])
    const failures = failuresOf(results)
    expect(failures.length).toBeGreaterThan(0)
    for (const failure of failures) {
      expect(failure.message).toBe('timeout exceeded when trying to connect')
    }
    // Nothing is down: the next read is served, not refused with NoReplicaAvailableError.
    await expect(db.selectNoFrom(serverPort).executeTakeFirstOrThrow()).resolves.toBeDefined()
  })
})

/** Keeps `busy` slow statements running on the primary (raw SQL goes there) until stopped. */
function occupyPrimary(db: Kysely<Database>, busy: number) {
  let running = true
  const errors: unknown[] = []
  const loops = Array.from({ length: busy }, async () => {
    while (running) {
      await sql`select pg_sleep(0.5)`.execute(db).catch(async (error: unknown) => {
        errors.push(error)
        await pause(10)
      })
    }
  })
  return {
    errors,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** Writes in a loop while the primary's pool is busy; every outcome is kept. */
async function writeWhileBusy(db: Kysely<Database>, forMs: number) {
  await db.schema
    .createTable('saturated_primary')
    .ifNotExists()
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text')
    .execute()
  const busy = occupyPrimary(db, 6)
  const outcomes: unknown[] = []
  const until = Date.now() + forMs
  while (Date.now() < until) {
    try {
      await db.insertInto('saturated_primary').values({ name: 'busy' }).execute()
      outcomes.push(undefined)
    } catch (error) {
      outcomes.push(error)
      // A refused write fails at once: let the event loop run.
      await pause(10)
    }
  }
  await busy.stop()
  const errors = [...outcomes.filter((error) => error !== undefined), ...busy.errors]
  return { writes: outcomes.length, errors }
}

describe('a primary pool that is all busy, with the topology monitor on', () => {
  const topology = { intervalMs: 50, timeoutMs: 500 }
  const health = { probeIntervalMs: 50, maxProbeIntervalMs: 200, probeTimeoutMs: 500 }

  it.each([
    [
      'createPostgresReplicatedDialect',
      () => {
        const { primary, replicas } = clusterNodes()
        return new Kysely<Database>({
          dialect: createPostgresReplicatedDialect({
            Pool: pg.Pool,
            nodes: [primary, ...replicas],
            poolOptions: POOL,
            topology,
            health,
          }),
        })
      },
    ],
    [
      'postgresTopology() over pools of your own',
      () => {
        const { primary, replicas } = clusterNodes()
        return createReplicatedDatabase(
          { monitor: postgresTopology(topology), health },
          {
            primary: { ...primary, ...POOL },
            replicas: replicas.map((replica) => ({ ...replica, ...POOL })),
          },
        ).db
      },
    ],
  ])(
    '%s: the primary is never declared down and writes never get NoPrimaryError',
    async (_, create) => {
      const db = create()
      destroy = () => db.destroy()
      const downs = recordDowns(db)

      const { writes, errors } = await writeWhileBusy(db, 3000)

      const refused = errors.filter((error) => error instanceof NoPrimaryError).length
      console.info(
        `primary saturation: ${writes} writes, ${errors.length} failed (${refused} NoPrimaryError), ` +
          `${downs.length} node-down (${downs.join(', ') || 'none'})`,
      )
      expect(downs).toEqual([])
      expect(refused).toBe(0)
      for (const error of errors) {
        expect((error as Error).message).toBe('timeout exceeded when trying to connect')
      }
      await expect(
        db.insertInto('saturated_primary').values({ name: 'after' }).execute(),
      ).resolves.toBeDefined()
    },
  )
})

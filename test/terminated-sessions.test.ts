import { Kysely } from 'kysely'
import { NoPrimaryError, replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect, postgresTopology } from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import {
  clusterNodes,
  createReplicatedDatabase,
  type Database,
} from './support/replicated-database.js'

// pg_terminate_backend ends one session (57P01 "terminating connection due to administrator
// command"); the server is still up. Only the sessions of this file are terminated (by their
// application_name): other files share the cluster.
const APPLICATION = 'kr-terminated-sessions'
const TABLE = 'terminated_sessions'
const TERMINATIONS = 12

let destroy: (() => Promise<void>) | undefined
afterEach(async () => {
  await destroy?.()
  destroy = undefined
})

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Ends every session of this file on the primary, from a connection of its own. */
async function terminateSessions(): Promise<number> {
  const client = new pg.Client(clusterNodes().primary)
  client.on('error', () => {})
  await client.connect()
  try {
    // The pids first: a single statement may call pg_terminate_backend before filtering.
    const { rows } = await client.query(
      'select pid from pg_stat_activity where application_name = $1',
      [APPLICATION],
    )
    const pids = rows.map((row: { pid: number }) => row.pid)
    await client.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [pids])
    return pids.length
  } finally {
    await client.end()
  }
}

/** `writers` loops inserting rows until `stop()`; every outcome kept. */
function writeLoad(db: Kysely<Database>, writers: number) {
  const outcomes: Array<{ at: number; error?: unknown }> = []
  let running = true
  const loops = Array.from({ length: writers }, async () => {
    while (running) {
      try {
        await db.insertInto(TABLE).values({ name: 'w' }).execute()
        outcomes.push({ at: performance.now() })
      } catch (error) {
        outcomes.push({ at: performance.now(), error })
        await pause(10)
      }
    }
  })
  return {
    outcomes,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

// Checks every 20 ms, so that terminations often hit the monitor's own session mid-check.
const topology = { intervalMs: 20, timeoutMs: 1000 }
const health = { probeIntervalMs: 50, maxProbeIntervalMs: 200, probeTimeoutMs: 1000 }

describe('sessions of the primary terminated by an administrator', () => {
  it.each([
    [
      'createPostgresReplicatedDialect',
      () => {
        const { primary, replicas } = clusterNodes()
        return new Kysely<Database>({
          dialect: createPostgresReplicatedDialect({
            Pool: pg.Pool,
            nodes: [primary, ...replicas],
            poolOptions: { max: 4, application_name: APPLICATION },
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
        const own = { application_name: APPLICATION }
        return createReplicatedDatabase(
          { monitor: postgresTopology(topology), health },
          {
            primary: { ...primary, ...own },
            replicas: replicas.map((replica) => ({ ...replica, ...own })),
          },
        ).db
      },
    ],
  ])('%s: the primary is not marked down and no write gets NoPrimaryError', async (_, create) => {
    const db = create()
    destroy = () => db.destroy()
    await db.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn('id', 'serial', (col) => col.primaryKey())
      .addColumn('name', 'text')
      .execute()
    const downs: string[] = []
    replicationOf(db).on('node-down', ({ node }) => downs.push(node))

    const writes = writeLoad(db, 4)
    let ended = 0
    for (let round = 0; round < TERMINATIONS; round++) {
      await pause(150)
      ended += await terminateSessions()
    }
    await pause(300)
    const after = performance.now()
    await pause(300)
    await writes.stop()

    const failed = writes.outcomes.filter((o) => o.error !== undefined)
    const refused = failed.filter((o) => o.error instanceof NoPrimaryError).length
    console.info(
      `terminations: ${TERMINATIONS} rounds ended ${ended} sessions; ${writes.outcomes.length} writes, ` +
        `${failed.length} failed (${refused} NoPrimaryError), ` +
        `${downs.length} node-down (${downs.join(', ') || 'none'})`,
    )
    expect(ended).toBeGreaterThan(TERMINATIONS)
    expect(downs.filter((node) => node === 'primary')).toEqual([])
    expect(refused).toBe(0)
    // Writes in flight on a terminated session fail; the writes after the last one succeed.
    expect(writes.outcomes.some((o) => o.at > after && o.error === undefined)).toBe(true)
    await expect(db.insertInto(TABLE).values({ name: 'after' }).execute()).resolves.toBeDefined()
  })
})

import net from 'node:net'
import { Kysely, sql } from 'kysely'
import { NoReplicaAvailableError, replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect } from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { clusterNodes, type Database, serverPort } from './support/replicated-database.js'

// With every replica dead, reads fall back to the primary, whose pool the writes need. Slow
// fallback reads must not take all of it: beyond half of the primary's pool (what
// createPostgresReplicatedDialect allows by default), they are refused, and writes go through.

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) {
    await step()
  }
  cleanup = []
})

/** A port on 127.0.0.1 where nothing listens: connections to it are refused, as by a dead host. */
async function deadPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Sessions waiting for the lock on budget_locked. */
async function blockedOnLock(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ count: number }>(
    "select count(*)::int as count from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'budget_locked' and not l.granted",
  )
  return rows[0]?.count ?? 0
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 15_000
  while (!(await check())) {
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('fallback reads on the primary with every replica dead', () => {
  it('never take the connections that writes need: beyond the budget they are refused', async () => {
    const { primary, replicas } = clusterNodes()
    const dead = await Promise.all(replicas.map(deadPort))
    const admin = new pg.Client(primary)
    await admin.connect()
    await admin.query(
      'create table if not exists budget_locked (id int); create table if not exists budget_writes (id serial primary key, name text)',
    )
    const db = new Kysely<Database>({
      dialect: createPostgresReplicatedDialect({
        Pool: pg.Pool,
        nodes: [primary, ...replicas.map((replica, index) => ({ ...replica, port: dead[index] }))],
        // 4 connections to the primary: fallback reads get 2 of them by default.
        poolOptions: { max: 4, connectionTimeoutMillis: 5000 },
        topology: false,
      }),
    })
    cleanup.push(() => db.destroy())
    // Ends the lock first if the test failed while holding it: the reads need it to end.
    cleanup.push(() => admin.end())

    // The reads block on a lock the test holds, so they stay in flight until it lets them go.
    await admin.query('begin; lock table budget_locked in access exclusive mode')
    const order: string[] = []
    const reads = Array.from({ length: 8 }, () =>
      db
        .selectFrom('budget_locked')
        .select([serverPort, sql<number>`count(*)`.as('count')])
        .executeTakeFirstOrThrow()
        .then(
          ({ port }) => {
            order.push(port === primary.port ? 'read on the primary' : 'read elsewhere')
          },
          (error: unknown) => {
            order.push(error instanceof NoReplicaAvailableError ? 'read refused' : String(error))
          },
        ),
    )
    // The writes start once fallback reads hold connections of the primary, blocked on the lock.
    await until(
      async () => (await blockedOnLock(admin)) >= 2,
      'fallback reads to block on the lock',
    )
    const writers = Array.from({ length: 2 }, async () => {
      for (let row = 0; row < 5; row++) {
        await db.insertInto('budget_writes').values({ name: 'during fallback' }).execute()
        order.push('write')
      }
    })
    await Promise.all(writers)
    const refusals = () => order.filter((step) => step === 'read refused').length
    await until(async () => refusals() === 6, 'the reads beyond the budget to be refused')
    order.push('lock released')
    await admin.query('commit')
    await Promise.all(reads)

    console.info(`fallback budget: ${order.join(', ')}`)
    const released = order.indexOf('lock released')
    // Every write was acknowledged while the fallback reads still held their connections.
    expect(order.slice(0, released).filter((step) => step === 'write')).toHaveLength(10)
    expect(refusals()).toBe(6)
    expect(order.slice(released + 1)).toEqual(['read on the primary', 'read on the primary'])
    // Half of the pool of 4, the default of createPostgresReplicatedDialect.
    expect(replicationOf(db).fallbackReads()).toEqual({ running: 0, maxConcurrent: 2, refused: 6 })
  })
})

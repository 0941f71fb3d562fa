import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { sql } from 'kysely'
import { type ConsistencyEvent, replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createReplicatedDatabase, serverPort } from './support/replicated-database.js'

// Reads that read-your-writes sends to the primary, while the primary's sessions are terminated
// or the primary is gone. This file kills its cluster's primary: it has a cluster of its own.
const table = 'without_primary'
const APPLICATION = 'reads-without-primary'

let cluster: PgCluster
const opened: Array<ReturnType<typeof createReplicatedDatabase>> = []

type Options = Parameters<typeof createReplicatedDatabase>[0]

function open(options: Options = {}) {
  const info = (node: PgClusterNode) => ({
    name: node.name,
    ...node.poolConfig(),
    application_name: APPLICATION,
  })
  const database = createReplicatedDatabase(options, {
    primary: info(cluster.primary),
    replicas: cluster.replicas.map(info),
  })
  opened.push(database)
  return database
}

/** Terminates every session this file's pools hold on the primary, as an administrator would. */
async function terminatePrimarySessions(): Promise<number> {
  const client = new pg.Client(cluster.primary.poolConfig())
  await client.connect()
  try {
    const { rows } = await client.query(
      'select count(pg_terminate_backend(pid))::int as terminated from pg_stat_activity where application_name = $1',
      [APPLICATION],
    )
    return rows[0].terminated
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  const { db } = open({ readYourWrites: false })
  await db.schema
    .createTable(table)
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .execute()
})

afterAll(async () => {
  await Promise.allSettled(opened.map(({ db }) => db.destroy()))
  await cluster?.stop()
})

describe('a read that read-your-writes sent to the primary', () => {
  it('is retried when its session on the primary was terminated', async () => {
    // Sticky mode sends the scope's reads to the primary for the window after its write.
    const { db, primaryPort } = open({ readYourWrites: { mode: 'sticky', windowMs: 600_000 } })
    let failed = 0
    let terminated = 0
    await replicationOf(db).runInScope(async () => {
      await db.insertInto(table).values({ name: 'sticky' }).execute()
      for (let round = 0; round < 20; round++) {
        // Warm connections in the pool, then their sessions are terminated under them.
        await Promise.all(
          Array.from({ length: 4 }, () => db.selectFrom(table).select(serverPort).execute()),
        )
        terminated += await terminatePrimarySessions()
        const rows = await db
          .selectFrom(table)
          .select(serverPort)
          .limit(1)
          .execute()
          .catch(() => undefined)
        if (rows?.[0]?.port !== primaryPort) failed++
      }
    })
    expect(terminated).toBeGreaterThan(0)
    expect(failed).toBe(0)
  })
})

describe('with the primary gone', () => {
  it('serves a token’s reads from the replicas in a process that starts during the failover', async () => {
    const writer = open()
    const token = await replicationOf(writer.db).runInScope(async () => {
      await writer.db.insertInto(table).values({ name: 'before the failover' }).execute()
      return replicationOf(writer.db).token()
    })
    await cluster.waitForReplay()
    await cluster.kill(cluster.primary)
    // A process started now cannot reach the primary to check the token's cluster.
    const { db, replicaPorts } = open()
    const ports: number[] = []
    await replicationOf(db).runInScope(async () => {
      for (let round = 0; round < 4; round++) {
        const row = await db
          .selectFrom(table)
          .select(serverPort)
          .where('name', '=', 'before the failover')
          .executeTakeFirst()
        ports.push(row?.port ?? 0)
      }
    }, token)
    expect(ports.every((port) => replicaPorts.includes(port))).toBe(true)
  })

  it('serves a read that should go to the primary from a replica, and says so', async () => {
    const { db, replicaPorts } = open({ readYourWrites: { mode: 'sticky', windowMs: 600_000 } })
    const events: ConsistencyEvent[] = []
    replicationOf(db).on('consistency', (event) => events.push(event))
    // A write the scope made before the primary went away keeps its reads on the primary.
    const token = `ryw1...${Date.now().toString(36)}`
    const rows = await replicationOf(db).runInScope(
      () => sql<{ port: number }>`select inet_server_port() as port`.execute(db.onReplica()),
      token,
    )
    expect(replicaPorts).toContain(rows.rows[0]?.port)
    const row = await replicationOf(db).runInScope(
      () => db.selectFrom(table).select(serverPort).limit(1).executeTakeFirst(),
      token,
    )
    expect(replicaPorts).toContain(row?.port)
    expect(events.map((event) => event.kind)).toContain('read-unconfirmed')
  })
})

import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type PatroniCluster, PgCluster } from '@kysely-replicas/pg-cluster'
import { type Generated, Kysely, sql } from 'kysely'
import {
  isConnectionError,
  NoPrimaryError,
  type RoleChangeEvent,
  replicationOf,
} from 'kysely-replicas'
import { createPostgresReplicatedDialect, patroniTopology } from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'

// One Patroni cluster for the whole file (it takes ~10 s to form, a failover ~ttl = 10 s), in
// synchronous_mode: a commit is acknowledged once the synchronous standby has it, and only that
// standby may be promoted, so a failover loses no acknowledged write. Nobody calls promote here:
// the leader's host (its Patroni and its PostgreSQL) is killed and Patroni elects another.

interface Database {
  ha_write: { id: number }
  [table: string]: { id: Generated<number> } | { id: number }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const serverPort = sql<number>`inet_server_port()`.as('port')

describe.skipIf(!inject('haAvailable'))('a Patroni cluster', () => {
  let cluster: PatroniCluster
  let db: Kysely<Database>
  const roleChanges: RoleChangeEvent[] = []
  const downs: Array<{ node: string; at: number }> = []

  const connect = (urls: readonly string[]) =>
    new Kysely<Database>({
      dialect: createPostgresReplicatedDialect({
        Pool: pg.Pool,
        nodes: cluster.nodes.map((node) => ({ name: node.name, ...node.poolConfig(), max: 4 })),
        monitor: patroniTopology({ urls }),
        health: { probeIntervalMs: 100, maxProbeIntervalMs: 400, probeTimeoutMs: 1000 },
      }),
    })

  beforeAll(async () => {
    cluster = await PgCluster.start({ ha: 'patroni', replicas: 2, synchronousMode: true })
    db = connect(cluster.nodes.map((node) => node.patroniUrl))
    replicationOf(db).on('role-change', (event) => roleChanges.push(event))
    replicationOf(db).on('node-down', ({ node }) => downs.push({ node, at: performance.now() }))
    await db.schema
      .createTable('ha_write')
      .addColumn('id', 'integer', (col) => col.primaryKey())
      .execute()
  })

  afterAll(async () => {
    await db?.destroy()
    await cluster?.stop()
  })

  it('takes roles from Patroni: its leader gets the writes, the others the reads', async () => {
    const leader = cluster.primary
    const stats = replicationOf(db).stats()
    expect(stats.filter((node) => node.role === 'primary').map((node) => node.name)).toEqual([
      leader.name,
    ])
    const written = await db
      .insertInto('ha_write')
      .values({ id: -1 })
      .returning(serverPort)
      .executeTakeFirstOrThrow()
    expect(written.port).toBe(leader.port)
    const read = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
    expect(cluster.replicas.map((node) => node.port)).toContain(read.port)
  })

  it('falls back to SQL checks when no Patroni REST API answers', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    // A port nothing listens on: the API is unreachable, the servers are not.
    const blind = connect(['http://127.0.0.1:9'])
    try {
      const written = await blind
        .insertInto('ha_write')
        .values({ id: -2 })
        .returning(serverPort)
        .executeTakeFirstOrThrow()
      expect(written.port).toBe(cluster.primary.port)
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/no Patroni REST API answers/))
    } finally {
      await blind.destroy()
      warn.mockRestore()
    }
  })

  it('leaves no primary-failure listener behind after each outage of the REST API', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const outages = () =>
      warn.mock.calls.filter((call) => /no Patroni REST API answers/.test(String(call[0]))).length
    // Patroni's /cluster, or 503 while `down`: the API is lost, then answers again.
    let down = false
    let answered = 0
    const api = http.createServer((request, response) => {
      if (down) {
        response.writeHead(503).end()
        return
      }
      answered++
      fetch(new URL(request.url ?? '/', cluster.primary.patroniUrl))
        .then(async (answer) => response.writeHead(answer.status).end(await answer.text()))
        .catch(() => response.writeHead(502).end())
    })
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
    let listeners = 0
    const patroni = patroniTopology({
      urls: [`http://127.0.0.1:${(api.address() as AddressInfo).port}`],
      intervalMs: 100,
      outageIntervalMs: 100,
      timeoutMs: 300,
    })
    const counted = new Kysely<Database>({
      dialect: createPostgresReplicatedDialect({
        Pool: pg.Pool,
        nodes: cluster.nodes.map((node) => ({ name: node.name, ...node.poolConfig(), max: 2 })),
        // The monitor's context, counting the listeners it holds.
        monitor: (context) =>
          patroni(
            new Proxy(context, {
              get(target, key) {
                if (key !== 'onPrimaryFailure') return Reflect.get(target, key, target)
                return (listener: () => void) => {
                  listeners++
                  const off = target.onPrimaryFailure(listener)
                  let removed = false
                  return () => {
                    if (!removed) listeners--
                    removed = true
                    off?.()
                  }
                }
              },
            }),
          ),
      }),
    })
    try {
      await counted.selectNoFrom(serverPort).execute()
      for (let outage = 1; outage <= 4; outage++) {
        down = true
        // Logged once per outage, when the monitor turns to SQL checks.
        await vi.waitFor(() => expect(outages()).toBe(outage), { timeout: 20_000, interval: 20 })
        down = false
        // Rounds run one at a time: a second answer means the first one's round, which closed
        // the SQL checks, is over.
        const before = answered
        await vi.waitFor(() => expect(answered).toBeGreaterThanOrEqual(before + 2), {
          timeout: 20_000,
          interval: 20,
        })
      }
      // The monitor's own listener; the SQL checks that stood in for each outage took theirs away.
      expect(listeners).toBe(1)
    } finally {
      await counted.destroy()
      api.closeAllConnections()
      await new Promise((resolve) => api.close(resolve))
      warn.mockRestore()
    }
    expect(listeners).toBe(0)
  })

  it('follows a failover under load: no read fails, writes resume on the new leader, none lost', async () => {
    const old = cluster.primary
    const writes = writeLoad(db, 4)
    const reads = readLoad(db, 8)
    try {
      await pause(1000)

      const killedAt = performance.now()
      await cluster.kill(old)
      const leader = await cluster.waitForLeader({ not: old })
      const leaderAt = performance.now()
      await vi.waitFor(
        () => expect(writes.acked().some((write) => write.at > leaderAt)).toBe(true),
        { timeout: 30_000, interval: 10 },
      )
      await pause(500)
      await writes.stop()

      const acked = writes.acked()
      const failed = writes.outcomes.filter((write) => write.error !== undefined)
      const firstAfter = acked.find((write) => write.at > leaderAt)
      console.info(
        `patroni failover: ${old.name} killed, ${leader.name} leader after ` +
          `${Math.round(leaderAt - killedAt)} ms, first write ${Math.round((firstAfter?.at ?? Number.NaN) - leaderAt)} ms later; ` +
          `${acked.length} writes acknowledged, ${failed.length} failed, ${reads.count()} reads`,
      )

      // Every acknowledged write is on the new leader; writes failed only as refused (no primary)
      // or in flight at the kill.
      const rows = await cluster.query<{ id: number }>(leader, 'select id from ha_write')
      const stored = new Set(rows.map((row) => row.id))
      expect(acked.filter((write) => !stored.has(write.id)).map((write) => write.id)).toEqual([])
      for (const { error } of failed) {
        expect(error instanceof NoPrimaryError || isConnectionError(error), String(error)).toBe(
          true,
        )
      }
      expect(roleChanges).toContainEqual({ node: leader.name, from: 'replica', to: 'primary' })

      // Patroni lists the dead leader until its key expires; once its connections failed, it was
      // marked down and writes failed fast instead of going there: every write that reached it
      // had started before.
      const down = downs.find((event) => event.node === old.name && event.at > killedAt)
      expect(down).toBeDefined()
      const sentToDead = failed.filter((write) => !(write.error instanceof NoPrimaryError))
      expect(sentToDead.filter((write) => write.startedAt > (down?.at ?? 0))).toEqual([])
      console.info(
        `patroni failover: ${old.name} marked down ${Math.round((down?.at ?? Number.NaN) - killedAt)} ms after the kill; ` +
          `${sentToDead.length} writes reached it, ${failed.length - sentToDead.length} refused (NoPrimaryError)`,
      )

      // The old leader, gone from Patroni's list, gets no reads; back, it serves them again.
      await vi.waitFor(
        async () => {
          const members = await cluster.refresh()
          expect(members.map((member) => member.name)).not.toContain(old.name)
        },
        { timeout: 30_000, interval: 200 },
      )
      await cluster.start(old)
      const rejoinedAt = performance.now()
      await vi.waitFor(() => expect(reads.servedBy(old.port, rejoinedAt)).toBe(true), {
        timeout: 15_000,
        interval: 50,
      })
      await reads.stop()
      expect(reads.failures()).toEqual([])
      expect(
        replicationOf(db)
          .stats()
          .find((node) => node.name === old.name)?.role,
      ).toBe('replica')
    } finally {
      // Loops left running after a failed assertion would keep the worker busy for ever.
      await Promise.all([writes.stop(), reads.stop()])
    }
  })
})

interface Outcome {
  readonly id: number
  readonly startedAt: number
  readonly at: number
  readonly error?: unknown
}

/** `writers` loops inserting ids 1, 2, 3, … (shared), each outcome kept, until `stop()`. */
function writeLoad(db: Kysely<Database>, writers: number) {
  const outcomes: Outcome[] = []
  let next = 1
  let running = true
  const loops = Array.from({ length: writers }, async () => {
    while (running) {
      const id = next++
      const startedAt = performance.now()
      try {
        await db.insertInto('ha_write').values({ id }).execute()
        outcomes.push({ id, startedAt, at: performance.now() })
      } catch (error) {
        outcomes.push({ id, startedAt, at: performance.now(), error })
        await pause(10)
      }
    }
  })
  return {
    outcomes,
    acked: () => outcomes.filter((write) => write.error === undefined),
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** `readers` loops of reads, each failure kept, and when each port last served one. */
function readLoad(db: Kysely<Database>, readers: number) {
  const failures: unknown[] = []
  const lastServed = new Map<number, number>()
  let count = 0
  let running = true
  const loops = Array.from({ length: readers }, async () => {
    while (running) {
      try {
        const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
        lastServed.set(port, performance.now())
        count++
      } catch (error) {
        failures.push(error)
        await pause(10)
      }
    }
  })
  return {
    count: () => count,
    failures: () => failures.map(String),
    servedBy: (port: number, since: number) => (lastServed.get(port) ?? 0) > since,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

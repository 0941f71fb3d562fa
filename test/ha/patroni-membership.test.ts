import {
  type PatroniCluster,
  type PatroniClusterNode,
  PgCluster,
} from '@kysely-replicas/pg-cluster'
import { Kysely, sql } from 'kysely'
import { isConnectionError, NoPrimaryError, replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect, patroniTopology } from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'

// Members join and leave a running Patroni cluster while one Kysely instance reads through it:
// the one that joins gets reads without a restart, the one that leaves is drained (its reads
// under way finish on it, no new ones go there, its pool is ended after them).

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The pools the dialect builds, with when each was ended, by port. */
const ended = new Map<number, number>()
class TrackedPool extends pg.Pool {
  override end(): Promise<void> {
    const { port } = this.options
    if (port !== undefined) ended.set(port, performance.now())
    return super.end()
  }
}

interface Read {
  readonly startedAt: number
  readonly endedAt: number
  readonly port?: number
  readonly error?: string
}

describe.skipIf(!inject('haAvailable'))('Patroni members that join and leave', () => {
  let cluster: PatroniCluster
  let db: Kysely<Record<string, never>>
  let joined: PatroniClusterNode
  const events: Array<{ name: string; node: string; at: number }> = []

  beforeAll(async () => {
    cluster = await PgCluster.start({ ha: 'patroni', replicas: 1 })
    db = new Kysely({
      dialect: createPostgresReplicatedDialect({
        Pool: TrackedPool,
        nodes: cluster.nodes.map((node) => ({ name: node.name, ...node.poolConfig() })),
        poolOptions: { max: 6 },
        // With one replica, a switchover leaves no replica for a moment: every read falls back to
        // the primary. The budget would refuse some (test/fallback-budget.test.ts covers that);
        // here no read may fail.
        fallback: { maxConcurrent: 'unlimited' },
        monitor: patroniTopology({ urls: cluster.nodes.map((node) => node.patroniUrl) }),
      }),
    })
    for (const name of ['node-added', 'node-removed'] as const) {
      replicationOf(db).on(name, ({ node }) => events.push({ name, node, at: performance.now() }))
    }
  })

  afterAll(async () => {
    await db?.destroy()
    await cluster?.stop()
  })

  it('gives a member that joins reads, without a restart', async () => {
    const reads = readLoad(db, 6, 0)
    try {
      await pause(500)
      joined = await cluster.addMember()
      const streamingAt = performance.now()
      await vi.waitFor(
        () => expect(reads.done.some((read) => read.port === joined.port)).toBe(true),
        { timeout: 20_000, interval: 20 },
      )
      const first = reads.done.find((read) => read.port === joined.port) as Read
      console.info(
        `patroni membership: ${joined.name} served its first read ${Math.round(first.endedAt - streamingAt)} ms after Patroni listed it as streaming`,
      )
    } finally {
      await reads.stop()
    }
    expect(reads.failures()).toEqual([])
    expect(events).toContainEqual(
      expect.objectContaining({ name: 'node-added', node: joined.name }),
    )
    expect(
      replicationOf(db)
        .stats()
        .find((node) => node.name === joined.name)?.role,
    ).toBe('replica')
  })

  it('drains a member that leaves: its reads under way finish, no new ones, its pool ended after', async () => {
    // Reads long enough that some are always under way on each replica.
    const reads = readLoad(db, 8, 0.4)
    let removedAt = 0
    try {
      await vi.waitFor(
        () => expect(reads.done.some((read) => read.port === joined.port)).toBe(true),
        { timeout: 20_000, interval: 20 },
      )
      // Patroni drops the member once its key expires; its server goes 5 s after that.
      await cluster.removeMember(joined, { drainMs: 5000 })
      removedAt =
        events.find((event) => event.name === 'node-removed' && event.node === joined.name)?.at ??
        Number.NaN
      await pause(500)
    } finally {
      await reads.stop()
    }
    expect(reads.failures()).toEqual([])
    expect(removedAt).toBeGreaterThan(0)
    const onLeaver = reads.done.filter((read) => read.port === joined.port)
    // Reads under way on it when it left finished there, after it left.
    expect(
      onLeaver.filter((read) => read.startedAt < removedAt && read.endedAt > removedAt),
    ).not.toEqual([])
    // None started after it left went there.
    expect(onLeaver.filter((read) => read.startedAt > removedAt)).toEqual([])
    // Its pool was ended, after the last read it served.
    const poolEnded = ended.get(joined.port)
    expect(poolEnded).toBeGreaterThan(Math.max(...onLeaver.map((read) => read.endedAt)))
    expect(
      replicationOf(db)
        .stats()
        .map((node) => node.name),
    ).not.toContain(joined.name)
  })

  it('follows a planned switchover: writes move to the new leader, no read fails', async () => {
    const old = await cluster.waitForLeader()
    await sql`create table if not exists switch_write (id int primary key)`.execute(db)
    const writes = writeLoad(db, 4)
    const reads = readLoad(db, 4, 0)
    let leader: PatroniClusterNode
    try {
      await pause(500)
      leader = await cluster.switchover()
      const switchedAt = performance.now()
      await vi.waitFor(
        () =>
          expect(writes.done.some((write) => write.ok && write.startedAt > switchedAt)).toBe(true),
        { timeout: 20_000, interval: 20 },
      )
    } finally {
      await Promise.all([writes.stop(), reads.stop()])
    }
    const failedWrites = writes.done.filter((write) => !write.ok)
    console.info(
      `patroni switchover: ${old.name} -> ${leader.name}; ${failedWrites.filter((write) => write.error instanceof NoPrimaryError).length} writes refused (NoPrimaryError), ` +
        `${failedWrites.filter((write) => !(write.error instanceof NoPrimaryError)).length} failed in flight, ${reads.done.length} reads`,
    )
    expect(leader.name).not.toBe(old.name)
    expect(reads.failures()).toEqual([])
    // Writes failed only as refused while no leader took them, or in flight at the demotion.
    for (const { error } of writes.done.filter((each) => !each.ok)) {
      expect(error instanceof NoPrimaryError || isConnectionError(error), String(error)).toBe(true)
    }
    const acked = writes.done.filter((write) => write.ok).map((write) => write.id)
    const rows = await cluster.query<{ id: number }>(leader, 'select id from switch_write')
    const stored = new Set(rows.map((row) => row.id))
    expect(acked.filter((id) => !stored.has(id))).toEqual([])
    const roles = Object.fromEntries(
      replicationOf(db)
        .stats()
        .map((node) => [node.name, node.role]),
    )
    expect(roles).toEqual({ [leader.name]: 'primary', [old.name]: 'replica' })
  })
})

/** `writers` loops inserting ids 1, 2, 3, … into switch_write; every outcome kept. */
function writeLoad(db: Kysely<Record<string, never>>, writers: number) {
  const done: Array<{ id: number; startedAt: number; ok: boolean; error?: unknown }> = []
  let next = 1
  let running = true
  const loops = Array.from({ length: writers }, async () => {
    while (running) {
      const id = next++
      const startedAt = performance.now()
      try {
        await sql`insert into switch_write values (${id})`.execute(db)
        done.push({ id, startedAt, ok: true })
      } catch (error) {
        done.push({ id, startedAt, ok: false, error })
        await pause(10)
      }
    }
  })
  return {
    done,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** `readers` loops of reads that take `seconds` each; every read kept with where it ran. */
function readLoad(db: Kysely<Record<string, never>>, readers: number, seconds: number) {
  const done: Read[] = []
  let running = true
  const loops = Array.from({ length: readers }, async () => {
    while (running) {
      const startedAt = performance.now()
      try {
        const { port } = await db
          .selectNoFrom([
            sql<number>`inet_server_port()`.as('port'),
            sql`pg_sleep(${seconds})`.as('slept'),
          ])
          .executeTakeFirstOrThrow()
        done.push({ startedAt, endedAt: performance.now(), port })
      } catch (error) {
        done.push({ startedAt, endedAt: performance.now(), error: String(error) })
        await pause(10)
      }
    }
  })
  return {
    done,
    failures: () => done.flatMap((read) => (read.error === undefined ? [] : [read.error])),
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

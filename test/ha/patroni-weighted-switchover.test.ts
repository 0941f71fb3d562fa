import { type PatroniCluster, PgCluster } from '@kysely-replicas/pg-cluster'
import { Kysely, sql } from 'kysely'
import { replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect, patroniTopology } from 'kysely-replicas/postgres'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'

// Weighted balancing under Patroni, once the membership has moved away from the configuration:
// the configured primary (node1) is demoted by a switchover and a member (node3) joined while
// the dialect ran. Both are replicas like node2 was and must get their share of the reads. The
// weighted balancer kept its scores by configured replica index, which node1 (-1) has none of:
// it never picked it.

const serverPort = sql<number>`inet_server_port()`.as('port')

describe.skipIf(!inject('haAvailable'))("balancing: 'weighted' after a Patroni switchover", () => {
  let cluster: PatroniCluster
  let db: Kysely<Record<string, never>>

  beforeAll(async () => {
    cluster = await PgCluster.start({ ha: 'patroni', replicas: 1 })
    db = new Kysely({
      dialect: createPostgresReplicatedDialect({
        Pool: pg.Pool,
        nodes: cluster.nodes.map((node) => ({ name: node.name, ...node.poolConfig() })),
        balancing: 'weighted',
        readYourWrites: false,
        fallback: { maxConcurrent: 'unlimited' },
        monitor: patroniTopology({ urls: cluster.nodes.map((node) => node.patroniUrl) }),
      }),
    })
  })

  afterAll(async () => {
    await db?.destroy()
    await cluster?.stop()
  })

  it('gives the demoted configured primary and a member that joined their share', async () => {
    const configuredPrimary = cluster.primary
    expect(configuredPrimary.name).toBe('node1')
    await db.selectNoFrom(serverPort).execute()
    const joined = await cluster.addMember()
    const leader = await cluster.switchover('node2')
    expect(leader.name).toBe('node2')

    const replicas = [configuredPrimary.name, joined.name]
    await vi.waitFor(
      () => {
        const stats = replicationOf(db).stats()
        expect(stats.find((node) => node.name === leader.name)?.role).toBe('primary')
        for (const name of replicas) {
          const node = stats.find((each) => each.name === name)
          expect(node, name).toMatchObject({ role: 'replica', healthy: true })
          expect(node?.lagging, name).toBe(false)
        }
      },
      { timeout: 30_000, interval: 50 },
    )

    const counts = new Map<number, number>()
    for (let i = 0; i < 40; i++) {
      const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
      counts.set(port, (counts.get(port) ?? 0) + 1)
    }
    // Equal weights, idle nodes: an even split between the two replicas, none on the leader.
    expect(counts.get(leader.port)).toBeUndefined()
    expect(counts.get(configuredPrimary.port)).toBe(20)
    expect(counts.get(joined.port)).toBe(20)
  })
})

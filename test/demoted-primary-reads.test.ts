import { PgCluster, type PgClusterNode } from '@kysely-replicas/pg-cluster'
import { type BalancingOption, replicationOf } from 'kysely-replicas'
// By path, as in failover.test.ts: by name it resolves to the package's dist/.
import { postgresTopology } from 'kysely-replicas/postgres'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createReplicatedDatabase, serverPort } from './support/replicated-database.js'

// After a switchover the configured primary is a replica like the others and must get its share
// of the reads, whatever the balancing. The weighted balancer kept its scores by configured
// replica index, which the configured primary (-1) has none of, so it never picked it.
//
// Changes roles, so it runs on a cluster of its own: a primary and two replicas (with one
// replica left, the demoted primary would be the only candidate and be picked anyway).
let cluster: PgCluster

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
})

afterAll(async () => {
  await cluster?.stop()
})

const info = (node: PgClusterNode) => ({ name: node.name, ...node.poolConfig() })

// Weighted first: the balancer this test was written for. The others run the same switchover
// afterwards (the cluster's roles then rotate on: each case promotes the first replica it sees).
const balancings: readonly BalancingOption[] = ['weighted', 'round-robin', 'least-outstanding']

describe.each(balancings)("balancing: '%s' after a switchover", (balancing) => {
  it('sends reads to the former primary, now a replica', async () => {
    const configuredPrimary = cluster.primary
    const database = createReplicatedDatabase(
      {
        balancing: balancing as BalancingOption,
        readYourWrites: false,
        monitor: postgresTopology({ intervalMs: 100 }),
        health: { probeIntervalMs: 100, maxProbeIntervalMs: 400, probeTimeoutMs: 1000 },
      },
      { primary: info(cluster.primary), replicas: cluster.replicas.map(info) },
    )
    try {
      const { db } = database
      await db.selectNoFrom(serverPort).execute()

      // A switchover as the kit does it: promote a replica (the old primary is fenced), then
      // rebuild the old primary as a replica of the new one.
      const [promoted] = cluster.replicas
      if (promoted === undefined) throw new Error('two replicas expected')
      await cluster.promote(promoted)
      await cluster.rejoinAsReplica(configuredPrimary)
      expect(cluster.node(configuredPrimary.name).role).toBe('replica')

      await vi.waitFor(
        () => {
          const stats = replicationOf(db).stats()
          expect(stats.find((node) => node.name === promoted.name)?.role).toBe('primary')
          expect(stats.find((node) => node.name === configuredPrimary.name)).toMatchObject({
            role: 'replica',
            healthy: true,
          })
          for (const node of stats.filter((each) => each.role === 'replica')) {
            expect(node.lagging, node.name).toBe(false)
          }
        },
        { timeout: 15_000, interval: 50 },
      )

      const counts = new Map<number, number>()
      for (let i = 0; i < 40; i++) {
        const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
        counts.set(port, (counts.get(port) ?? 0) + 1)
      }
      const replicaPorts = cluster.replicas.map((node) => node.port).sort()
      expect([...counts.keys()].sort()).toEqual(replicaPorts)
      // Equal weights, idle nodes: an even split between the two replicas.
      expect(counts.get(configuredPrimary.port)).toBe(20)
    } finally {
      await database.db.destroy()
    }
  })
})

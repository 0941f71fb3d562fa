import { existsSync } from 'node:fs'
import { PgCluster, PgClusterError } from '@kysely-replicas/pg-cluster'
import { expect, test } from 'vitest'
import { pidExists, postgresProcessesIn } from './test-helpers.js'

test('stop() leaves no server process and no file behind, and can be repeated', async () => {
  const cluster = await PgCluster.start({ replicas: 2 })
  const pids = cluster.nodes.map((node) => node.pid)
  expect(pids.every((pid) => typeof pid === 'number' && pidExists(pid))).toBe(true)
  expect(postgresProcessesIn(cluster.dir).length).toBeGreaterThan(3)

  await cluster.stop()

  for (const pid of pids) expect(pidExists(pid as number)).toBe(false)
  expect(postgresProcessesIn(cluster.dir)).toEqual([])
  expect(existsSync(cluster.dir)).toBe(false)
  await cluster.stop()
  await expect(cluster.status()).rejects.toThrow(PgClusterError)
})

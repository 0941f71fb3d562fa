import { PgCluster } from '@kysely-replicas/pg-cluster'
import type { TestProject } from 'vitest/node'
import type { ClusterInfo } from './support/cluster-info.js'

// One cluster (a primary and two streaming replicas) for the whole integration run: starting one
// takes seconds, and the tests share it by using tables of their own.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await PgCluster.start({ replicas: 2 })
  const info: ClusterInfo = {
    nodes: cluster.nodes.map((node) => ({
      name: node.name,
      role: node.role,
      ...node.poolConfig(),
    })),
  }
  project.provide('cluster', info)
  return async () => {
    await cluster.stop()
  }
}

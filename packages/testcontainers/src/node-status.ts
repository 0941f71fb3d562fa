import { type ReplicatedNodeStatus, readNodeStatus } from '@kysely-replicas/pg-cluster'
import type { ContainerNode } from './container-node.js'
import { APPLICATION_NAME } from './sql-client.js'

/** Reads the status of every node at once, as `PgCluster.status()` does. */
export function readStatus(nodes: readonly ContainerNode[]): Promise<ReplicatedNodeStatus[]> {
  return readNodeStatus(nodes, {
    isRunning: (node) => node.running,
    applicationName: APPLICATION_NAME,
  })
}

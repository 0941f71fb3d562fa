export type { ContainerClusterNode } from './container-node.js'
export { DockerUnavailableError } from './errors.js'
export { type ContainerNodeRef, PostgresContainerCluster } from './postgres-container-cluster.js'
export type { PostgresContainerClusterOptions } from './postgres-container-cluster-options.js'

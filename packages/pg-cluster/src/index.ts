export type { NodeRole, PgClusterNode } from './cluster-node.js'
export {
  BinariesNotFoundError,
  ClusterTimeoutError,
  DirectoryNotEmptyError,
  NodeNotFoundError,
  NodeStartError,
  NodeStateError,
  PgClusterError,
  PortInUseError,
  StateFileError,
  UnprivilegedUserError,
} from './errors.js'
export type { NodeStatus } from './node-status.js'
export { type NodeRef, PgCluster } from './pg-cluster.js'
export type { PgClusterOptions, WaitForReplayOptions } from './pg-cluster-options.js'
export type { SettingValue } from './postgres-conf.js'
export type {
  ReplicatedCluster,
  ReplicatedClusterNode,
  ReplicatedNodeRef,
  ReplicatedNodeStatus,
} from './replicated-cluster.js'
export type { PgConnectionConfig, Row } from './sql-client.js'
export type { Credentials } from './state-file.js'

export type { NodeRole, PgClusterNode } from './cluster-node.js'
export {
  BinariesNotFoundError,
  ClusterTimeoutError,
  DirectoryNotEmptyError,
  HaToolsNotFoundError,
  NodeNotFoundError,
  NodeStartError,
  NodeStateError,
  PgClusterError,
  PortInUseError,
  StateFileError,
  UnprivilegedUserError,
} from './errors.js'
export { findHaTools, HA_INSTALL_HINT, type HaTools } from './ha/ha-tools.js'
export type { PatroniMember } from './ha/patroni-api.js'
export {
  PatroniCluster,
  type PatroniNodeStatus,
  type PatroniWaitOptions,
} from './ha/patroni-cluster.js'
export type { PatroniClusterOptions, PatroniTimings } from './ha/patroni-cluster-options.js'
export type { PatroniClusterNode } from './ha/patroni-node.js'
export { parseLsn } from './lsn.js'
export { loopbackConnectionString, loopbackPoolConfig } from './node-connection.js'
export {
  type NodeStatus,
  readNodeStatus,
  type StatusOptions,
  type StatusTarget,
} from './node-status.js'
export { type NodeRef, PgCluster } from './pg-cluster.js'
export type { PgClusterOptions, WaitForReplayOptions } from './pg-cluster-options.js'
export type { SettingValue } from './postgres-conf.js'
export {
  assertApplyDelay,
  type PauseReplayOptions,
  pauseReplayOn,
  type ReplayTarget,
  type ReplayWaitOptions,
  resumeReplayOn,
  setApplyDelayOn,
  waitForReplayOn,
} from './replay-control.js'
export type {
  ReplicatedCluster,
  ReplicatedClusterNode,
  ReplicatedNodeRef,
  ReplicatedNodeStatus,
} from './replicated-cluster.js'
export { redactConnectionString } from './secrets.js'
export {
  type ClientTimeouts,
  type PgConnectionConfig,
  queryRows,
  type Row,
  type SqlSession,
  withClient,
} from './sql-client.js'
export type { Credentials } from './state-file.js'
export { type WaitOptions, waitFor } from './wait-for.js'

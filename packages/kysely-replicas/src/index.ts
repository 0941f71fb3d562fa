import './kysely-augmentation.js'

export type { Balancer } from './balancing/balancer.js'
export { RoundRobinBalancer } from './balancing/round-robin-balancer.js'
export {
  InvalidConfigError,
  NodeLifecycleError,
  NoPrimaryError,
  NoReplicaAvailableError,
  NotReplicatedError,
  PinConflictError,
  ReplicasError,
  ReplicaTransactionModeError,
  ReplicaWriteError,
  SplitBrainError,
  UnknownReplicaError,
  UnsupportedOperationError,
} from './errors.js'
export type {
  FallbackEvent,
  LagEvent,
  NodeDownEvent,
  NodeUpEvent,
  ReplicasEventMap,
  ReplicasListener,
  RoleChangeEvent,
  RouteEvent,
  SplitBrainEvent,
} from './events/replicas-events.js'
export type { FallbackPolicy } from './health/fallback-policy.js'
export type { HealthConfig } from './health/health-options.js'
export { isConnectionError } from './health/is-connection-error.js'
export type { DatabaseNode, NodeLag, NodeRole } from './nodes/database-node.js'
export type { NodeStats } from './nodes/node-stats.js'
export { type ErrorEmittingPool, handlePoolErrors } from './postgres/handle-pool-errors.js'
export { isPostgresConnectionError } from './postgres/postgres-connection-errors.js'
export { postgresWritingFunctions } from './postgres/writing-functions.js'
export { ReplicatedDialect } from './replicated-dialect.js'
export type {
  PrimaryConfig,
  ReplicaConfig,
  ReplicatedDialectConfig,
} from './replicated-dialect-config.js'
export {
  type Compilable,
  type NodeStatsSnapshot,
  Replication,
  type RouteExplanation,
  replicationOf,
} from './replication.js'
export type {
  QueryAccess,
  QueryClassification,
  RouteReason,
} from './routing/query-classification.js'
export type { MonitorContext, NodeMonitor, NodeMonitorFactory } from './topology/node-monitor.js'
export { onPrimary, onReplica } from './views/route-view.js'

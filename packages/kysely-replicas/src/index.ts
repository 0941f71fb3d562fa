import './kysely-augmentation.js'

export type { Balancer } from './balancing/balancer.js'
export { BalancerError } from './balancing/balancer-error.js'
export type { BalancingOption } from './balancing/create-balancer.js'
export { type BalancingFunction, FunctionBalancer } from './balancing/custom-balancer.js'
export {
  LatencyAwareBalancer,
  type LatencyAwareBalancerOptions,
} from './balancing/latency-aware-balancer.js'
export { LeastOutstandingBalancer } from './balancing/least-outstanding-balancer.js'
export { RandomBalancer, type RandomBalancerOptions } from './balancing/random-balancer.js'
export type { ReplicaCandidate } from './balancing/replica-candidate.js'
export { RoundRobinBalancer } from './balancing/round-robin-balancer.js'
export { WeightedBalancer } from './balancing/weighted-balancer.js'
export type { ReplayedPosition } from './consistency/known-replay.js'
export type { PositionSource } from './consistency/position-source.js'
export type { ReadYourWritesConfig } from './consistency/read-your-writes-config.js'
export type { ReadYourWritesMode } from './consistency/read-your-writes-mode.js'
export {
  InvalidArgumentError,
  InvalidConfigError,
  NodeLifecycleError,
  NodeUnresponsiveError,
  NoPrimaryError,
  NoReplicaAvailableError,
  NotReplicatedError,
  PinConflictError,
  ReplicasError,
  ReplicaTransactionModeError,
  ReplicaWriteError,
  SplitBrainError,
  StaleReadError,
  UnknownReplicaError,
  UnsupportedOperationError,
} from './errors.js'
export type {
  ConsistencyEvent,
  FallbackEvent,
  HedgeEvent,
  LagEvent,
  NodeAddedEvent,
  NodeDownEvent,
  NodeRemovedEvent,
  NodeUpEvent,
  ReadYourWritesModeEvent,
  ReplicasEventMap,
  ReplicasEvents,
  ReplicasListener,
  RoleChangeEvent,
  RouteEvent,
  SplitBrainEvent,
} from './events/replicas-events.js'
export type { FallbackConfig, FallbackPolicy } from './health/fallback-policy.js'
export type { HealthConfig } from './health/health-options.js'
export { isConnectionError, isSaturationError } from './health/is-connection-error.js'
export type { FailureKind, NodeHealth } from './health/node-health.js'
export type { ReadDeadlineConfig } from './health/read-deadline.js'
export type { DatabaseNode, NodeLag, NodeRole } from './nodes/database-node.js'
export type { MemberAddress, NodeFactory } from './nodes/node-factory.js'
export type { NodeStats } from './nodes/node-stats.js'
export { type ErrorEmittingPool, handlePoolErrors } from './postgres/handle-pool-errors.js'
export { isPostgresConnectionError } from './postgres/postgres-connection-errors.js'
export { postgresPositions } from './postgres/postgres-positions.js'
export { postgresWritingFunctions } from './postgres/writing-functions.js'
export { ReplicatedDialect } from './replicated-dialect.js'
export type {
  PrimaryConfig,
  ReplicaConfig,
  ReplicatedDialectConfig,
} from './replicated-dialect-config.js'
export {
  type Compilable,
  type FallbackReadsSnapshot,
  type NodeStatsSnapshot,
  Replication,
  type RouteExplanation,
  replicationOf,
} from './replication.js'
export type { HedgeConfig } from './routing/hedge-config.js'
export { InvalidWritingFunctionError } from './routing/invalid-writing-function-error.js'
export type { QueryAccess, RouteReason } from './routing/query-classification.js'
export type { MonitorContext, NodeMonitor, NodeMonitorFactory } from './topology/node-monitor.js'
export { onPrimary, onReplica } from './views/route-view.js'

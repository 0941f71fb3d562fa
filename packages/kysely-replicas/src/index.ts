import './kysely-augmentation.js'

export type { Balancer } from './balancing/balancer.js'
export { RoundRobinBalancer } from './balancing/round-robin-balancer.js'
export {
  InvalidConfigError,
  NodeLifecycleError,
  NotReplicatedError,
  PinConflictError,
  ReplicasError,
  ReplicaTransactionModeError,
  ReplicaWriteError,
  UnknownReplicaError,
  UnsupportedOperationError,
} from './errors.js'
export type { DatabaseNode, NodeRole } from './nodes/database-node.js'
export { ReplicatedDialect } from './replicated-dialect.js'
export type {
  PrimaryConfig,
  ReplicaConfig,
  ReplicatedDialectConfig,
} from './replicated-dialect-config.js'
export { onPrimary, onReplica } from './views/route-view.js'

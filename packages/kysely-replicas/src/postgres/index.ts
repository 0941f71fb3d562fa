// kysely-replicas/postgres: what only makes sense with PostgreSQL servers behind the dialect.
// An app may import from this entry only: it brings db.onPrimary() / db.onReplica() too.
import '../kysely-augmentation.js'

export {
  createPostgresReplicatedDialect,
  type PostgresNodeConfig,
  type PostgresPoolConstructor,
  type PostgresReplicatedDialectConfig,
} from './create-postgres-replicated-dialect.js'
export { formatLsn, parseLsn } from './lsn.js'
export { patroniTopology } from './patroni-topology.js'
export type { PatroniTopologyOptions } from './patroni-topology-options.js'
export { postgresTopology } from './postgres-topology.js'
export type {
  MaxReplicationLag,
  PostgresTopologyOptions,
  SplitBrainPolicy,
} from './postgres-topology-options.js'

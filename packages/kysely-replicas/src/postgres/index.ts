// kysely-replicas/postgres: what only makes sense with PostgreSQL servers behind the dialect.
export {
  createPostgresReplicatedDialect,
  type PostgresNodeConfig,
  type PostgresPoolConstructor,
  type PostgresReplicatedDialectConfig,
} from './create-postgres-replicated-dialect.js'
export { parseLsn } from './lsn.js'
export { postgresTopology } from './postgres-topology.js'
export type {
  MaxReplicationLag,
  PostgresTopologyOptions,
  SplitBrainPolicy,
} from './postgres-topology-options.js'

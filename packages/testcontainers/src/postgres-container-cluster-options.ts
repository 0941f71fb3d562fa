import type { SettingValue } from '@kysely-replicas/pg-cluster'

/**
 * How `PostgresContainerCluster.start()` builds a cluster. Every field is optional.
 *
 * ```ts
 * const cluster = await PostgresContainerCluster.start({
 *   image: 'postgres:16-alpine',
 *   replicas: 1,
 *   database: 'app',
 *   settings: { max_connections: 200 },
 * })
 * ```
 */
export interface PostgresContainerClusterOptions {
  /**
   * A PostgreSQL 14+ image with the server binaries on `PATH` and a `postgres` user, as the
   * official images have. Its entrypoint is not used. Default `postgres:17`.
   */
  readonly image?: string
  /** How many hot-standby replicas to start besides the primary. Default 2. */
  readonly replicas?: number
  /** The database connection strings point at, created if it is not `postgres`. */
  readonly database?: string
  /** `hot_standby_feedback` on the replicas. Default `false`, as in PostgreSQL. */
  readonly hotStandbyFeedback?: boolean
  /** More `postgresql.conf` settings, for every node; they override the cluster's own. */
  readonly settings?: Readonly<Record<string, SettingValue>>
  /**
   * How long any one wait may take (a container getting ready, a replica streaming, replay
   * catching up) before `ClusterTimeoutError`. Default 60 000 ms; the first start of an image
   * that must be pulled counts too.
   */
  readonly timeoutMs?: number
}

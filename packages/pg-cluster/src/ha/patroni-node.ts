import { inspect } from 'node:util'
import type { NodeContext, NodeRole } from '../cluster-node.js'
import { loopbackConnectionString, loopbackPoolConfig } from '../node-connection.js'
import type { NodeProcess } from '../node-process.js'
import type { ReplicatedClusterNode } from '../replicated-cluster.js'
import { redactConnectionString } from '../secrets.js'
import type { PgConnectionConfig } from '../sql-client.js'
import type { DaemonProcess } from './daemon-process.js'

/**
 * One "host" of a Patroni cluster: a Patroni, its REST API and the PostgreSQL server it runs.
 * `role` is what Patroni last said (`primary` for its leader); it changes with failovers.
 *
 * ```ts
 * const cluster = await PgCluster.start({ ha: 'patroni', replicas: 2 })
 * for (const node of cluster.nodes) console.log(node.name, node.role, node.patroniUrl)
 * ```
 */
export interface PatroniClusterNode extends ReplicatedClusterNode {
  /** `node1`, `node2`, …: Patroni's member names. */
  readonly name: string
  /** Patroni's REST API: `http://127.0.0.1:<port>`. */
  readonly patroniUrl: string
  /** PostgreSQL's data directory, which Patroni manages. */
  readonly dataDir: string
  /** Patroni's log (with PostgreSQL's own log next to it, `postgresql.log`). */
  readonly logFile: string
}

/** The cluster's own view of a node: the public fields plus its processes. */
export class PatroniNode implements PatroniClusterNode {
  readonly name: string
  readonly port: number
  readonly apiPort: number
  readonly dir: string
  readonly dataDir: string
  readonly logFile: string
  readonly patroni: DaemonProcess
  readonly postgres: NodeProcess
  readonly #context: NodeContext
  role: NodeRole

  constructor(
    init: { name: string; port: number; apiPort: number; dir: string; role: NodeRole },
    processes: { patroni: DaemonProcess; postgres: NodeProcess },
    context: NodeContext,
  ) {
    this.name = init.name
    this.port = init.port
    this.apiPort = init.apiPort
    this.dir = init.dir
    this.dataDir = `${init.dir}/data`
    this.logFile = `${init.dir}/patroni.log`
    this.role = init.role
    this.patroni = processes.patroni
    this.postgres = processes.postgres
    this.#context = context
  }

  get patroniUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`
  }

  get connectionString(): string {
    const { superuser, database } = this.#context
    return loopbackConnectionString(superuser, database, this.port)
  }

  poolConfig(): PgConnectionConfig {
    const { superuser, database } = this.#context
    return loopbackPoolConfig(superuser, database, this.port)
  }

  /** The superuser on `postgres`, which exists before the user's database does. */
  adminConfig(): PgConnectionConfig {
    return { ...this.poolConfig(), database: 'postgres' }
  }

  toString(): string {
    return redactConnectionString(this.connectionString)
  }

  toJSON(): object {
    return {
      name: this.name,
      role: this.role,
      port: this.port,
      url: this.toString(),
      patroniUrl: this.patroniUrl,
    }
  }

  [inspect.custom](): string {
    return `PatroniClusterNode ${inspect(this.toJSON())}`
  }
}

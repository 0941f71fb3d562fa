import { inspect } from 'node:util'
import {
  type Credentials,
  loopbackConnectionString,
  loopbackPoolConfig,
  type NodeRole,
  type PgConnectionConfig,
  type ReplicatedClusterNode,
  redactConnectionString,
} from '@kysely-replicas/pg-cluster'

/**
 * One PostgreSQL server of a `PostgresContainerCluster`, in its own container. The object stays
 * the same for the cluster's lifetime; `role` follows promotions, and `containerId` changes when
 * `rejoinAsReplica()` rebuilds the node in a new container.
 *
 * ```ts
 * const cluster = await PostgresContainerCluster.start({ replicas: 2 })
 * for (const node of cluster.nodes) console.log(node.name, node.role, node.containerId)
 * const pool = new pg.Pool(cluster.primary.poolConfig())
 * ```
 */
export interface ContainerClusterNode extends ReplicatedClusterNode {
  /** The Docker container running the server now. */
  readonly containerId: string | undefined
  /** The node's host name on the cluster's Docker network: its name. */
  readonly networkAlias: string
  /** Whether the server should be running (it was not stopped or killed). */
  readonly running: boolean
}

/** The cluster-wide facts a node needs to describe itself. */
export interface NodeContext {
  readonly superuser: Credentials
  readonly database: string
}

/** The cluster's own view of a node: the public fields plus what only the cluster changes. */
export class ContainerNode implements ContainerClusterNode {
  readonly name: string
  readonly port: number
  readonly #context: NodeContext
  role: NodeRole
  containerId: string | undefined
  running = false

  constructor(name: string, port: number, role: NodeRole, context: NodeContext) {
    this.name = name
    this.port = port
    this.role = role
    this.#context = context
  }

  get networkAlias(): string {
    return this.name
  }

  get connectionString(): string {
    const { superuser, database } = this.#context
    return loopbackConnectionString(superuser, database, this.port)
  }

  poolConfig(): PgConnectionConfig {
    const { superuser, database } = this.#context
    return loopbackPoolConfig(superuser, database, this.port)
  }

  /** The superuser on the `postgres` database, which exists whatever the tests drop. */
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
    return `ContainerClusterNode ${inspect(this.toJSON())}`
  }
}

import type { NodeRole } from './cluster-node.js'
import type { NodeStatus } from './node-status.js'
import type { WaitForReplayOptions } from './pg-cluster-options.js'
import type { PgConnectionConfig, Row } from './sql-client.js'
import type { Credentials } from './state-file.js'

/**
 * One server of a `ReplicatedCluster`, whatever runs it (local processes or containers). The
 * object stays the same for the cluster's lifetime; `role` follows promotions.
 *
 * ```ts
 * for (const node of cluster.nodes) console.log(node.name, node.role, String(node))
 * const pool = new pg.Pool(cluster.primary.poolConfig())
 * ```
 */
export interface ReplicatedClusterNode {
  /** `primary`, `replica1`, `replica2`, …: given at creation, kept through promotions. */
  readonly name: string
  /** The TCP port on 127.0.0.1 that reaches the server. */
  readonly port: number
  /** What the node is now; see `NodeRole`. */
  readonly role: NodeRole
  /**
   * `postgres://postgres:<password>@127.0.0.1:<port>/<database>`. It holds the password:
   * `String(node)` and `JSON.stringify(node)` give a redacted form.
   */
  readonly connectionString: string
  /** Connection settings for `new pg.Pool(...)`, a fresh object each call. */
  poolConfig(): PgConnectionConfig
}

/**
 * What `status()` reports of a node on every backend: `NodeStatus` without the host PID, which
 * only a local process has.
 *
 * ```ts
 * const [primary] = await cluster.status()
 * console.log(primary.up, primary.timeline, primary.lsn)
 * ```
 */
export type ReplicatedNodeStatus = Omit<NodeStatus, 'pid'>

/**
 * A node, or its name.
 *
 * ```ts
 * await cluster.kill('replica1')
 * await cluster.start(cluster.node('replica1'))
 * ```
 */
export type ReplicatedNodeRef<N extends ReplicatedClusterNode = ReplicatedClusterNode> = N | string

/**
 * A PostgreSQL primary with streaming hot-standby replicas that tests can break and repair: the
 * contract shared by `PgCluster` (local processes from npm binaries) and
 * `PostgresContainerCluster` from `@kysely-replicas/testcontainers` (Docker containers). Code
 * written against this interface runs on either; the methods behave as `PgCluster`'s documents.
 *
 * ```ts
 * async function withCluster(start: () => Promise<ReplicatedCluster>) {
 *   const cluster = await start()
 *   try {
 *     await cluster.pauseReplay('replica1')
 *     await cluster.query('primary', 'create table t (id int)')
 *     await cluster.resumeReplay('replica1')
 *     await cluster.waitForReplay()
 *   } finally {
 *     await cluster.stop()
 *   }
 * }
 * await withCluster(() => PgCluster.start({ replicas: 2 }))
 * ```
 */
export interface ReplicatedCluster<N extends ReplicatedClusterNode = ReplicatedClusterNode> {
  /** Every node: the first primary, then `replica1`, `replica2`, … in creation order. */
  readonly nodes: readonly N[]
  /** The node that is the primary now. */
  readonly primary: N
  /** The nodes that are replicas now. */
  readonly replicas: readonly N[]
  /** The superuser login of every node. */
  readonly superuser: Credentials
  /** The database that connection strings point at. */
  readonly database: string
  /** The node with that name; `NodeNotFoundError` for an unknown one. */
  node(name: string): N
  /** Starts a stopped or killed node and resolves once it serves (a replica: streams). */
  start(ref: ReplicatedNodeRef<N>): Promise<void>
  /** A node: a fast shutdown of its server. No node: stops and removes everything. */
  stop(ref?: ReplicatedNodeRef<N>): Promise<void>
  /** Crashes a node's server (SIGKILL to the postmaster). */
  kill(ref: ReplicatedNodeRef<N>): Promise<void>
  /** Pauses WAL replay on a replica, once it took effect. */
  pauseReplay(ref: ReplicatedNodeRef<N>): Promise<void>
  /** Resumes WAL replay on a paused replica, once it took effect. */
  resumeReplay(ref: ReplicatedNodeRef<N>): Promise<void>
  /** `recovery_min_apply_delay` of a replica, in ms; 0 removes it. */
  setApplyDelay(ref: ReplicatedNodeRef<N>, ms: number): Promise<void>
  /** Until the replica (or every running one) replayed the primary's position at call time. */
  waitForReplay(ref?: ReplicatedNodeRef<N>, options?: WaitForReplayOptions): Promise<void>
  /** Promotes a replica; the old primary is fenced and `retired`, the others follow. */
  promote(ref: ReplicatedNodeRef<N>): Promise<void>
  /** Rebuilds a retired primary (or a stray replica) as a replica of the current primary. */
  rejoinAsReplica(ref: ReplicatedNodeRef<N>): Promise<void>
  /** The state of every node, read from the servers. */
  status(): Promise<ReplicatedNodeStatus[]>
  /** One statement on a node, on a fresh connection. */
  query<R extends Row = Row>(
    ref: ReplicatedNodeRef<N>,
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]>
}

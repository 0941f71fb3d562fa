import type { ReplicasEvents } from '../events/replicas-events.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { MemberAddress } from '../nodes/node-factory.js'

/**
 * What a {@link NodeMonitor} sees of a replicated Kysely instance and may change.
 *
 * ```ts
 * const monitor: NodeMonitorFactory = (context: MonitorContext) => ({
 *   async init() {
 *     context.refresh() // after changing the nodes' roles or lag
 *   },
 *   async close() {},
 * })
 * ```
 */
export interface MonitorContext {
  /**
   * Every node now, configured primary first; roles, lag and replay positions are set on them.
   * Read it again after {@link addNode} or {@link removeNode}: it is a new array then.
   */
  readonly nodes: readonly DatabaseNode[]
  /**
   * The instance's events: the monitor emits what it finds (`role-change`, `lag`,
   * `split-brain`) and may listen (`node-up`).
   */
  readonly events: ReplicasEvents
  /** Recomputes the write target and the readable replicas; call after changing nodes. */
  refresh(): void
  /**
   * Calls `listener` whenever the primary fails with a connection-level error, until the
   * function it returns is called (on `close()`).
   */
  onPrimaryFailure(listener: () => void): () => void
  /**
   * Whether {@link addNode} can add nodes: the dialect has a node factory (`nodeFactory`). Without
   * one the membership is fixed, and a monitor should keep a node that left out of rotation
   * rather than remove it, since it could not add it back.
   */
  readonly canAddNodes: boolean
  /**
   * Adds a node for a server that joined the cluster: built by the node factory, its driver
   * started, then routed to as a replica that serves no reads until the monitor clears it
   * (`setLag` with `excluded: false`) or makes it the primary. Resolves with the node (the
   * existing one if a node has that name), or `undefined` when it cannot be added (no factory,
   * the factory or the driver failed: logged, passwords masked; or the dialect was destroyed).
   */
  addNode(member: MemberAddress): Promise<DatabaseNode | undefined>
  /**
   * Takes a node whose server left out of rotation at once; its queries under way finish, then
   * its driver is destroyed. A `node-removed` event tells.
   */
  removeNode(node: DatabaseNode): void
}

/**
 * Watches the nodes in the background (roles, replication lag) and updates them. Created by the
 * driver with {@link MonitorContext}; `init()` runs before the first query, `close()` on
 * `destroy()`, and nothing of it may keep the process alive after that.
 *
 * ```ts
 * const quietMonitor: NodeMonitorFactory = () => ({ init: async () => {}, close: async () => {} })
 * new ReplicatedDialect({ primary, replicas, monitor: quietMonitor })
 * ```
 */
export interface NodeMonitor {
  /** Starts watching the nodes; runs before the first query. */
  init(): Promise<void>
  /** Stops every timer and releases what the monitor holds, on `destroy()`. */
  close(): Promise<void>
  /**
   * Called when a node that was down answers its health probe, before it serves again: the
   * monitor re-reads the node's role, so that a former primary back as a standby is never
   * counted as a second primary, even for a moment.
   */
  confirm?(node: DatabaseNode): Promise<void>
}

/**
 * Makes a monitor for one Kysely instance: the `monitor` option of `ReplicatedDialect`.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, monitor: postgresTopology({ maxReplicationLag: { seconds: 5 } }) })
 * ```
 */
export type NodeMonitorFactory = (context: MonitorContext) => NodeMonitor

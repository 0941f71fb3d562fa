import type { Dialect } from 'kysely'

/**
 * A server a monitor found in the cluster that the dialect has no node for: its member name and
 * the address its database listens on (Patroni's `host` and `port` for a member).
 *
 * ```ts
 * const member: MemberAddress = { name: 'node4', host: '10.0.0.4', port: 5432 }
 * ```
 */
export interface MemberAddress {
  /** The member's name in the cluster, which becomes the node's name. */
  readonly name: string
  /** The host its database listens on. */
  readonly host: string
  /** The TCP port its database listens on. */
  readonly port: number
}

/**
 * Builds the dialect of a server that joined the cluster: the `nodeFactory` option of
 * `ReplicatedDialect`. The dialect gets a node of its own, named after the member, whose driver
 * is started before it serves and destroyed once the member leaves and its queries are done.
 * `createPostgresReplicatedDialect()` makes one from the first node's settings; a
 * `ReplicatedDialect` built by hand without one keeps the nodes it was configured with.
 *
 * ```ts
 * const nodeFactory: NodeFactory = ({ host, port }) =>
 *   new PostgresDialect({ pool: new pg.Pool({ ...baseSettings, host, port }) })
 * new ReplicatedDialect({ primary, replicas, nodeFactory, monitor: patroniTopology({ urls }) })
 * ```
 */
export type NodeFactory = (member: MemberAddress) => Dialect

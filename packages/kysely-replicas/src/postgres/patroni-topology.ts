import type { NodeMonitorFactory } from '../topology/node-monitor.js'
import { PatroniTopologyMonitor } from './patroni-topology-monitor.js'
import { normalizePatroniOptions, type PatroniTopologyOptions } from './patroni-topology-options.js'

/**
 * A monitor that takes roles, lag and membership from Patroni's REST API (`GET /cluster`): the
 * `monitor` option of `ReplicatedDialect` or `createPostgresReplicatedDialect()`. Name each node
 * after its Patroni member.
 *
 * - Patroni's running leader takes the writes as soon as its server is out of recovery (one SQL
 *   check confirms the promotion); the others are replicas. Each change emits `role-change`.
 * - Membership: a replica gets reads while Patroni lists it as `running` (or `streaming`); one
 *   that leaves the list (its host is gone, its member key expired) or is starting, stopped or
 *   rebuilding gets no new reads (reads under way finish), and gets them again once listed. A
 *   former leader gets reads only once Patroni lists it on the new leader's timeline.
 * - Lag is Patroni's, in WAL bytes (`stats()` shows `lagBytes`; `lagSeconds` stays 0); a replica
 *   beyond `maxReplicationLag.bytes` gets no reads until it catches up.
 * - While no URL answers, the SQL checks of `postgresTopology()` run instead, until one does.
 *
 * Nodes must be configured up front: a Patroni member the dialect has no node for is ignored.
 *
 * ```ts
 * import { createPostgresReplicatedDialect, patroniTopology } from 'kysely-replicas/postgres'
 *
 * const dialect = createPostgresReplicatedDialect({
 *   Pool: pg.Pool,
 *   nodes: [
 *     { name: 'node1', connectionString: process.env.DATABASE_URL_1 },
 *     { name: 'node2', connectionString: process.env.DATABASE_URL_2 },
 *     { name: 'node3', connectionString: process.env.DATABASE_URL_3 },
 *   ],
 *   monitor: patroniTopology({
 *     urls: ['http://10.0.0.1:8008', 'http://10.0.0.2:8008', 'http://10.0.0.3:8008'],
 *   }),
 * })
 * ```
 */
export function patroniTopology(options: PatroniTopologyOptions): NodeMonitorFactory {
  const normalized = normalizePatroniOptions(options)
  return (context) => new PatroniTopologyMonitor(context, normalized)
}

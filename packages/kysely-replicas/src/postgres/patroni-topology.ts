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
 * - Reads: a replica gets them while Patroni lists it as `running` (or `streaming`); one that
 *   is starting, stopped or rebuilding gets no new reads (reads under way finish), and gets them
 *   again once listed serving. A former leader gets reads only once Patroni lists it on the new
 *   leader's timeline.
 * - Lag is Patroni's, in WAL bytes (`stats()` shows `lagBytes`; `lagSeconds` stays 0); a replica
 *   beyond `maxReplicationLag.bytes` gets no reads until it catches up.
 * - While no URL answers, the SQL checks of `postgresTopology()` run instead, until one does.
 * - A primary that fails with a connection error while Patroni still lists it as leader (its key
 *   lives on for `ttl`) is checked with SQL: unreachable, it is marked down, and writes fail fast
 *   with `NoPrimaryError` until Patroni names a leader that answers.
 * - Membership, with a node factory (`createPostgresReplicatedDialect()` gives one, from the
 *   first node's settings): a member the dialect has no node for gets one, and reads once it is
 *   listed serving on the leader's timeline; a node Patroni no longer lists (its host is gone,
 *   its member key expired) is drained (no new queries, those under way finish) and its driver
 *   destroyed. Without one (a `ReplicatedDialect`
 *   built by hand with no `nodeFactory`) the nodes are the configured ones: a member the dialect
 *   has no node for is ignored, and an unlisted node gets no reads until it is listed again.
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

import type { NodeMonitorFactory } from '../topology/node-monitor.js'
import { PostgresTopologyMonitor } from './postgres-topology-monitor.js'
import {
  normalizeTopologyOptions,
  type PostgresTopologyOptions,
} from './postgres-topology-options.js'

/**
 * A monitor of a PostgreSQL primary and its streaming replicas: the `monitor` option of
 * `ReplicatedDialect`. Roles are discovered, not trusted: before the first query and then every
 * `intervalMs`, every node is asked at once (one query on a connection of its own pool) whether
 * it is in recovery and how far it has replayed.
 *
 * - A node not in recovery is a primary and takes the writes; a node in recovery is a replica.
 *   After a failover the promoted replica takes the writes (and no more reads) as soon as it
 *   answers; a former primary that comes back as a standby gets reads. Each change emits
 *   `role-change`.
 * - A node that cannot be reached (or does not answer within `timeoutMs`) is marked down and
 *   keeps its last role until it answers; a primary failing a query triggers a check at once.
 * - Several primaries at once are a split brain: `split-brain` is emitted and, by default,
 *   writes are refused with `SplitBrainError` (see `SplitBrainPolicy`).
 * - Replica lag is measured against the primary's WAL position of the same check, from what the
 *   replica has replayed: `stats()` shows `lagBytes` and `lagSeconds`, and a replica beyond
 *   `maxReplicationLag` gets no reads (`lagging: true`, a `lag` event) until it catches up.
 *
 * While no node takes writes (the primary is down, or a split brain), checks run every
 * `outageIntervalMs` (250 ms) instead, so that writes resume soon after a promotion. Timers never
 * keep the process alive; `db.destroy()` stops them.
 *
 * ```ts
 * import { ReplicatedDialect } from 'kysely-replicas'
 * import { postgresTopology } from 'kysely-replicas/postgres'
 *
 * const dialect = new ReplicatedDialect({
 *   primary: new PostgresDialect({ pool: primaryPool }),
 *   replicas: [new PostgresDialect({ pool: replicaPool })],
 *   monitor: postgresTopology({
 *     intervalMs: 1000,
 *     maxReplicationLag: { bytes: 16_000_000, seconds: 5 },
 *     splitBrain: 'refuse-writes',
 *   }),
 * })
 * ```
 */
export function postgresTopology(options?: PostgresTopologyOptions): NodeMonitorFactory {
  const normalized = normalizeTopologyOptions(options)
  return (context) => new PostgresTopologyMonitor(context, normalized)
}

import type { ClusterNode, NodeRole } from './cluster-node.js'
import { parseLsn } from './lsn.js'
import type { ReplicatedNodeStatus } from './replicated-cluster.js'
import { type PgConnectionConfig, withClient } from './sql-client.js'

/**
 * One node as `cluster.status()` saw it. Fields that need a running server are `undefined` when
 * the node is down; replication fields are `undefined` on the primary.
 *
 * ```ts
 * for (const node of await cluster.status()) {
 *   console.log(node.name, node.role, node.up ? 'up' : 'down', node.lagBytes)
 * }
 * ```
 */
export interface NodeStatus {
  readonly name: string
  readonly role: NodeRole
  readonly port: number
  /** Whether the server accepted a connection (within ~1.5 s). */
  readonly up: boolean
  readonly pid: number | undefined
  /** `pg_is_in_recovery()`: `true` on a hot standby. */
  readonly inRecovery: boolean | undefined
  /** The timeline the node writes (primary) or receives (replica); it grows with promotions. */
  readonly timeline: number | undefined
  /** The primary's `pg_current_wal_lsn()`, a replica's `pg_last_wal_replay_lsn()`. */
  readonly lsn: string | undefined
  /** Replicas: whether the WAL receiver is streaming from the primary. */
  readonly streaming: boolean | undefined
  /** Replicas: whether replay is paused (`pauseReplay()`). */
  readonly replayPaused: boolean | undefined
  /** Replicas: bytes of the primary's WAL not replayed yet; 0 when caught up. */
  readonly lagBytes: number | undefined
  /**
   * Replicas: seconds since the last replayed transaction committed on the primary, or 0 when
   * the replica has replayed everything (an idle primary does not make a caught-up replica
   * look late).
   */
  readonly lagSeconds: number | undefined
}

const CONNECT_TIMEOUT_MS = 1500

interface Probe {
  inRecovery: boolean
  timeline: number | undefined
  lsn: string | undefined
  streaming: boolean | undefined
  replayPaused: boolean | undefined
  replaySeconds: number | null | undefined
}

/**
 * A node whose status can be read, whatever runs it (a local process, a container).
 *
 * ```ts
 * const target: StatusTarget = cluster.node('replica1')
 * ```
 */
export interface StatusTarget {
  readonly name: string
  readonly role: NodeRole
  readonly port: number
  adminConfig(): PgConnectionConfig
}

/**
 * Which nodes to ask (a node that should not be running shows `up: false` without a connection
 * attempt), and the `application_name` of the connections (`'pg-cluster'` by default).
 *
 * ```ts
 * await readNodeStatus(nodes, { isRunning: (node) => node.running })
 * ```
 */
export interface StatusOptions<N extends StatusTarget> {
  isRunning(node: N): boolean
  readonly applicationName?: string
}

/**
 * Reads the status of every node, all at once; the engine of `status()` without the host PID.
 *
 * ```ts
 * console.table(await readNodeStatus(nodes, { isRunning: (node) => node.running }))
 * ```
 */
export async function readNodeStatus<N extends StatusTarget>(
  nodes: readonly N[],
  { isRunning, applicationName }: StatusOptions<N>,
): Promise<ReplicatedNodeStatus[]> {
  const probes = await Promise.all(
    nodes.map((node) => (isRunning(node) ? probe(node, applicationName) : undefined)),
  )
  const primaryIndex = nodes.findIndex((node) => node.role === 'primary')
  const primaryLsn = probes[primaryIndex]?.lsn
  return nodes.map((node, index) => {
    const found = probes[index]
    const base = { name: node.name, role: node.role, port: node.port }
    if (found === undefined) return { ...base, ...DOWN }
    let lagBytes: number | undefined
    let lagSeconds: number | undefined
    if (found.inRecovery && primaryLsn !== undefined && found.lsn !== undefined) {
      const behind = parseLsn(primaryLsn) - parseLsn(found.lsn)
      lagBytes = behind > 0n ? Number(behind) : 0
      lagSeconds = lagBytes === 0 ? 0 : (found.replaySeconds ?? undefined)
    }
    return {
      ...base,
      up: true,
      inRecovery: found.inRecovery,
      timeline: found.timeline,
      lsn: found.lsn,
      streaming: found.streaming,
      replayPaused: found.replayPaused,
      lagBytes,
      lagSeconds,
    }
  })
}

/** Reads the status of every node, all at once, with the PID of its server process. */
export async function readStatus(nodes: readonly ClusterNode[]): Promise<NodeStatus[]> {
  const statuses = await readNodeStatus(nodes, { isRunning: (node) => node.pid !== undefined })
  return statuses.map(({ name, role, port, up, ...fields }, index) => ({
    name,
    role,
    port,
    up,
    pid: nodes[index]?.pid,
    ...fields,
  }))
}

const DOWN = {
  up: false,
  inRecovery: undefined,
  timeline: undefined,
  lsn: undefined,
  streaming: undefined,
  replayPaused: undefined,
  lagBytes: undefined,
  lagSeconds: undefined,
} as const

async function probe(
  node: StatusTarget,
  applicationName: string | undefined,
): Promise<Probe | undefined> {
  try {
    return await withClient(
      node.adminConfig(),
      async (client) => {
        const recovery = await client.query<{ in_recovery: boolean }>(
          'select pg_is_in_recovery() as in_recovery',
        )
        if (recovery.rows[0]?.in_recovery !== true) {
          const { rows } = await client.query<{ lsn: string; walfile: string }>(
            'select pg_current_wal_lsn()::text as lsn, pg_walfile_name(pg_current_wal_lsn()) as walfile',
          )
          const row = rows[0]
          return {
            inRecovery: false,
            // A WAL file's name starts with its timeline, in hex.
            timeline: row === undefined ? undefined : Number.parseInt(row.walfile.slice(0, 8), 16),
            lsn: row?.lsn,
            streaming: undefined,
            replayPaused: undefined,
            replaySeconds: undefined,
          }
        }
        const { rows } = await client.query<{
          lsn: string | null
          pause_state: string
          receiver: string | null
          timeline: number | null
          replay_seconds: number | null
        }>(
          `select pg_last_wal_replay_lsn()::text as lsn,
                  pg_get_wal_replay_pause_state() as pause_state,
                  (select status from pg_stat_wal_receiver) as receiver,
                  (select received_tli from pg_stat_wal_receiver) as timeline,
                  extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as replay_seconds`,
        )
        const row = rows[0]
        return {
          inRecovery: true,
          timeline: row?.timeline ?? undefined,
          lsn: row?.lsn ?? undefined,
          streaming: row?.receiver === 'streaming',
          replayPaused: row?.pause_state === 'paused',
          replaySeconds: row?.replay_seconds,
        }
      },
      { connectMs: CONNECT_TIMEOUT_MS, queryMs: 5000, applicationName },
    )
  } catch {
    return undefined
  }
}

import type { ReplicatedNodeStatus } from '@kysely-replicas/pg-cluster'
import type { ContainerNode } from './container-node.js'
import { withClient } from './sql-client.js'

const CONNECT_TIMEOUT_MS = 1500

type Probe = Omit<
  ReplicatedNodeStatus,
  'name' | 'role' | 'port' | 'up' | 'lagBytes' | 'lagSeconds'
> & {
  readonly replaySeconds: number | null | undefined
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

/** Reads the status of every node at once, as `PgCluster.status()` does. */
export async function readStatus(nodes: readonly ContainerNode[]): Promise<ReplicatedNodeStatus[]> {
  const probes = await Promise.all(nodes.map(probe))
  const primaryLsn = probes[nodes.findIndex((node) => node.role === 'primary')]?.lsn
  return nodes.map((node, index) => {
    const base = { name: node.name, role: node.role, port: node.port }
    const found = probes[index]
    if (found === undefined) return { ...base, ...DOWN }
    let lagBytes: number | undefined
    let lagSeconds: number | undefined
    if (found.inRecovery && primaryLsn !== undefined && found.lsn !== undefined) {
      const behind = parseLsn(primaryLsn) - parseLsn(found.lsn)
      lagBytes = behind > 0n ? Number(behind) : 0
      lagSeconds = lagBytes === 0 ? 0 : (found.replaySeconds ?? undefined)
    }
    const { replaySeconds: _, ...fields } = found
    return { ...base, up: true, ...fields, lagBytes, lagSeconds }
  })
}

/** A WAL position (`16/B374D848`) as a number of bytes. */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split('/')
  if (high === undefined || low === undefined) throw new Error(`Not a WAL position: ${lsn}`)
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

async function probe(node: ContainerNode): Promise<Probe | undefined> {
  if (!node.running) return undefined
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
      { connectMs: CONNECT_TIMEOUT_MS, queryMs: 5000 },
    )
  } catch {
    return undefined
  }
}

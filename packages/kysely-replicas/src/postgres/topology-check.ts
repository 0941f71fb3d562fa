import { CompiledQuery } from 'kysely'
import type { DatabaseNode } from '../nodes/database-node.js'
import { parseLsn } from './lsn.js'

/**
 * One round trip tells everything the monitor needs. `pg_current_wal_lsn()` raises "recovery is
 * in progress" on a standby, hence the `case`; the other functions return null where they mean
 * nothing. Works on PostgreSQL 10 and later (checked on 15 and 18).
 */
export const TOPOLOGY_SQL = `select pg_is_in_recovery() as in_recovery,
  case when pg_is_in_recovery() then null else pg_current_wal_lsn() end::text as current_lsn,
  pg_last_wal_replay_lsn()::text as replay_lsn,
  extract(epoch from (now() - pg_last_xact_replay_timestamp()))::float8 as replay_age`

const QUERY = CompiledQuery.raw(TOPOLOGY_SQL)

/** What one node said about itself. */
export interface NodeReport {
  readonly inRecovery: boolean
  /** Not in recovery: where it writes WAL. */
  readonly currentLsn: bigint | undefined
  /** In recovery: how far it has replayed. */
  readonly replayLsn: bigint | undefined
  /** In recovery: seconds since the last replayed transaction committed on its primary. */
  readonly replayAge: number | undefined
}

/** The outcome of checking one node. */
export type CheckOutcome =
  | { readonly kind: 'report'; readonly report: NodeReport }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'timeout'; readonly error: Error }

/**
 * Runs the topology query on one node, on a connection of the node's own pool, giving up after
 * `timeoutMs` (the query still finishes, or fails, in the background and its connection goes
 * back to the pool).
 */
export async function checkNode(node: DatabaseNode, timeoutMs: number): Promise<CheckOutcome> {
  const check = query(node).then(
    (rows): CheckOutcome => {
      try {
        return { kind: 'report', report: parseReport(rows[0]) }
      } catch (error) {
        return { kind: 'failed', error }
      }
    },
    (error: unknown): CheckOutcome => ({ kind: 'failed', error }),
  )
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => {
      const error = new Error(
        `"${node.name}" did not answer the topology check within ${timeoutMs} ms.`,
      )
      resolve({ kind: 'timeout', error })
    }, timeoutMs)
    timer.unref?.()
  })
  try {
    return await Promise.race([check, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function query(node: DatabaseNode): Promise<readonly unknown[]> {
  const connection = await node.driver.acquireConnection()
  try {
    return (await connection.executeQuery(QUERY)).rows
  } finally {
    await node.driver.releaseConnection(connection)
  }
}

/** Reads a row of {@link TOPOLOGY_SQL}; throws on anything else (a server that is not PostgreSQL). */
export function parseReport(row: unknown): NodeReport {
  if (
    typeof row !== 'object' ||
    row === null ||
    typeof (row as { in_recovery?: unknown }).in_recovery !== 'boolean'
  ) {
    throw new TypeError(`The topology check returned an unexpected row: ${JSON.stringify(row)}.`)
  }
  const { in_recovery, current_lsn, replay_lsn, replay_age } = row as Record<string, unknown>
  return {
    inRecovery: in_recovery as boolean,
    currentLsn: lsnOrUndefined(current_lsn),
    replayLsn: lsnOrUndefined(replay_lsn),
    replayAge: secondsOrUndefined(replay_age),
  }
}

function lsnOrUndefined(value: unknown): bigint | undefined {
  return typeof value === 'string' ? parseLsn(value) : undefined
}

// float8 arrives as a number from node-postgres, as a string from drivers that keep precision.
function secondsOrUndefined(value: unknown): number | undefined {
  const seconds = typeof value === 'string' ? Number(value) : value
  return typeof seconds === 'number' && Number.isFinite(seconds) ? Math.max(0, seconds) : undefined
}

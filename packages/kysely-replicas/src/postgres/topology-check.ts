import { CompiledQuery, type Driver } from 'kysely'
import type { FailureKind } from '../health/node-health.js'
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

/**
 * How the monitor reaches a node: connections of its own, or the node's pool, which it shares
 * with user queries.
 */
export interface CheckPath {
  /** The node's own pool: waiting for one of its connections says nothing of the server. */
  readonly shared: boolean
  /** Runs one statement on a connection; calls `connected` once it has one. */
  run(sql: string, connected: () => void): Promise<readonly unknown[]>
}

/** The outcome of checking one node. */
export type CheckOutcome =
  | { readonly kind: 'report'; readonly report: NodeReport }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'timeout'; readonly error: Error }
  /**
   * Still waiting for a connection of a shared pool at the deadline: busy or dead, only the wait
   * can tell; `settled` is what it ends with.
   */
  | { readonly kind: 'queued'; readonly settled: Promise<CheckOutcome> }

/**
 * Whose fault a failed check was; the node is marked down when it was its own (its probe brings
 * it back, after the monitor confirmed its role). A check that timed out is the node's.
 */
export function judgeCheckFailure(
  node: DatabaseNode,
  outcome: Extract<CheckOutcome, { kind: 'failed' | 'timeout' }>,
): FailureKind {
  const kind = outcome.kind === 'timeout' ? 'node' : node.health.failureKind(outcome.error)
  if (kind === 'node') {
    node.health.markDown(outcome.error)
  }
  return kind
}

/** A check path over the node's own driver, hence its pool. */
export function driverCheckPath(driver: Driver): CheckPath {
  return {
    shared: true,
    async run(sql, connected) {
      const connection = await driver.acquireConnection()
      connected()
      try {
        return (await connection.executeQuery(CompiledQuery.raw(sql))).rows
      } finally {
        await driver.releaseConnection(connection)
      }
    },
  }
}

// Sessions terminated together (the pool's other idle connection too) fail one after the other;
// a moment between tries lets the pool drop them.
const ATTEMPTS = 3
const RETRY_PAUSE_MS = 10

/**
 * Runs the topology query on one node, giving up after `timeoutMs` (the query still finishes,
 * or fails, in the background). A connection that fails with a node-level error after it was
 * had (a session terminated by an administrator, a reset) is that connection's problem until
 * the server refuses new ones: the check is tried again, up to {@link ATTEMPTS} times, within
 * the same deadline.
 */
export async function checkNode(
  node: DatabaseNode,
  path: CheckPath,
  timeoutMs: number,
): Promise<CheckOutcome> {
  const deadline = Date.now() + timeoutMs
  for (let tries = 1; ; tries++) {
    const { outcome, connected } = await attempt(node, path, deadline, timeoutMs)
    if (
      outcome.kind !== 'failed' ||
      !connected ||
      !node.health.isNodeFailure(outcome.error) ||
      tries >= ATTEMPTS ||
      Date.now() + RETRY_PAUSE_MS >= deadline
    ) {
      return outcome
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS))
  }
}

async function attempt(
  node: DatabaseNode,
  path: CheckPath,
  deadline: number,
  timeoutMs: number,
): Promise<{ outcome: CheckOutcome; connected: boolean }> {
  let connected = false
  const check = path
    .run(TOPOLOGY_SQL, () => {
      connected = true
    })
    .then(
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
    timer = setTimeout(
      () => {
        if (path.shared && !connected) {
          resolve({ kind: 'queued', settled: check })
          return
        }
        const error = new Error(
          `"${node.name}" did not answer the topology check within ${timeoutMs} ms.`,
        )
        resolve({ kind: 'timeout', error })
      },
      Math.max(0, deadline - Date.now()),
    )
    timer.unref?.()
  })
  try {
    const outcome = await Promise.race([check, timeout])
    return { outcome, connected }
  } finally {
    clearTimeout(timer)
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

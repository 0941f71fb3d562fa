/**
 * SQLSTATEs by which PostgreSQL says the server, not the query, is the problem: the read may
 * succeed on another node.
 */
const SERVER_STATES: ReadonlySet<string> = new Set([
  // Class 08, connection exception: the connection failed or was never made.
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08P01',
  // Class 57P, operator intervention: terminated by an administrator, crash shutdown, "the
  // database system is starting up / shutting down / in recovery mode".
  '57P01',
  '57P02',
  '57P03',
  '57P04',
  '57P05',
  // Too many connections.
  '53300',
])

// A hot standby cancels queries whose snapshot conflicts with replay ("canceling statement due
// to conflict with recovery"); it reports them as serialization failures or deadlocks.
const RECOVERY_CONFLICT_STATES: ReadonlySet<string> = new Set(['40001', '40P01'])
const RECOVERY_CONFLICT = /conflict with recovery/i

/**
 * Whether a PostgreSQL error (as node-postgres reports it, with `code` holding the SQLSTATE)
 * means the server cannot serve queries now, rather than that the query is wrong.
 *
 * ```ts
 * isPostgresConnectionError({ code: '57P01', message: 'terminating connection due to administrator command' }) // true
 * isPostgresConnectionError({ code: '23505', message: 'duplicate key value' }) // false
 * ```
 */
export function isPostgresConnectionError(error: {
  readonly code?: unknown
  readonly message?: unknown
}): boolean {
  const { code } = error
  if (typeof code !== 'string') {
    return false
  }
  if (SERVER_STATES.has(code)) {
    return true
  }
  return (
    RECOVERY_CONFLICT_STATES.has(code) &&
    typeof error.message === 'string' &&
    RECOVERY_CONFLICT.test(error.message)
  )
}

// pg-pool fails a caller that waited in its queue for `connectionTimeoutMillis` with this text
// and no code; a new connection that timed out says "Connection terminated due to connection
// timeout" instead, and a refused one carries ECONNREFUSED.
const POOL_QUEUE_TIMEOUT = 'timeout exceeded when trying to connect'

/**
 * Whether node-postgres' pool gave up on a caller that waited in its queue because every client
 * was busy: the pool is saturated, which says nothing of the server.
 *
 * ```ts
 * isPostgresPoolSaturated(new Error('timeout exceeded when trying to connect')) // true
 * isPostgresPoolSaturated(new Error('Connection terminated due to connection timeout')) // false
 * ```
 */
export function isPostgresPoolSaturated(error: {
  readonly code?: unknown
  readonly message?: unknown
}): boolean {
  return error.code === undefined && error.message === POOL_QUEUE_TIMEOUT
}

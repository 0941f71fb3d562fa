import {
  isPostgresConnectionError,
  isPostgresPoolSaturated,
} from '../postgres/postgres-connection-errors.js'

// Socket-level failures as Node.js reports them, whatever the database. Typed to be asked about
// any code: a number or an object is simply not in it.
const SOCKET_CODES: ReadonlySet<unknown> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

// Drivers that lose their socket say so in words, with no code (node-postgres among them).
const LOST_CONNECTION =
  /connection terminated|connection timeout|not queryable|connection (?:is )?closed|socket hang up/i

/**
 * The default test of whether an error is the node's fault (down, unreachable, overloaded,
 * shutting down) rather than the query's: such a read is retried elsewhere and the node is
 * marked down. SQL errors (syntax, constraint, permission) are not, nor is a pool whose
 * connections are all busy (see {@link isSaturationError}).
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, health: { isConnectionError: (e) => isConnectionError(e) || myCheck(e) } })
 * ```
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) {
    return false
  }
  if (error instanceof AggregateError) {
    return error.errors.some(isConnectionError)
  }
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (SOCKET_CODES.has(code)) {
    return true
  }
  if (isPostgresConnectionError(error)) {
    return true
  }
  return typeof message === 'string' && typeof code !== 'string' && LOST_CONNECTION.test(message)
}

/**
 * The default test of whether an error says the node's pool had no free connection in time (all
 * busy with other queries) rather than that the server failed: such a read may be retried on
 * another node, but nothing is marked down. Knows node-postgres' pool.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, health: { isSaturationError: (e) => isSaturationError(e) || myPoolTimeout(e) } })
 * ```
 */
export function isSaturationError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) {
    return false
  }
  if (error instanceof AggregateError) {
    return error.errors.length > 0 && error.errors.every(isSaturationError)
  }
  return isPostgresPoolSaturated(error)
}

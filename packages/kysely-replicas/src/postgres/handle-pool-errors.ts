/**
 * The part of a node-postgres `Pool` this needs (no type dependency on `pg`).
 *
 * ```ts
 * const pool: ErrorEmittingPool = new pg.Pool(config) // a node-postgres Pool fits
 * handlePoolErrors(pool)
 * ```
 */
export interface ErrorEmittingPool {
  /** An error of an idle client (its server went away). */
  on(event: 'error', listener: (error: Error) => void): unknown
  /** A new client, on which `handlePoolErrors` listens for errors too. */
  on(
    event: 'connect',
    listener: (client: { on(event: 'error', listener: (error: Error) => void): unknown }) => void,
  ): unknown
}

/**
 * Keeps a node-postgres pool from crashing the process when its server dies. node-postgres makes
 * a client emit `error` when the server ends its connection (a killed or restarted replica, a
 * failover), both while the client idles in the pool and while it is checked out between two
 * queries; an `error` event with no listener kills the process. This listens on the pool and on
 * every client it creates. The query that was running still fails, and kysely-replicas handles
 * that (retrying reads elsewhere); `onError` sees each error, passwords never included by pg.
 *
 * ```ts
 * import pg from 'pg'
 * const pool = handlePoolErrors(new pg.Pool(config), (error) => log.warn(error.message))
 * new PostgresDialect({ pool })
 * ```
 */
export function handlePoolErrors<P extends ErrorEmittingPool>(
  pool: P,
  onError: (error: Error) => void = () => {},
): P {
  pool.on('error', onError)
  pool.on('connect', (client) => {
    client.on('error', onError)
  })
  return pool
}

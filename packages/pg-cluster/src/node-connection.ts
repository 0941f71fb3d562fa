import type { PgConnectionConfig } from './sql-client.js'
import type { Credentials } from './state-file.js'

/**
 * The URL of a node that listens on 127.0.0.1, user and database percent-encoded.
 *
 * ```ts
 * loopbackConnectionString(cluster.superuser, 'app', 54321)
 * // 'postgres://postgres:…@127.0.0.1:54321/app'
 * ```
 */
export function loopbackConnectionString(
  superuser: Credentials,
  database: string,
  port: number,
): string {
  return (
    `postgres://${encodeURIComponent(superuser.user)}:${encodeURIComponent(superuser.password)}` +
    `@127.0.0.1:${port}/${encodeURIComponent(database)}`
  )
}

/**
 * `pg` connection settings of a node that listens on 127.0.0.1.
 *
 * ```ts
 * const pool = new pg.Pool(loopbackPoolConfig(cluster.superuser, 'app', 54321))
 * ```
 */
export function loopbackPoolConfig(
  superuser: Credentials,
  database: string,
  port: number,
): PgConnectionConfig {
  return {
    host: '127.0.0.1',
    port,
    user: superuser.user,
    password: superuser.password,
    database,
  }
}

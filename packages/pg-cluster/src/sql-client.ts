import pg from 'pg'

/**
 * What `pg` needs to reach one node over TCP. Structurally a `pg.PoolConfig` / `pg.ClientConfig`,
 * declared here so that pg-cluster's types do not depend on `@types/pg`.
 *
 * ```ts
 * const config: PgConnectionConfig = cluster.primary.poolConfig()
 * const pool = new pg.Pool({ ...config, max: 4 })
 * ```
 */
export interface PgConnectionConfig {
  host: string
  port: number
  user: string
  password: string
  database: string
}

/** Timeouts of one short-lived connection. */
export interface ClientTimeouts {
  /** How long connecting may take: short, so that a node that is down is reported quickly. */
  readonly connectMs?: number
  /** How long one query may take. */
  readonly queryMs?: number
}

/**
 * One row as `pg` returns it; `cluster.query()` takes a narrower row type.
 *
 * ```ts
 * const rows = await cluster.query<{ n: number }>('primary', 'select 1 as n')
 * ```
 */
export type Row = Record<string, unknown>

/**
 * Opens a connection, hands it to `use` and closes it. Every connection has an `'error'`
 * listener: `pg` emits `'error'` when the server goes away between queries (a node killed by a
 * test), and an unhandled `'error'` event would end the whole process.
 */
export async function withClient<T>(
  config: PgConnectionConfig,
  use: (client: pg.Client) => Promise<T>,
  { connectMs = 2000, queryMs = 15_000 }: ClientTimeouts = {},
): Promise<T> {
  const client = new pg.Client({
    ...config,
    connectionTimeoutMillis: connectMs,
    query_timeout: queryMs,
    application_name: 'pg-cluster',
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return await use(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Runs one statement on a fresh connection and returns its rows. */
export function queryRows<R extends Row = Row>(
  config: PgConnectionConfig,
  sql: string,
  params: readonly unknown[] = [],
  timeouts?: ClientTimeouts,
): Promise<R[]> {
  return withClient(
    config,
    async (client) => (await client.query<R>(sql, params as unknown[])).rows,
    timeouts,
  )
}

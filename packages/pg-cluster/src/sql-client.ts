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

/**
 * Timeouts of one short-lived connection, and the name it shows in `pg_stat_activity`.
 *
 * ```ts
 * await queryRows(node.adminConfig(), 'select 1', [], { connectMs: 1500, applicationName: 'mine' })
 * ```
 */
export interface ClientTimeouts {
  /** How long connecting may take: short, so that a node that is down is reported quickly. */
  readonly connectMs?: number
  /** How long one query may take. */
  readonly queryMs?: number
  /** `application_name` of the connection; `'pg-cluster'` by default. */
  readonly applicationName?: string
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
 * The part of a `pg.Client` that `withClient` hands out, declared here so that pg-cluster's types
 * do not depend on `@types/pg`.
 *
 * ```ts
 * await withClient(config, (client: SqlSession) => client.query('select pg_wal_replay_pause()'))
 * ```
 */
export interface SqlSession {
  query<R extends Row = Row>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>
}

/**
 * Opens a connection, hands it to `use` and closes it. Every connection has an `'error'`
 * listener: `pg` emits `'error'` when the server goes away between queries (a node killed by a
 * test), and an unhandled `'error'` event would end the whole process.
 *
 * ```ts
 * const n = await withClient(node.adminConfig(), async (client) => (await client.query('select 1')).rowCount)
 * ```
 */
export async function withClient<T>(
  config: PgConnectionConfig,
  use: (client: SqlSession) => Promise<T>,
  { connectMs = 2000, queryMs = 15_000, applicationName = 'pg-cluster' }: ClientTimeouts = {},
): Promise<T> {
  const client = new pg.Client({
    ...config,
    connectionTimeoutMillis: connectMs,
    query_timeout: queryMs,
    application_name: applicationName,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return await use(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Runs one statement on a fresh connection and returns its rows.
 *
 * ```ts
 * const [row] = await queryRows<{ n: number }>(node.adminConfig(), 'select $1::int as n', [1])
 * ```
 */
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

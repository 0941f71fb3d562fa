import type { PgConnectionConfig, Row } from '@kysely-replicas/pg-cluster'
import pg from 'pg'

/** Timeouts of one short-lived connection. */
export interface ClientTimeouts {
  readonly connectMs?: number
  readonly queryMs?: number
}

/**
 * Opens a connection, hands it to `use` and closes it. The `'error'` listener keeps a server
 * that goes away between queries (a killed container) from ending the process.
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
    application_name: 'kysely-replicas-testcontainers',
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

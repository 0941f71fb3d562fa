import {
  type ClientTimeouts,
  type PgConnectionConfig,
  queryRows as pgClusterQueryRows,
  withClient as pgClusterWithClient,
  type Row,
  type SqlSession,
} from '@kysely-replicas/pg-cluster'

/** How this package's own connections show in `pg_stat_activity`. */
export const APPLICATION_NAME = 'kysely-replicas-testcontainers'

/** pg-cluster's `withClient`, with this package's `application_name`. */
export function withClient<T>(
  config: PgConnectionConfig,
  use: (client: SqlSession) => Promise<T>,
  timeouts: ClientTimeouts = {},
): Promise<T> {
  return pgClusterWithClient(config, use, { ...timeouts, applicationName: APPLICATION_NAME })
}

/** pg-cluster's `queryRows`, with this package's `application_name`. */
export function queryRows<R extends Row = Row>(
  config: PgConnectionConfig,
  sql: string,
  params: readonly unknown[] = [],
  timeouts: ClientTimeouts = {},
): Promise<R[]> {
  return pgClusterQueryRows<R>(config, sql, params, {
    ...timeouts,
    applicationName: APPLICATION_NAME,
  })
}

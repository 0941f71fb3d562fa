import type { PgConnectionConfig } from '@kysely-replicas/pg-cluster'

/** What the global setup tells the tests about the shared cluster. */
export interface ClusterInfo {
  readonly nodes: ReadonlyArray<
    PgConnectionConfig & { readonly name: string; readonly role: string }
  >
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo
  }
}

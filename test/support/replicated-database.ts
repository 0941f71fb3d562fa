import { type Generated, Kysely, PostgresDialect, sql } from 'kysely'
import { handlePoolErrors, ReplicatedDialect, type ReplicatedDialectConfig } from 'kysely-replicas'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { inject } from 'vitest'
import './cluster-info.js'

/** Every test table: a serial id and a name. */
export interface Database {
  [table: string]: { id: Generated<number>; name: string }
}

/** A pool that survives its server being killed: node-postgres crashes the process otherwise. */
export function createPool(config: pg.PoolConfig): pg.Pool {
  return handlePoolErrors(new pg.Pool({ max: 4, connectionTimeoutMillis: 2000, ...config }))
}

/** The shared cluster's nodes, primary first. */
export function clusterNodes() {
  const { nodes } = inject('cluster')
  const primary = nodes.find((node) => node.role === 'primary')
  if (primary === undefined) {
    throw new Error('the shared cluster has no primary')
  }
  return { primary, replicas: nodes.filter((node) => node.role === 'replica') }
}

type NodeInfo = pg.PoolConfig & { readonly name: string; readonly port: number }

/**
 * A Kysely through a ReplicatedDialect over the shared cluster (or the given nodes), with the
 * nodes' ports to tell which one served a query.
 */
export function createReplicatedDatabase(
  options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {},
  nodes: { primary: NodeInfo; replicas: readonly NodeInfo[] } = clusterNodes(),
) {
  const { primary, replicas } = nodes
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      ...options,
      primary: {
        name: primary.name,
        dialect: new PostgresDialect({ pool: createPool(primary), cursor: Cursor }),
      },
      replicas: replicas.map((replica) => ({
        name: replica.name,
        dialect: new PostgresDialect({ pool: createPool(replica), cursor: Cursor }),
      })),
    }),
  })
  return { db, primaryPort: primary.port, replicaPorts: replicas.map((replica) => replica.port) }
}

/** Waits until every replica has replayed the primary's WAL as of now. */
export async function waitForReplicas(): Promise<void> {
  const { primary, replicas } = clusterNodes()
  const lsn = await queryOne<{ lsn: string }>(primary, 'select pg_current_wal_lsn()::text as lsn')
  for (const replica of replicas) {
    for (let attempt = 0; ; attempt++) {
      const { caught } = await queryOne<{ caught: boolean }>(
        replica,
        'select pg_last_wal_replay_lsn() >= $1::pg_lsn as caught',
        [lsn.lsn],
      )
      if (caught) break
      if (attempt > 500) throw new Error(`replica ${replica.name} did not catch up`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

async function queryOne<R>(
  config: pg.ClientConfig,
  text: string,
  values: unknown[] = [],
): Promise<R> {
  const client = new pg.Client(config)
  client.on('error', () => {})
  await client.connect()
  try {
    const { rows } = await client.query(text, values)
    return rows[0] as R
  } finally {
    await client.end()
  }
}

/** Which server answered: `inet_server_port()` as a selection. */
export const serverPort = sql<number>`inet_server_port()`.as('port')

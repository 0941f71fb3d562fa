import { EventEmitter } from 'node:events'
import { Kysely, type PostgresPoolClient } from 'kysely'
import {
  type DatabaseNode,
  InvalidConfigError,
  type MonitorContext,
  replicationOf,
} from 'kysely-replicas'
// By path until tsconfig maps kysely-replicas/postgres to the sources (it resolves to dist/).
import {
  createPostgresReplicatedDialect,
  type PostgresReplicatedDialectConfig,
  postgresTopology,
} from 'kysely-replicas/postgres'
import { describe, expect, it, vi } from 'vitest'

interface PoolConfig {
  host?: string
  port?: number
  max?: number
  connectionTimeoutMillis?: number
  application_name?: string
}

type Listener = (value: never) => void

/**
 * A pool class shaped like `pg.Pool` that records what it was built with. Every server behind it
 * says it is a primary unless its host starts with `standby`.
 */
class RecordingPool {
  static readonly created: RecordingPool[] = []
  readonly config: PoolConfig
  // What pg's Pool exposes and Kysely 0.30 types as part of a pool.
  readonly options = {}
  readonly listeners = new Map<string, Listener[]>()
  readonly queries: string[] = []
  ended = false

  constructor(config?: PoolConfig) {
    this.config = config ?? {}
    RecordingPool.created.push(this)
  }

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener])
    return this
  }

  async connect(): Promise<PostgresPoolClient> {
    const query = async (text: string) => {
      this.queries.push(text)
      const standby = this.config.host?.startsWith('standby') === true
      const row = text.includes('pg_is_in_recovery()')
        ? {
            in_recovery: standby,
            current_lsn: standby ? null : '0/100',
            replay_lsn: standby ? '0/100' : null,
            replay_age: null,
          }
        : { host: this.config.host }
      return { command: 'SELECT' as const, rowCount: 1, rows: [row] }
    }
    return { query: query as unknown as PostgresPoolClient['query'], release() {} }
  }

  async end(): Promise<void> {
    this.ended = true
  }
}

function create(config: Partial<PostgresReplicatedDialectConfig<PoolConfig>> = {}) {
  RecordingPool.created.length = 0
  const db = new Kysely<{ t: { host: string } }>({
    dialect: createPostgresReplicatedDialect<PoolConfig>({
      Pool: RecordingPool,
      nodes: [
        { host: 'standby-a' },
        { host: 'primary-b', name: 'b', max: 3 },
        { host: 'standby-c' },
      ],
      ...config,
    }),
  })
  // The node pools are built with the dialect; the monitor's own ones (checks and probes) with
  // each Kysely instance.
  const created = [...RecordingPool.created]
  return { db, pools: created.slice(0, 3), checkPools: created.slice(3) }
}

describe('createPostgresReplicatedDialect', () => {
  it('builds a pool per node from the shared and the node settings, with a connection timeout', async () => {
    const { db, pools } = create({ poolOptions: { max: 10, application_name: 'app' } })
    expect(pools.map((pool) => pool.config)).toEqual([
      { connectionTimeoutMillis: 2000, max: 10, application_name: 'app', host: 'standby-a' },
      { connectionTimeoutMillis: 2000, max: 3, application_name: 'app', host: 'primary-b' },
      { connectionTimeoutMillis: 2000, max: 10, application_name: 'app', host: 'standby-c' },
    ])
    // Kysely starts (and so destroys) the driver on the first query only.
    await db.selectFrom('t').selectAll().execute()
    await db.destroy()
    expect(pools.every((pool) => pool.ended)).toBe(true)
  })

  it('gives the monitor a small pool of its own per node, closed with the instance', async () => {
    const { db, checkPools } = create({
      poolOptions: { application_name: 'app' },
      topology: { timeoutMs: 700 },
    })
    expect(checkPools.map((pool) => pool.config)).toEqual(
      ['standby-a', 'primary-b', 'standby-c'].map((host) => ({
        host,
        application_name: 'app',
        max: 2,
        min: 0,
        connectionTimeoutMillis: 700,
        query_timeout: 700,
        allowExitOnIdle: true,
      })),
    )
    await db.selectFrom('t').selectAll().execute()
    await db.destroy()
    expect(checkPools.every((pool) => pool.ended)).toBe(true)
  })

  it('takes the first node as the initial guess only: roles are discovered', async () => {
    const { db, pools, checkPools } = create()
    const [row] = await db.insertInto('t').values({ host: 'x' }).returning('host').execute()
    expect(row?.host).toBe('primary-b')
    expect(
      replicationOf(db)
        .stats()
        .map((node) => [node.name, node.role]),
    ).toEqual([
      ['primary', 'replica'],
      ['b', 'primary'],
      ['replica-1', 'replica'],
    ])
    expect(
      checkPools.every((pool) => pool.queries.some((sql) => sql.includes('pg_is_in_recovery()'))),
    ).toBe(true)
    // The checks never wait in the pools user queries use.
    expect(
      pools.some((pool) => pool.queries.some((sql) => sql.includes('pg_is_in_recovery()'))),
    ).toBe(false)
    await db.destroy()
  })

  it('keeps the configured roles with topology: false', async () => {
    const { db, pools } = create({ topology: false })
    const [row] = await db.insertInto('t').values({ host: 'x' }).returning('host').execute()
    expect(row?.host).toBe('standby-a')
    expect(
      pools.some((pool) => pool.queries.some((sql) => sql.includes('pg_is_in_recovery()'))),
    ).toBe(false)
    await db.destroy()
  })

  it('builds the pool of a member that joins from the first node settings, at its address', async () => {
    let context: MonitorContext | undefined
    const seen: Array<[string, string]> = []
    const { db } = create({
      poolOptions: { max: 10 },
      onPoolError: (error, node) => seen.push([node, error.message]),
      monitor: (given) => {
        context = given
        return { init: async () => {}, close: async () => {} }
      },
    })
    await db.selectFrom('t').selectAll().execute()
    expect(context?.canAddNodes).toBe(true)
    const node = await context?.addNode({ name: 'node4', host: 'standby-d', port: 6543 })
    expect(node?.name).toBe('node4')
    const pool = RecordingPool.created.at(-1)
    expect(pool?.config).toEqual({
      connectionTimeoutMillis: 2000,
      max: 10,
      host: 'standby-d',
      port: 6543,
    })
    const emit = pool?.listeners.get('error')?.[0] as ((error: Error) => void) | undefined
    emit?.(new Error('terminating connection'))
    expect(seen).toEqual([['node4', 'terminating connection']])
    context?.removeNode(node as DatabaseNode)
    await vi.waitFor(() => expect(pool?.ended).toBe(true))
    await db.destroy()
  })

  it('listens for pool and client errors, and tells which node had one', async () => {
    const seen: Array<[string, string]> = []
    const { db, pools } = create({ onPoolError: (error, node) => seen.push([node, error.message]) })
    for (const pool of pools) {
      expect(pool.listeners.get('error')).toHaveLength(1)
      expect(pool.listeners.get('connect')).toHaveLength(1)
    }
    const emit = pools[1]?.listeners.get('error')?.[0] as ((error: Error) => void) | undefined
    emit?.(new Error('terminating connection due to administrator command'))
    // A client the pool made: an 'error' it emits with no listener would throw (and, in an
    // idle client, kill the process).
    const connect = pools[0]?.listeners.get('connect')?.[0] as
      | ((client: EventEmitter) => void)
      | undefined
    const client = new EventEmitter()
    connect?.(client)
    client.emit('error', new Error('Connection terminated unexpectedly'))
    expect(seen).toEqual([
      ['b', 'terminating connection due to administrator command'],
      ['primary', 'Connection terminated unexpectedly'],
    ])
    await db.destroy()
  })

  it.each<[string, unknown, RegExp]>([
    ['no Pool', { nodes: [{}] }, /Pool must be a pool class, such as pg\.Pool/],
    ['no nodes', { Pool: RecordingPool, nodes: [] }, /nodes must be a non-empty array/],
    [
      'a node that is not an object',
      { Pool: RecordingPool, nodes: ['postgres://x'] },
      /nodes\[0\] must be an object/,
    ],
    [
      'both topology and monitor',
      { Pool: RecordingPool, nodes: [{}], topology: {}, monitor: postgresTopology() },
      /either topology .* or monitor, not both/,
    ],
    [
      'bad topology options',
      { Pool: RecordingPool, nodes: [{}], topology: { intervalMs: -1 } },
      /intervalMs/,
    ],
  ])('rejects %s', (_, config, message) => {
    const make = () =>
      createPostgresReplicatedDialect(config as PostgresReplicatedDialectConfig<PoolConfig>)
    expect(make).toThrow(InvalidConfigError)
    expect(make).toThrow(message)
  })
})

import { NodeNotFoundError, PgCluster } from '@kysely-replicas/pg-cluster'
import pg from 'pg'
import { afterAll, beforeAll, expect, test } from 'vitest'

let cluster: PgCluster

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2, database: 'app' })
})

afterAll(async () => {
  await cluster?.stop()
})

test('names a primary and two replicas, each on its own port', () => {
  expect(cluster.nodes.map((node) => [node.name, node.role])).toEqual([
    ['primary', 'primary'],
    ['replica1', 'replica'],
    ['replica2', 'replica'],
  ])
  expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3)
  expect(cluster.primary.name).toBe('primary')
  expect(cluster.replicas.map((node) => node.name)).toEqual(['replica1', 'replica2'])
})

test('a row written on the primary appears on each replica', async () => {
  const primary = new pg.Pool(cluster.primary.poolConfig())
  try {
    await primary.query('create table person (id int primary key, name text)')
    await primary.query(`insert into person values (1, 'Ada')`)
  } finally {
    await primary.end()
  }
  await cluster.waitForReplay()
  for (const replica of cluster.replicas) {
    const client = new pg.Client({ connectionString: replica.connectionString })
    await client.connect()
    try {
      const { rows } = await client.query('select name, pg_is_in_recovery() as standby from person')
      expect(rows).toEqual([{ name: 'Ada', standby: true }])
      await expect(client.query(`insert into person values (2, 'Bob')`)).rejects.toThrow(
        /read-only transaction/,
      )
    } finally {
      await client.end()
    }
  }
})

test('connection settings point at the chosen database, with a password', async () => {
  const config = cluster.primary.poolConfig()
  expect(config).toMatchObject({ host: '127.0.0.1', user: 'postgres', database: 'app' })
  expect(config.password.length).toBeGreaterThan(16)
  const [row] = await cluster.query('primary', 'select current_database() as db')
  expect(row).toEqual({ db: 'app' })
  await expect(new pg.Client({ ...config, password: 'wrong' }).connect()).rejects.toThrow(
    /password authentication failed/,
  )
})

test('status reports every node up, streaming and caught up', async () => {
  await cluster.waitForReplay()
  const status = await cluster.status()
  expect(status.map(({ name, role, up, inRecovery }) => ({ name, role, up, inRecovery }))).toEqual([
    { name: 'primary', role: 'primary', up: true, inRecovery: false },
    { name: 'replica1', role: 'replica', up: true, inRecovery: true },
    { name: 'replica2', role: 'replica', up: true, inRecovery: true },
  ])
  for (const replica of status.slice(1)) {
    expect(replica).toMatchObject({ streaming: true, replayPaused: false, timeline: 1 })
    expect(replica.lagBytes).toBe(0)
    expect(replica.lagSeconds).toBe(0)
  }
})

test('keeps passwords out of printed nodes', () => {
  const password = cluster.superuser.password
  const node = cluster.primary
  expect(String(node)).toContain('postgres://postgres:***@127.0.0.1:')
  expect(JSON.stringify(node)).not.toContain(password)
  expect(JSON.stringify(cluster.nodes)).not.toContain(password)
})

test('an unknown node name is a NodeNotFoundError', async () => {
  expect(() => cluster.node('replica9')).toThrow(NodeNotFoundError)
  await expect(cluster.kill('replica9')).rejects.toThrow(/primary, replica1, replica2/)
})

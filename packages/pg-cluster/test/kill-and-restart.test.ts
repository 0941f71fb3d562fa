import { PgCluster } from '@kysely-replicas/pg-cluster'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { pidExists, postgresProcessesIn } from './test-helpers.js'

let cluster: PgCluster

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 1 })
  await cluster.query('primary', 'create table event (id int)')
})

afterAll(async () => {
  await cluster?.stop()
})

const count = async (node: string) =>
  (await cluster.query<{ n: number }>(node, 'select count(*)::int as n from event'))[0]?.n

test('a killed replica is reported down, with all its processes gone', async () => {
  const replica = cluster.node('replica1')
  const pid = replica.pid as number
  await cluster.kill('replica1')
  expect(pidExists(pid)).toBe(false)
  expect(replica.pid).toBeUndefined()
  expect(postgresProcessesIn(replica.dataDir)).toEqual([])

  const status = await cluster.status()
  expect(status.map(({ name, up }) => [name, up])).toEqual([
    ['primary', true],
    ['replica1', false],
  ])
})

test('a killed replica comes back with start() and receives the rows it missed', async () => {
  await cluster.query('primary', 'insert into event values (1)')
  await cluster.start('replica1')
  expect((await cluster.status())[1]).toMatchObject({ up: true, streaming: true })
  await cluster.query('primary', 'insert into event values (2)')
  await cluster.waitForReplay()
  expect(await count('replica1')).toBe(2)
})

test('a node that is down cannot be waited for', async () => {
  await cluster.stop('replica1')
  await expect(cluster.waitForReplay('replica1')).rejects.toThrow(/is down/)
  await cluster.start('replica1')
})

test('a killed primary restarts through crash recovery and the replica streams again', async () => {
  await cluster.query('primary', 'insert into event values (3)')
  await cluster.kill('primary')
  expect((await cluster.status())[0]?.up).toBe(false)
  // The replica still serves reads while the primary is down.
  expect(await count('replica1')).toBeGreaterThanOrEqual(2)

  await cluster.start('primary')
  expect(await count('primary')).toBe(3)
  await cluster.query('primary', 'insert into event values (4)')
  await cluster.waitForReplay()
  expect(await count('replica1')).toBe(4)
  expect((await cluster.status())[1]).toMatchObject({ streaming: true, lagBytes: 0 })
})

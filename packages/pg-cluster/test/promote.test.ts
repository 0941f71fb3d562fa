import { NodeStateError, PgCluster } from '@kysely-replicas/pg-cluster'
import { afterAll, beforeAll, expect, test } from 'vitest'

let cluster: PgCluster

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 2 })
  await cluster.query('primary', 'create table event (id int)')
  await cluster.query('primary', 'insert into event values (1)')
  await cluster.waitForReplay()
})

afterAll(async () => {
  await cluster?.stop()
})

const ids = async (node: string) =>
  (await cluster.query<{ id: number }>(node, 'select id from event order by id')).map(
    (row) => row.id,
  )

test('after promote, the new primary takes writes and the other replica follows it', async () => {
  const oldPrimary = cluster.node('primary')
  await cluster.promote('replica1')

  expect(cluster.primary.name).toBe('replica1')
  expect(cluster.nodes.map((node) => [node.name, node.role])).toEqual([
    ['primary', 'retired'],
    ['replica1', 'primary'],
    ['replica2', 'replica'],
  ])
  expect(oldPrimary.pid).toBeUndefined()

  await cluster.query('replica1', 'insert into event values (2)')
  await cluster.waitForReplay()
  expect(await ids('replica2')).toEqual([1, 2])

  const status = await cluster.status()
  expect(
    status.map(({ name, up, inRecovery, timeline }) => [name, up, inRecovery, timeline]),
  ).toEqual([
    ['primary', false, undefined, undefined],
    ['replica1', true, false, 2],
    ['replica2', true, true, 2],
  ])
})

test('the retired primary cannot simply be started again', async () => {
  await expect(cluster.start('primary')).rejects.toThrow(NodeStateError)
  await expect(cluster.promote('replica1')).rejects.toThrow(/already the primary/)
})

test('the retired primary rejoins as a replica of the new primary', async () => {
  await cluster.rejoinAsReplica('primary')
  expect(cluster.node('primary').role).toBe('replica')
  await cluster.query('replica1', 'insert into event values (3)')
  await cluster.waitForReplay()
  expect(await ids('primary')).toEqual([1, 2, 3])
  expect(await ids('replica2')).toEqual([1, 2, 3])
})

import { PgCluster } from '@kysely-replicas/pg-cluster'
import { afterAll, beforeAll, expect, test } from 'vitest'

let cluster: PgCluster

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 1 })
  await cluster.query('primary', 'create table event (id int)')
  await cluster.waitForReplay()
})

afterAll(async () => {
  await cluster?.stop()
})

const count = async () =>
  (await cluster.query<{ n: number }>('replica1', 'select count(*)::int as n from event'))[0]?.n

test('a delayed replica shows a new row only after the delay', async () => {
  await cluster.setApplyDelay('replica1', 1500)
  const committed = Date.now()
  await cluster.query('primary', 'insert into event values (1)')
  expect(await count()).toBe(0)
  await cluster.waitForReplay('replica1')
  expect(Date.now() - committed).toBeGreaterThanOrEqual(1000)
  expect(await count()).toBe(1)
})

test('a delay of 0 makes the replica immediate again, releasing what it held back', async () => {
  // Held back for ten minutes: only the new setting can let the wait below end within the
  // test's timeout.
  await cluster.setApplyDelay('replica1', 600_000)
  await cluster.query('primary', 'insert into event values (2)')
  expect(await count()).toBe(1)
  await cluster.setApplyDelay('replica1', 0)
  await cluster.waitForReplay('replica1')
  expect(await count()).toBe(2)
  await cluster.query('primary', 'insert into event values (3)')
  await cluster.waitForReplay('replica1')
  expect(await count()).toBe(3)
})

test('the delay must be a whole number of milliseconds', async () => {
  await expect(cluster.setApplyDelay('replica1', -1)).rejects.toThrow(/whole number/)
  await expect(cluster.setApplyDelay('replica1', 1.5)).rejects.toThrow(/whole number/)
})

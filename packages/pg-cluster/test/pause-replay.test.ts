import { NodeStateError, PgCluster } from '@kysely-replicas/pg-cluster'
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

const count = async (node: string) =>
  (await cluster.query<{ n: number }>(node, 'select count(*)::int as n from event'))[0]?.n

test('a paused replica shows no new row until replay resumes', async () => {
  await cluster.pauseReplay('replica1')
  await cluster.query('primary', 'insert into event values (1)')
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(await count('replica1')).toBe(0)
  expect((await cluster.status())[1]).toMatchObject({ replayPaused: true, streaming: true })
  await expect(cluster.waitForReplay('replica1', { timeoutMs: 300 })).rejects.toThrow(/paused/)

  await cluster.resumeReplay('replica1')
  await cluster.waitForReplay('replica1')
  expect(await count('replica1')).toBe(1)
  expect((await cluster.status())[1]).toMatchObject({ replayPaused: false, lagBytes: 0 })
})

test('replay can only be paused on a replica', async () => {
  await expect(cluster.pauseReplay('primary')).rejects.toThrow(NodeStateError)
})

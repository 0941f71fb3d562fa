import { existsSync } from 'node:fs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { NodeStateError } from '../src/errors.js'
import { PgCluster } from '../src/pg-cluster.js'
import { postgresProcessesIn } from './test-helpers.js'

// Members that join and leave a running plain cluster (the HA cluster's are tested with Patroni,
// in test/ha and test/cli-ha.test.ts).
let cluster: PgCluster

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 1 })
})

afterAll(async () => {
  await cluster?.stop()
})

test('addMember() adds a replica that streams and replays, seen by an attached cluster', async () => {
  const node = await cluster.addMember()
  expect(node).toMatchObject({ name: 'replica2', role: 'replica' })
  expect(cluster.replicas.map((each) => each.name)).toEqual(['replica1', 'replica2'])
  await cluster.query('primary', 'create table joined (id int)')
  await cluster.query('primary', 'insert into joined values (1)')
  await cluster.waitForReplay(node)
  expect(
    await cluster.query(node, 'select id, pg_is_in_recovery() as standby from joined'),
  ).toEqual([{ id: 1, standby: true }])
  const slots = await cluster.query('primary', 'select slot_name from pg_replication_slots')
  expect(slots.map((row) => row.slot_name).sort()).toEqual(['replica1', 'replica2'])
  const attached = await PgCluster.attach(cluster.dir)
  expect(attached.nodes.map((each) => each.name)).toEqual(['primary', 'replica1', 'replica2'])
})

test('removeMember() stops it, drops its slot and removes its files; the primary stays', async () => {
  const node = cluster.node('replica2')
  await cluster.removeMember(node)
  expect(cluster.nodes.map((each) => each.name)).toEqual(['primary', 'replica1'])
  expect(existsSync(node.dataDir)).toBe(false)
  expect(postgresProcessesIn(node.dataDir)).toEqual([])
  const slots = await cluster.query('primary', 'select slot_name from pg_replication_slots')
  expect(slots.map((row) => row.slot_name)).toEqual(['replica1'])
  expect((await PgCluster.attach(cluster.dir)).nodes).toHaveLength(2)
  await expect(cluster.removeMember('primary')).rejects.toThrow(NodeStateError)
  // A name freed by a member that left is taken again by the next one.
  const again = await cluster.addMember()
  expect(again.name).toBe('replica2')
  await cluster.waitForReplay(again)
})

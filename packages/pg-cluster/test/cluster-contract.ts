import {
  ClusterTimeoutError,
  NodeNotFoundError,
  NodeStateError,
  PgClusterError,
  type ReplicatedCluster,
} from '@kysely-replicas/pg-cluster'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

/** What a backend's test file may add to the shared suite. */
export interface ClusterContractOptions {
  /** Skip the whole suite (the backend is not available on this machine). */
  readonly skip?: boolean
  /** Checks after the cluster's `stop()`, such as "no container is left". */
  readonly afterStop?: () => Promise<void>
}

/**
 * The behaviour every `ReplicatedCluster` backend must have, run against one cluster of a
 * primary and two replicas. The tests run in order and each leaves the cluster in the state the
 * next one expects (a file of its own per backend, so the backends run in parallel).
 */
export function describeClusterContract(
  name: string,
  startCluster: () => Promise<ReplicatedCluster>,
  options: ClusterContractOptions = {},
): void {
  describe.skipIf(options.skip === true)(`ReplicatedCluster contract: ${name}`, () => {
    let cluster: ReplicatedCluster

    const ids = async (node: string) =>
      (await cluster.query<{ id: number }>(node, 'select id from event order by id')).map(
        (row) => row.id,
      )

    beforeAll(async () => {
      cluster = await startCluster()
    })

    afterAll(async () => {
      await cluster?.stop()
    })

    test('starts a primary and two streaming hot standbys', async () => {
      expect(cluster.nodes.map((node) => [node.name, node.role])).toEqual([
        ['primary', 'primary'],
        ['replica1', 'replica'],
        ['replica2', 'replica'],
      ])
      expect(cluster.primary.name).toBe('primary')
      expect(cluster.replicas.map((node) => node.name)).toEqual(['replica1', 'replica2'])
      expect(cluster.node('replica2')).toBe(cluster.replicas[1])
      const status = await cluster.status()
      expect(
        status.map(({ name, up, inRecovery, streaming }) => [name, up, inRecovery, streaming]),
      ).toEqual([
        ['primary', true, false, undefined],
        ['replica1', true, true, true],
        ['replica2', true, true, true],
      ])
    })

    test('nodes give working connection settings and hide the password', async () => {
      const { password } = cluster.superuser
      for (const node of cluster.nodes) {
        expect(node.poolConfig()).toMatchObject({
          host: '127.0.0.1',
          port: node.port,
          user: 'postgres',
          password,
          database: cluster.database,
        })
        expect(node.connectionString).toBe(
          `postgres://postgres:${password}@127.0.0.1:${node.port}/${cluster.database}`,
        )
        expect(String(node)).not.toContain(password)
        expect(JSON.stringify(node)).not.toContain(password)
      }
      const [row] = await cluster.query<{ user: string }>('replica1', 'select current_user as user')
      expect(row?.user).toBe('postgres')
    })

    test('a write on the primary reaches every replica; replicas refuse writes', async () => {
      await cluster.query('primary', 'create table event (id int)')
      await cluster.query('primary', 'insert into event values (1)')
      await cluster.waitForReplay()
      expect(await ids('replica1')).toEqual([1])
      expect(await ids('replica2')).toEqual([1])
      await expect(cluster.query('replica1', 'insert into event values (0)')).rejects.toThrow(
        /read-only transaction/,
      )
    })

    test('paused replay hides new writes until it resumes', async () => {
      await cluster.pauseReplay('replica1')
      await cluster.query('primary', 'insert into event values (2)')
      await expect(cluster.waitForReplay('replica1', { timeoutMs: 500 })).rejects.toThrow(
        ClusterTimeoutError,
      )
      expect(await ids('replica1')).toEqual([1])
      const paused = (await cluster.status()).find((node) => node.name === 'replica1')
      expect(paused?.replayPaused).toBe(true)
      expect(paused?.lagBytes).toBeGreaterThan(0)

      await cluster.resumeReplay('replica1')
      await cluster.waitForReplay('replica1')
      expect(await ids('replica1')).toEqual([1, 2])
    })

    test('an apply delay holds writes back until it is removed', async () => {
      await cluster.setApplyDelay('replica2', 60_000)
      const [setting] = await cluster.query<{ value: string }>(
        'replica2',
        `select current_setting('recovery_min_apply_delay') as value`,
      )
      expect(setting?.value).toBe('1min')
      await cluster.query('primary', 'insert into event values (3)')
      expect(await ids('replica2')).toEqual([1, 2])

      await cluster.setApplyDelay('replica2', 0)
      await cluster.waitForReplay('replica2')
      expect(await ids('replica2')).toEqual([1, 2, 3])
    })

    test('operations that do not fit the node are named errors', async () => {
      expect(() => cluster.node('replica9')).toThrow(NodeNotFoundError)
      await expect(cluster.pauseReplay('primary')).rejects.toThrow(NodeStateError)
      await expect(cluster.setApplyDelay('replica1', -1)).rejects.toThrow(PgClusterError)
      await expect(cluster.promote('primary')).rejects.toThrow(/already the primary/)
    })

    test('a killed replica is down, then catches up when started', async () => {
      await cluster.kill('replica2')
      const down = (await cluster.status()).find((node) => node.name === 'replica2')
      expect(down?.up).toBe(false)
      await expect(cluster.pauseReplay('replica2')).rejects.toThrow(NodeStateError)
      await cluster.query('primary', 'insert into event values (4)')

      await cluster.start('replica2')
      await cluster.waitForReplay()
      expect(await ids('replica2')).toEqual([1, 2, 3, 4])
    })

    test('a stopped primary comes back and the replicas stream from it again', async () => {
      await cluster.stop('primary')
      expect((await cluster.status())[0]?.up).toBe(false)
      await cluster.start('primary')
      await cluster.query('primary', 'insert into event values (5)')
      await cluster.waitForReplay()
      expect(await ids('replica1')).toEqual([1, 2, 3, 4, 5])
      const status = await cluster.status()
      expect(status.map(({ up, streaming }) => [up, streaming])).toEqual([
        [true, undefined],
        [true, true],
        [true, true],
      ])
    })

    test('a promoted replica takes writes and the other replica follows it', async () => {
      await cluster.promote('replica1')
      expect(cluster.nodes.map((node) => [node.name, node.role])).toEqual([
        ['primary', 'retired'],
        ['replica1', 'primary'],
        ['replica2', 'replica'],
      ])
      await cluster.query('replica1', 'insert into event values (6)')
      await cluster.waitForReplay()
      expect(await ids('replica2')).toEqual([1, 2, 3, 4, 5, 6])
      const status = await cluster.status()
      expect(
        status.map(({ name, up, inRecovery, timeline }) => [name, up, inRecovery, timeline]),
      ).toEqual([
        ['primary', false, undefined, undefined],
        ['replica1', true, false, 2],
        ['replica2', true, true, 2],
      ])
      await expect(cluster.start('primary')).rejects.toThrow(NodeStateError)
    })

    test('the retired primary rejoins as a replica of the new primary', async () => {
      await cluster.rejoinAsReplica('primary')
      expect(cluster.node('primary').role).toBe('replica')
      await cluster.query('replica1', 'insert into event values (7)')
      await cluster.waitForReplay()
      expect(await ids('primary')).toEqual([1, 2, 3, 4, 5, 6, 7])
      expect(await ids('replica2')).toEqual([1, 2, 3, 4, 5, 6, 7])
    })

    test('stop() ends everything, can be repeated, and closes the cluster', async () => {
      await cluster.stop()
      await cluster.stop()
      await expect(cluster.status()).rejects.toThrow(/stopped/)
      await options.afterStop?.()
    })
  })
}

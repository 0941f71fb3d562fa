import { Kysely, PostgresDialect } from 'kysely'
import { type HedgeEvent, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import type pg from 'pg'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HoldingProxy } from './support/holding-proxy.js'
import {
  clusterNodes,
  createPool,
  type Database,
  serverPort,
} from './support/replicated-database.js'

// A replica that turns slow (every byte 100 ms late, both ways) while reads wait on it: a read
// that has not answered after the recent p95 also goes to the other replica and takes its
// answer; the copy left on the slow replica ends in its own time and its connection goes back
// to the pool, none is leaked.

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) {
    await step()
  }
  cleanup = []
})

const idle = (pool: pg.Pool) => pool.totalCount === pool.idleCount && pool.waitingCount === 0

describe('a hedged read', () => {
  it('takes the answer of another replica when its own turns slow, and leaks no connection', async () => {
    const { primary, replicas } = clusterNodes()
    const [slow, fast] = replicas
    if (slow === undefined || fast === undefined) {
      throw new Error('the shared cluster needs two replicas')
    }
    const proxy = await HoldingProxy.start(slow.port)
    cleanup.push(() => proxy.close())
    const pools = [createPool(primary), createPool({ ...slow, port: proxy.port }), createPool(fast)]
    const [primaryPool, slowPool, fastPool] = pools as [pg.Pool, pg.Pool, pg.Pool]
    const db = new Kysely<Database>({
      dialect: new ReplicatedDialect({
        primary: { name: primary.name, dialect: new PostgresDialect({ pool: primaryPool }) },
        replicas: [
          { name: 'slow', dialect: new PostgresDialect({ pool: slowPool }) },
          { name: 'fast', dialect: new PostgresDialect({ pool: fastPool }) },
        ],
        // Every read starts on the replica that will turn slow.
        balancing: (candidates) =>
          candidates.find((node) => node.name === 'slow') ??
          (candidates[0] as (typeof candidates)[0]),
        hedge: { minDelayMs: 5 },
      }),
    })
    cleanup.push(() => db.destroy())
    const hedges: HedgeEvent[] = []
    replicationOf(db).on('hedge', (event) => hedges.push(event))

    // 32 reads at full speed give the p95 (a few ms here), and the budget one hedge.
    for (let i = 0; i < 32; i++) {
      expect((await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()).port).toBe(slow.port)
    }
    proxy.delayMs = 100
    const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()

    expect(port).toBe(fast.port)
    expect(hedges).toEqual([{ from: 'slow', to: 'fast', won: true, afterMs: expect.any(Number) }])
    expect(
      replicationOf(db)
        .stats()
        .find((node) => node.name === 'fast'),
    ).toMatchObject({
      hedgesSent: 1,
      hedgesWon: 1,
    })
    // The copy on the slow replica answers in its own time; its connection goes back.
    await vi.waitFor(() => expect(pools.every(idle)).toBe(true), { timeout: 10_000 })
    expect(slowPool.totalCount).toBeGreaterThan(0)
  })
})

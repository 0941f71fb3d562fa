import { Kysely, PostgresDialect } from 'kysely'
import { ReplicatedDialect, replicationOf } from 'kysely-replicas'
import type pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { HoldingProxy } from './support/holding-proxy.js'
import {
  clusterNodes,
  createPool,
  type Database,
  serverPort,
} from './support/replicated-database.js'

// A replica that stops answering (packets dropped: no error, no RST, no FIN) is the common cloud
// failure. The reads it holds must go elsewhere well before the partition ends, and none may
// fail; once it heals, the replica serves reads again, and no pool keeps a connection that was
// stuck.

const READERS = 8
const HOLD_MS = 5000

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) {
    await step()
  }
  cleanup = []
})

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`)
    }
    await pause(20)
  }
}

const idle = (pool: pg.Pool) => pool.totalCount === pool.idleCount && pool.waitingCount === 0

describe('a replica cut off by a network partition', () => {
  it('has its reads answered elsewhere, fails none, and serves again once it heals', async () => {
    const { primary, replicas } = clusterNodes()
    const [cut, other] = replicas
    if (cut === undefined || other === undefined) {
      throw new Error('the shared cluster needs two replicas')
    }
    const proxy = await HoldingProxy.start(cut.port)
    cleanup.push(() => proxy.close())
    const pools = [createPool(primary), createPool({ ...cut, port: proxy.port }), createPool(other)]
    const [primaryPool, cutPool, otherPool] = pools as [pg.Pool, pg.Pool, pg.Pool]
    const db = new Kysely<Database>({
      dialect: new ReplicatedDialect({
        primary: { name: primary.name, dialect: new PostgresDialect({ pool: primaryPool }) },
        replicas: [
          { name: cut.name, dialect: new PostgresDialect({ pool: cutPool }) },
          { name: other.name, dialect: new PostgresDialect({ pool: otherPool }) },
        ],
        // Off by default (it costs CPU on every replica read): turned on with its defaults.
        readDeadline: {},
      }),
    })
    cleanup.push(() => db.destroy())
    const downs: string[] = []
    replicationOf(db).on('node-down', ({ node }) => downs.push(node))

    let running = true
    let failures = 0
    let slowest = 0
    let healedAt: number | undefined
    let cutServedAfterHeal: number | undefined
    const reader = async () => {
      while (running) {
        const started = performance.now()
        try {
          const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
          const ended = performance.now()
          slowest = Math.max(slowest, ended - started)
          if (port === cut.port && healedAt !== undefined) {
            cutServedAfterHeal ??= ended - healedAt
          }
        } catch {
          failures++
        }
      }
    }
    const readers = Array.from({ length: READERS }, reader)
    await pause(500)
    proxy.hold()
    await pause(HOLD_MS)
    healedAt = performance.now()
    proxy.release()
    await until(() => cutServedAfterHeal !== undefined, `${cut.name} to serve reads again`)
    running = false
    await Promise.all(readers)

    console.info(
      `partition of ${HOLD_MS} ms, ${READERS} readers: ${failures} failed reads, slowest read ` +
        `${Math.round(slowest)} ms, ${cut.name} served again ${Math.round(cutServedAfterHeal ?? -1)} ms ` +
        `after healing, node-down: ${downs.join(', ') || 'none'}`,
    )
    expect(failures).toBe(0)
    // No read waited out the partition: each moved on long before it ended.
    expect(slowest).toBeLessThan(HOLD_MS / 2)
    expect(downs).toEqual([cut.name])
    // Every stuck connection was destroyed, none is held or given back for reuse.
    await until(() => pools.every(idle), 'the pools to be idle')
    for (const pool of pools) {
      expect(pool.totalCount).toBe(pool.idleCount)
    }
  })
})

import { Kysely, PostgresDialect, sql } from 'kysely'
import { ReplicatedDialect, type ReplicatedDialectConfig } from 'kysely-replicas'
import { afterEach, describe, expect, it } from 'vitest'
import { HoldingProxy } from './support/holding-proxy.js'
import {
  clusterNodes,
  createPool,
  type Database,
  serverPort,
} from './support/replicated-database.js'

// Two zones: the local one reaches its replica directly, the other through a proxy that delays
// every byte by 20 ms each way, as a replica in another zone. Reads stay in the local zone and
// spill to the other only while the local replica is down or its pool is full.

const FAR_DELAY_MS = 20

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) {
    await step()
  }
  cleanup = []
})

/**
 * A Kysely whose replica `near` (zone near, pool of 2) is reached through a proxy without delay
 * that a test may close, and `far` (zone far, pool of 4) through one with FAR_DELAY_MS.
 */
async function twoZones(options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'>) {
  const { primary, replicas } = clusterNodes()
  const [near, far] = replicas
  if (near === undefined || far === undefined) {
    throw new Error('the shared cluster needs two replicas')
  }
  const nearProxy = await HoldingProxy.start(near.port)
  const farProxy = await HoldingProxy.start(far.port, { delayMs: FAR_DELAY_MS })
  cleanup.push(
    () => nearProxy.close(),
    () => farProxy.close(),
  )
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      ...options,
      primary: { name: primary.name, dialect: new PostgresDialect({ pool: createPool(primary) }) },
      replicas: [
        {
          name: 'near',
          zone: 'near',
          poolSize: 2,
          dialect: new PostgresDialect({
            pool: createPool({ ...near, port: nearProxy.port, max: 2 }),
          }),
        },
        {
          name: 'far',
          zone: 'far',
          poolSize: 4,
          dialect: new PostgresDialect({ pool: createPool({ ...far, port: farProxy.port }) }),
        },
      ],
    }),
  })
  cleanup.push(() => db.destroy())
  const zoneOf = (port: number) =>
    port === near.port ? 'near' : port === far.port ? 'far' : 'primary'
  return { db, nearProxy, zoneOf }
}

/** `count` reads one after the other: the zone of each, and their mean latency. */
async function readInTurn(db: Kysely<Database>, zoneOf: (port: number) => string, count: number) {
  const zones: string[] = []
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
    zones.push(zoneOf(port))
  }
  return { zones, meanMs: (performance.now() - started) / count }
}

const tally = (zones: readonly string[]) =>
  Object.fromEntries(
    [...new Set(zones)].sort().map((zone) => [zone, zones.filter((each) => each === zone).length]),
  )

describe('replicas in two zones', () => {
  it('serve every read from the local zone, where round-robin sends half to the far one', async () => {
    const local = await twoZones({ localZone: 'near' })
    const anyZone = await twoZones({})
    // Warm both pools, then measure side by side.
    await readInTurn(local.db, local.zoneOf, 4)
    await readInTurn(anyZone.db, anyZone.zoneOf, 4)
    const withLocality = await readInTurn(local.db, local.zoneOf, 20)
    const without = await readInTurn(anyZone.db, anyZone.zoneOf, 20)
    console.info(
      `locality: mean read ${withLocality.meanMs.toFixed(1)} ms with localZone (${JSON.stringify(tally(withLocality.zones))}), ` +
        `${without.meanMs.toFixed(1)} ms round-robin over both zones (${JSON.stringify(tally(without.zones))})`,
    )
    expect(tally(withLocality.zones)).toEqual({ near: 20 })
    expect(tally(without.zones)).toEqual({ far: 10, near: 10 })
  })

  it('spill to the other zone when the local replica goes down, losing no read', async () => {
    const { db, nearProxy, zoneOf } = await twoZones({ localZone: 'near' })
    expect(tally((await readInTurn(db, zoneOf, 4)).zones)).toEqual({ near: 4 })
    await nearProxy.close()
    expect(tally((await readInTurn(db, zoneOf, 6)).zones)).toEqual({ far: 6 })
  })

  it('spill to the other zone while the local pool is full of slow reads', async () => {
    const { db, zoneOf } = await twoZones({ localZone: 'near' })
    const slow = () =>
      db
        .selectNoFrom([serverPort, sql`pg_sleep(0.5)`.as('slept')])
        .executeTakeFirstOrThrow()
        .then(({ port }) => zoneOf(port))
    const zones = await Promise.all(Array.from({ length: 6 }, slow))
    // 2 fill the local pool; the other 4 go to the far zone instead of waiting for it.
    expect(tally(zones)).toEqual({ far: 4, near: 2 })
    // Once they answered, reads are local again.
    expect(tally((await readInTurn(db, zoneOf, 4)).zones)).toEqual({ near: 4 })
  })
})

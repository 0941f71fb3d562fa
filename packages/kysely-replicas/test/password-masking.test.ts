import { replicationOf } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase } from './support/database.js'

const SECRET = 's3cret-Pa55'

// A driver that names its connection string in its error, password and all.
const leaky = () =>
  Object.assign(
    new Error(`could not reach postgres://app:${SECRET}@db.internal:5432/app (ECONNRESET)`),
    { code: 'ECONNRESET' },
  )

describe('passwords in driver errors', () => {
  it('are masked in events and stats, and the rest of the message is kept', async () => {
    const { db, journal } = createRecordedDatabase(2, {
      health: { probeIntervalMs: 60_000, maxProbeIntervalMs: 60_000 },
    })
    const events: unknown[] = []
    const replication = replicationOf(db)
    for (const name of ['node-down', 'fallback'] as const) {
      replication.on(name, (event) => events.push(event))
    }
    journal.queryErrors.set('replica-0', leaky())
    await db.selectFrom('person').selectAll().execute()
    const stats = replication.stats()
    await db.destroy()

    const masked = 'could not reach postgres://app:***@db.internal:5432/app (ECONNRESET)'
    expect(events).toEqual([
      { node: 'replica-0', error: masked },
      { from: 'replica-0', to: 'replica-1', error: masked },
    ])
    expect(stats.find((node) => node.name === 'replica-0')?.lastError).toBe(masked)
    expect(JSON.stringify([events, stats])).not.toContain(SECRET)
  })
})

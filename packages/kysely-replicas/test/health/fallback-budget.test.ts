import {
  NoReplicaAvailableError,
  type ReplicatedDialectConfig,
  replicationOf,
} from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRecordedDatabase } from '../support/database.js'

// Reads that no replica can take go to the primary, whose pool the writes need too: at most
// `fallback.maxConcurrent` of them run there at once; the next ones wait up to `waitMs` for one
// to end, then fail with NoReplicaAvailableError. Writes are never counted nor refused.

const SLOW = 'from "person"'

function setup(options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {}) {
  const recorded = createRecordedDatabase(2, {
    // Probes must not bring the replicas back during a test.
    health: { probeIntervalMs: 60_000, maxProbeIntervalMs: 60_000 },
    ...options,
  })
  const { db, journal } = recorded
  journal.down.add('replica-0').add('replica-1')
  let answer = () => {}
  journal.slowSql.set(
    SLOW,
    new Promise<void>((resolve) => {
      answer = resolve
    }),
  )
  const read = () => db.selectFrom('person').selectAll().execute()
  const write = () => db.insertInto('audit').values({ id: 1, note: 'n' }).execute()
  const onPrimary = () => journal.nodesFor(SLOW).filter((node) => node === 'primary').length
  return { ...recorded, read, write, onPrimary, answer: () => answer() }
}

// Settled as soon as it is made, so that a refusal is never an unhandled rejection.
const outcome = (query: Promise<unknown>): Promise<string> =>
  query.then(
    () => 'answered',
    (error: Error) => error.name,
  )

const outcomes = (queries: Array<Promise<unknown>>) => Promise.all(queries.map(outcome))

describe('the fallback budget', () => {
  let destroy: (() => Promise<void>) | undefined
  afterEach(async () => {
    await destroy?.()
    destroy = undefined
  })

  it('lets writes through while fallback reads beyond the budget wait, then are refused', async () => {
    const { db, journal, read, write, onPrimary, answer } = setup({
      fallback: { maxConcurrent: 2, waitMs: 20 },
    })
    destroy = () => db.destroy()
    const order: string[] = []
    let refusal: unknown
    const reads = Array.from({ length: 4 }, () =>
      read().then(
        () => order.push('read answered'),
        (error: unknown) => {
          order.push('read refused')
          refusal = error
        },
      ),
    )
    await vi.waitFor(() => expect(onPrimary()).toBe(2))
    await write()
    order.push('write answered')
    await vi.waitFor(() => expect(order.filter((step) => step === 'read refused')).toHaveLength(2))
    expect(replicationOf(db).fallbackReads()).toEqual({ running: 2, maxConcurrent: 2, refused: 2 })
    answer()
    await Promise.all(reads)
    expect(order.slice(-2)).toEqual(['read answered', 'read answered'])
    expect(order.slice(0, 3).sort()).toEqual(['read refused', 'read refused', 'write answered'])
    expect(refusal).toBeInstanceOf(NoReplicaAvailableError)
    expect(refusal).toMatchObject({ fallbackLimit: 2 })
    expect((refusal as Error).message).toBe(
      'No replica could serve this read (down: "replica-0", "replica-1"), and the primary already runs 2 fallback reads, ' +
        'as many as fallback.maxConcurrent allows, to keep the rest of its pool for writes. ' +
        'Retry later, read from the primary with onPrimary(), or raise fallback.maxConcurrent.',
    )
    // The slots were given back: the next reads run at once.
    journal.slowSql.clear()
    expect(await outcomes([read(), read()])).toEqual(['answered', 'answered'])
    expect(replicationOf(db).fallbackReads()).toMatchObject({ running: 0, refused: 2 })
    expect(journal.allReleased).toBe(true)
  })

  it('hands a slot that frees to the read that waited for it', async () => {
    const { db, journal, read, onPrimary, answer } = setup({
      fallback: { maxConcurrent: 1, waitMs: 60_000 },
    })
    destroy = () => db.destroy()
    const first = outcome(read())
    await vi.waitFor(() => expect(onPrimary()).toBe(1))
    const second = outcome(read())
    // The second read waits for the slot, on no connection: the primary has seen one read.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(onPrimary()).toBe(1)
    expect(replicationOf(db).fallbackReads().running).toBe(1)
    answer()
    expect(await Promise.all([first, second])).toEqual(['answered', 'answered'])
    expect(onPrimary()).toBe(2)
    expect(journal.allReleased).toBe(true)
  })

  it("refuses every fallback read at once with 'never', but not writes nor onPrimary() reads", async () => {
    const { db, journal, read, write } = setup({ fallback: { maxConcurrent: 'never' } })
    destroy = () => db.destroy()
    journal.slowSql.clear()
    expect(await outcomes([read()])).toEqual(['NoReplicaAvailableError'])
    await write()
    await db.onPrimary().selectFrom('person').selectAll().execute()
    expect(journal.nodesFor(SLOW)).toEqual(['primary'])
    expect(journal.nodesFor('insert')).toEqual(['primary'])
    expect(replicationOf(db).fallbackReads()).toEqual({ running: 0, maxConcurrent: 0, refused: 1 })
  })

  it('counts a read that its replicas failed and that goes on to the primary', async () => {
    const { db, journal, read } = setup({ fallback: { maxConcurrent: 'never' } })
    destroy = () => db.destroy()
    journal.down.clear()
    journal.slowSql.clear()
    const terminated = Object.assign(new Error('terminating connection'), { code: '57P01' })
    journal.queryErrors.set('replica-0', terminated).set('replica-1', terminated)
    const moves: string[] = []
    replicationOf(db).on('fallback', ({ from, to }) => moves.push(`${from} -> ${to}`))
    expect(await outcomes([read()])).toEqual(['NoReplicaAvailableError'])
    expect(moves).toEqual(['replica-0 -> replica-1', 'replica-1 -> primary'])
    expect(journal.nodesFor(SLOW)).toEqual(['replica-0', 'replica-1'])
  })

  it('allows 5 fallback reads by default when the pool size is unknown', async () => {
    const { db, read, onPrimary, answer } = setup({ fallback: { waitMs: 10 } })
    destroy = () => db.destroy()
    const reads = Array.from({ length: 7 }, () => outcome(read()))
    await vi.waitFor(() => expect(replicationOf(db).fallbackReads().refused).toBe(2))
    expect(onPrimary()).toBe(5)
    answer()
    expect((await Promise.all(reads)).sort()).toEqual([
      ...Array(2).fill('NoReplicaAvailableError'),
      ...Array(5).fill('answered'),
    ])
  })

  it("counts nothing with 'unlimited'", async () => {
    const { db, read, onPrimary, answer } = setup({ fallback: { maxConcurrent: 'unlimited' } })
    destroy = () => db.destroy()
    const reads = Array.from({ length: 7 }, () => outcome(read()))
    await vi.waitFor(() => expect(onPrimary()).toBe(7))
    expect(replicationOf(db).fallbackReads()).toEqual({
      running: 0,
      maxConcurrent: 'unlimited',
      refused: 0,
    })
    answer()
    expect(await Promise.all(reads)).toEqual(Array(7).fill('answered'))
  })

  it('counts no read with no replica configured: every read belongs on the primary', async () => {
    const { db, journal } = createRecordedDatabase(0, { fallback: { maxConcurrent: 'never' } })
    destroy = () => db.destroy()
    await db.selectFrom('person').selectAll().execute()
    expect(journal.nodesFor(SLOW)).toEqual(['primary'])
    expect(replicationOf(db).fallbackReads()).toMatchObject({ running: 0, refused: 0 })
  })

  it('holds a slot for a stream on the primary until the stream ends', async () => {
    const { db, journal, read } = setup({ fallback: { maxConcurrent: 1, waitMs: 10 } })
    destroy = () => db.destroy()
    journal.slowSql.clear()
    journal.streamedRows.push({ id: 1 }, { id: 2 })
    const stream = db.selectFrom('person').selectAll().stream()
    const first = await stream.next()
    expect(first.value).toEqual({ id: 1 })
    expect(await outcomes([read()])).toEqual(['NoReplicaAvailableError'])
    for await (const _ of stream) {
      // drains the stream, which gives its slot back
    }
    expect(await outcomes([read()])).toEqual(['answered'])
    expect(journal.allReleased).toBe(true)
  })
})

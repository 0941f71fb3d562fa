import { type HedgeEvent, type ReplicatedDialectConfig, replicationOf } from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRecordedDatabase } from '../support/database.js'

// A replica read that has not answered after the recent p95 (at least minDelayMs) also goes to
// another replica, within a budget of extra reads; the first answer wins.

const SELECT = 'from "person"'
// Enough reads for the hedge delay to be known (it is recomputed every 32 samples).
const WARM_UP = 32

function setup(replicas = 2, options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {}) {
  const recorded = createRecordedDatabase(replicas, {
    // Every read starts on replica-0, the hedge goes to another.
    balancing: (candidates) => candidates[0] ?? 0,
    hedge: { minDelayMs: 5 },
    ...options,
  })
  const { db, journal } = recorded
  const hedges: HedgeEvent[] = []
  replicationOf(db).on('hedge', (event) => hedges.push(event))
  const read = () => db.selectFrom('person').selectAll().execute()
  /** Makes replica-0 answer only once `answer()` is called. */
  const slowDown = () => {
    let answer = () => {}
    journal.slow.set(
      'replica-0',
      new Promise<void>((resolve) => {
        answer = resolve
      }),
    )
    return () => {
      journal.slow.delete('replica-0')
      answer()
    }
  }
  const warmUp = async () => {
    for (let i = 0; i < WARM_UP; i++) await read()
    journal.entries.length = 0
  }
  const stat = (name: string) =>
    replicationOf(db)
      .stats()
      .find((node) => node.name === name)
  return { ...recorded, hedges, read, slowDown, warmUp, stat }
}

describe('hedged reads', () => {
  let destroy: (() => Promise<void>) | undefined
  afterEach(async () => {
    await destroy?.()
    destroy = undefined
  })

  it('send a read that a replica holds to another one, and take its answer', async () => {
    const { db, journal, hedges, read, slowDown, warmUp, stat } = setup()
    destroy = () => db.destroy()
    await warmUp()
    const answer = slowDown()
    await read()
    expect(journal.nodesFor(SELECT)).toEqual(['replica-0', 'replica-1'])
    expect(hedges).toEqual([
      { from: 'replica-0', to: 'replica-1', won: true, afterMs: expect.any(Number) },
    ])
    // Not compared with the 5 ms delay: Node arms a timer from the loop's cached clock, so it
    // can fire early by as much as the loop's turn had already taken (hedging.test.ts checks the delay).
    expect(hedges[0]?.afterMs).toBeGreaterThan(0)
    expect(stat('replica-1')).toMatchObject({ hedgesSent: 1, hedgesWon: 1 })
    expect(stat('replica-0')).toMatchObject({ hedgesSent: 0, hedgesWon: 0 })
    // The copy left behind cannot be destroyed (not a PostgresDriver): it is given back once
    // its query ends.
    answer()
    await vi.waitFor(() => expect(journal.allReleased).toBe(true))
  })

  it('say when the first replica answered before its hedge copy', async () => {
    const { db, journal, hedges, read, warmUp, stat } = setup()
    destroy = () => db.destroy()
    await warmUp()
    // Both slow: replica-0 answers first, once told.
    let answer0 = () => {}
    let answer1 = () => {}
    journal.slow.set('replica-0', new Promise<void>((resolve) => (answer0 = resolve)))
    journal.slow.set('replica-1', new Promise<void>((resolve) => (answer1 = resolve)))
    const reading = read()
    await vi.waitFor(() => expect(journal.nodesFor(SELECT)).toEqual(['replica-0', 'replica-1']))
    answer0()
    await reading
    answer1()
    expect(hedges).toEqual([
      { from: 'replica-0', to: 'replica-1', won: false, afterMs: expect.any(Number) },
    ])
    expect(stat('replica-1')).toMatchObject({ hedgesSent: 1, hedgesWon: 0 })
    await vi.waitFor(() => expect(journal.allReleased).toBe(true))
  })

  it('keep within the budget: 5% of the reads by default', async () => {
    const { db, journal, hedges, read, slowDown, warmUp } = setup()
    destroy = () => db.destroy()
    // 32 reads earned 1.6 hedges: the first slow read is hedged, the second is not.
    await warmUp()
    const answer = slowDown()
    await read()
    const second = read()
    await vi.waitFor(() =>
      expect(journal.nodesFor(SELECT)).toEqual(['replica-0', 'replica-1', 'replica-0']),
    )
    // Well past the hedge delay, no copy went out.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(journal.nodesFor(SELECT)).toEqual(['replica-0', 'replica-1', 'replica-0'])
    answer()
    await second
    expect(hedges).toHaveLength(1)
  })

  it('never hedge before the delay is known, to the primary, or a read pinned to a replica', async () => {
    const one = setup(1)
    destroy = () => one.db.destroy()
    await one.warmUp()
    const answer = one.slowDown()
    const reading = one.read()
    await new Promise((resolve) => setTimeout(resolve, 50))
    answer()
    await reading
    expect(one.journal.nodesFor(SELECT)).toEqual(['replica-0'])
    await one.db.destroy()

    const two = setup(2)
    destroy = () => two.db.destroy()
    // No delay yet: 31 reads are not enough to know the p95.
    for (let i = 0; i < WARM_UP - 1; i++) await two.read()
    two.journal.entries.length = 0
    const answerCold = two.slowDown()
    const cold = two.read()
    await new Promise((resolve) => setTimeout(resolve, 50))
    answerCold()
    await cold
    expect(two.journal.nodesFor(SELECT)).toEqual(['replica-0'])
    await two.read()
    two.journal.entries.length = 0
    const answerPinned = two.slowDown()
    const pinned = two.db.onReplica(0).selectFrom('person').selectAll().execute()
    await new Promise((resolve) => setTimeout(resolve, 50))
    answerPinned()
    await pinned
    expect(two.journal.nodesFor(SELECT)).toEqual(['replica-0'])
    expect(two.hedges).toEqual([])
  })
})

describe('reads in a block', () => {
  it.each([
    ['connection()', 'connection'],
    ['transaction()', 'transaction'],
  ] as const)('are never hedged: %s on a replica', async (_name, kind) => {
    const { db, journal, hedges, slowDown, warmUp } = setup()
    try {
      await warmUp()
      const answer = slowDown()
      const block =
        kind === 'connection'
          ? db
              .onReplica()
              .connection()
              .execute((conn) => conn.selectFrom('person').selectAll().execute())
          : db
              .onReplica()
              .transaction()
              .execute((trx) => trx.selectFrom('person').selectAll().execute())
      await new Promise((resolve) => setTimeout(resolve, 50))
      answer()
      await block
      expect(journal.nodesFor(SELECT)).toEqual(['replica-0'])
      expect(hedges).toEqual([])
    } finally {
      await db.destroy()
    }
  })
})

describe('a balancer that throws when asked for the hedge', () => {
  it('leaves the read to its first replica, and nothing is thrown outside it', async () => {
    const { db, hedges, read, slowDown, warmUp } = setup(2, {
      balancing: (candidates) => {
        const first = candidates.find((node) => node.name === 'replica-0')
        if (first === undefined) throw new Error('no replica-0 among the candidates')
        return first
      },
    })
    try {
      await warmUp()
      const answer = slowDown()
      const reading = read()
      await new Promise((resolve) => setTimeout(resolve, 50))
      answer()
      await reading
      expect(hedges).toEqual([])
    } finally {
      await db.destroy()
    }
  })
})

describe('hedge options', () => {
  const build = (hedge: unknown) => () =>
    createRecordedDatabase(1, { hedge: hedge as ReplicatedDialectConfig['hedge'] })

  it.each([{}, { budget: 1 }, { minDelayMs: 0 }, { percentile: 0.5 }, false])(
    'accept %j',
    (hedge) => {
      expect(build(hedge)).not.toThrow()
    },
  )

  it.each<[unknown, string]>([
    [{ budget: 0 }, 'hedge.budget must be a share of the reads in (0, 1], such as 0.05; got 0.'],
    [
      { budget: 1.5 },
      'hedge.budget must be a share of the reads in (0, 1], such as 0.05; got 1.5.',
    ],
    [{ minDelayMs: -1 }, 'hedge.minDelayMs must be a number of milliseconds, 0 or more; got -1.'],
    [{ percentile: 1 }, 'hedge.percentile must be a quantile in (0, 1), such as 0.95; got 1.'],
    [{ delay: 5 }, "hedge has no option 'delay'"],
    ['on', 'hedge must be false or an object such as { budget: 0.05 }'],
  ])('refuse %j', (hedge, message) => {
    expect(build(hedge)).toThrow(message)
  })
})

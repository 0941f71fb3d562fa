import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import { describe, expect, it, vi } from 'vitest'
import { NodeUnresponsiveError } from '../../src/errors.js'
import type { NodeHealth } from '../../src/health/node-health.js'
import { DatabaseNode } from '../../src/nodes/database-node.js'
import { NodeStats } from '../../src/nodes/node-stats.js'
import type { DeadlineWatch, Watched } from '../../src/routing/deadline-watch.js'
import { GuardedRead, type ReadGuard, type ReadHedge } from '../../src/routing/guarded-read.js'
import { Hedging } from '../../src/routing/hedging.js'

// GuardedRead on its own, driven by hand: each connection's query answers, fails or hangs when
// the test says so, and the deadline passes when the test calls expire() (what the watch's timer
// does). No clock is involved.

interface Pending {
  readonly resolve: (result: QueryResult<unknown>) => void
  readonly reject: (error: unknown) => void
}

/** A connection whose queries wait for the test to answer them. */
class HeldConnection implements DatabaseConnection {
  readonly queries: string[] = []
  readonly pending: Pending[] = []

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.queries.push(query.sql)
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: resolve as Pending['resolve'], reject })
    })
  }

  answer(rows: unknown[]): void {
    this.pending.shift()?.resolve({ rows })
  }

  fail(error: unknown): void {
    this.pending.shift()?.reject(error)
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('a guarded read never streams')
  }
}

/** A driver of {@link HeldConnection}s; acquisitions can be held back with `gate`. */
class HeldDriver implements Driver {
  readonly acquired: HeldConnection[] = []
  readonly released: HeldConnection[] = []
  readonly destroyed: HeldConnection[] = []
  gate: Promise<void> | undefined
  refusal: Error | undefined

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.gate
    if (this.refusal !== undefined) throw this.refusal
    const connection = new HeldConnection()
    this.acquired.push(connection)
    return connection
  }
  async beginTransaction(_c: DatabaseConnection, _s: TransactionSettings): Promise<void> {}
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.released.push(connection as HeldConnection)
  }
  async destroy(): Promise<void> {}

  /** What a destroyed connection does to its running query: fails it at once. */
  async destroyConnection(connection: DatabaseConnection): Promise<void> {
    const held = connection as HeldConnection
    this.destroyed.push(held)
    held.fail(new Error('Connection terminated'))
  }
}

function replica(name: string, destroyable = true) {
  const driver = new HeldDriver()
  const suspected: unknown[] = []
  const node = new DatabaseNode({
    name,
    role: 'replica',
    index: 0,
    weight: 1,
    driver,
    stats: new NodeStats(),
    // Only suspect() is asked of the health of a guarded read's node.
    health: { suspect: (error: unknown) => suspected.push(error) } as unknown as NodeHealth,
    destroyConnection: destroyable ? (c) => driver.destroyConnection(c) : undefined,
  })
  return { node, driver, suspected }
}

/** The deadlines asked for, by read; what the guard was told. */
function setup(
  options: {
    alternative?: boolean
    destroyable?: boolean
    hedge?: ReadHedge
    deadline?: boolean
  } = {},
) {
  const first = replica('replica-0', options.destroyable)
  const second = replica('replica-1', options.destroyable)
  const deadlines = new Map<Watched, number[]>()
  const watch = {
    add: (watched: Watched, ms: number) =>
      deadlines.set(watched, [...(deadlines.get(watched) ?? []), ms]),
    delete: (watched: Watched) => deadlines.delete(watched),
  } as unknown as DeadlineWatch
  const moved: Array<[string, string, unknown]> = []
  const failures: string[] = []
  const guard: ReadGuard = {
    // Left out, with the watch kept, on a node whose connections cannot be destroyed.
    options: options.deadline === false ? undefined : { minMs: 100, maxMs: 400, latencyFactor: 4 },
    watch,
    alternativeTo: (node) =>
      node === first.node && options.alternative !== false ? second.node : undefined,
    noteFailure: (node, error) => {
      failures.push(node.name)
      return (error as Error).message === 'Connection terminated'
    },
    noteMoved: (from, to, error) => moved.push([from.name, to.name, error]),
    hedge: options.hedge,
  }
  const read = new GuardedRead<unknown>(guard, first.node, CompiledQuery.raw('select 1'))
  return { first, second, deadlines, moved, failures, read }
}

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The state of a promise, without waiting for it. */
async function state(promise: Promise<unknown>): Promise<string> {
  const marker = {}
  const result = await Promise.race([
    promise.then(
      () => 'resolved',
      () => 'rejected',
    ),
    settle().then(() => marker),
  ])
  return result === marker ? 'pending' : (result as string)
}

describe('a read on a replica under a deadline', () => {
  it('answers from its replica, gives the connection back and stops being watched', async () => {
    const { first, deadlines, read } = setup()
    const result = read.run(undefined)
    await settle()
    expect(deadlines.get(read)).toEqual([100])
    first.driver.acquired[0]?.answer([{ id: 1 }])
    await expect(result).resolves.toEqual({ rows: [{ id: 1 }] })
    await settle()
    expect(first.driver.released).toEqual(first.driver.acquired)
    expect(deadlines.has(read)).toBe(false)
    expect(first.node.stats).toMatchObject({ inFlight: 0, served: 1, errors: 0 })
  })

  it('runs on the connection it was given', async () => {
    const { first, read } = setup()
    const given = new HeldConnection()
    const result = read.run(given)
    await settle()
    expect(given.queries).toEqual(['select 1'])
    given.answer([])
    await result
    await settle()
    expect(first.driver.acquired).toEqual([])
    expect(first.driver.released).toEqual([given])
  })

  it('sets its deadline from the replica latency, between the bounds', async () => {
    const { first, deadlines, read } = setup()
    first.node.stats.latencyMs = 50
    void read.run(undefined)
    expect(deadlines.get(read)).toEqual([200])
    first.node.stats.latencyMs = 500
    read.expire()
    expect(first.suspected).toEqual([expect.any(NodeUnresponsiveError)])
    expect((first.suspected[0] as Error).message).toContain('answered nothing for 400 ms')
  })

  it('waits another deadline when its replica answered other queries meanwhile', async () => {
    const { first, second, deadlines, moved, read } = setup()
    void read.run(undefined)
    await settle()
    first.node.stats.finish(first.node.stats.start())
    read.expire()
    expect(deadlines.get(read)).toEqual([100, 100])
    expect(first.suspected).toEqual([])
    expect(moved).toEqual([])
    // Nothing answered since: stuck.
    read.expire()
    expect(first.suspected).toHaveLength(1)
    await settle()
    expect(second.driver.acquired).toHaveLength(1)
  })

  it('suspects a replica that answered nothing in time and sends the read elsewhere too; the first answer wins, the stuck connection is destroyed', async () => {
    const { first, second, moved, read } = setup()
    const result = read.run(undefined)
    await settle()
    read.expire()
    expect(first.suspected).toEqual([expect.any(NodeUnresponsiveError)])
    expect(moved).toEqual([['replica-0', 'replica-1', first.suspected[0]]])
    await settle()
    second.driver.acquired[0]?.answer([{ from: 'replica-1' }])
    await expect(result).resolves.toEqual({ rows: [{ from: 'replica-1' }] })
    await settle()
    const stuck = first.driver.acquired[0]
    expect(first.driver.destroyed).toEqual([stuck])
    expect(first.driver.released).toEqual([])
    expect(second.driver.released).toEqual(second.driver.acquired)
    // Given up, not failed: no error counted against the stuck replica.
    expect(first.node.stats).toMatchObject({ inFlight: 0, served: 0, errors: 0 })
    expect(second.node.stats).toMatchObject({ inFlight: 0, served: 1, errors: 0 })
  })

  it('takes the stuck replica answer when it comes first, destroying the other run', async () => {
    const { first, second, read } = setup()
    const result = read.run(undefined)
    await settle()
    read.expire()
    await settle()
    first.driver.acquired[0]?.answer([{ from: 'replica-0' }])
    await expect(result).resolves.toEqual({ rows: [{ from: 'replica-0' }] })
    await settle()
    expect(second.driver.destroyed).toEqual(second.driver.acquired)
    expect(first.driver.released).toEqual(first.driver.acquired)
  })

  it('gives back unused the connection of a run still acquiring it when the other answered', async () => {
    const { first, second, read } = setup()
    let open = () => {}
    second.driver.gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const result = read.run(undefined)
    await settle()
    read.expire()
    first.driver.acquired[0]?.answer([])
    await result
    open()
    await settle()
    const late = second.driver.acquired[0]
    expect(late?.queries).toEqual([])
    expect(second.driver.released).toEqual([late])
    expect(second.driver.destroyed).toEqual([])
    expect(second.node.stats).toMatchObject({ inFlight: 0, served: 0, errors: 0 })
  })

  it('waits for its replica when there is nowhere else to go', async () => {
    const { first, second, moved, read } = setup({ alternative: false })
    const result = read.run(undefined)
    await settle()
    read.expire()
    expect(first.suspected).toHaveLength(1)
    expect(moved).toEqual([])
    await settle()
    expect(second.driver.acquired).toEqual([])
    first.driver.acquired[0]?.answer([{ late: true }])
    await expect(result).resolves.toEqual({ rows: [{ late: true }] })
  })

  it('starts one more run at most, and none once answered', async () => {
    const { first, second, read } = setup()
    const result = read.run(undefined)
    await settle()
    read.expire()
    read.expire()
    await settle()
    expect(first.suspected).toHaveLength(1)
    expect(second.driver.acquired).toHaveLength(1)
    second.driver.acquired[0]?.answer([])
    await result

    const other = setup()
    const answered = other.read.run(undefined)
    await settle()
    other.first.driver.acquired[0]?.answer([])
    await answered
    other.read.expire()
    expect(other.first.suspected).toEqual([])
    await settle()
    expect(other.second.driver.acquired).toEqual([])
  })

  it('answers from one run when the other failed', async () => {
    const { first, second, failures, read } = setup()
    const result = read.run(undefined)
    await settle()
    read.expire()
    await settle()
    first.driver.acquired[0]?.fail(new Error('Connection terminated'))
    await settle()
    expect(await state(result)).toBe('pending')
    second.driver.acquired[0]?.answer([{ ok: true }])
    await expect(result).resolves.toEqual({ rows: [{ ok: true }] })
    expect(failures).toEqual(['replica-0'])
    // A node failure: counted as an error, not as an answer.
    expect(first.node.stats).toMatchObject({ inFlight: 0, served: 0, errors: 1 })
    // Its connection went back to the pool when it failed; it is never destroyed after that.
    await settle()
    expect(first.driver.released).toEqual(first.driver.acquired)
    expect(first.driver.destroyed).toEqual([])
  })

  it('rejects with the refusal of a replica that gives no connection, with nothing to give back', async () => {
    const { first, failures, read } = setup()
    const refusal = new Error('Connection terminated')
    first.driver.refusal = refusal
    const outcome = read.run(undefined).catch((error: unknown) => error)
    expect(await outcome).toBe(refusal)
    await settle()
    expect(failures).toEqual(['replica-0'])
    expect(first.driver.released).toEqual([])
    expect(first.node.stats).toMatchObject({ inFlight: 0, served: 0, errors: 1 })
  })

  it.each([
    ['the first run fails first', [0, 1]],
    ['the second run fails first', [1, 0]],
  ])('rejects with the first run error when every run failed: %s', async (_order, order) => {
    const { first, second, read } = setup()
    const result = read.run(undefined)
    const outcome = result.then(
      () => 'answered',
      (error: unknown) => error,
    )
    await settle()
    read.expire()
    await settle()
    const errors = [new Error('relation "pet" does not exist'), new Error('second')]
    const connections = [first.driver.acquired[0], second.driver.acquired[0]]
    for (const index of order) {
      expect(await state(outcome)).toBe('pending')
      connections[index]?.fail(errors[index])
      await settle()
    }
    expect(await outcome).toBe(errors[0])
    // SQL errors: answers, counted as served with an error.
    expect(first.node.stats).toMatchObject({ inFlight: 0, served: 1, errors: 1 })
    expect(first.driver.released).toEqual(first.driver.acquired)
    expect(second.driver.released).toEqual(second.driver.acquired)
  })

  it('rejects with its error when the only run failed', async () => {
    const { first, read } = setup()
    const outcome = read.run(undefined).catch((error: unknown) => error)
    await settle()
    const error = new Error('Connection terminated')
    first.driver.acquired[0]?.fail(error)
    expect(await outcome).toBe(error)
  })

  it('keeps the losing run until its query ends on a replica whose connections cannot be destroyed', async () => {
    const { first, second, read } = setup({ destroyable: false })
    const result = read.run(undefined)
    await settle()
    read.expire()
    await settle()
    second.driver.acquired[0]?.answer([])
    await result
    await settle()
    expect(first.driver.released).toEqual([])
    first.driver.acquired[0]?.answer([])
    await settle()
    expect(first.driver.released).toEqual(first.driver.acquired)
  })
})

describe('a read whose second node cannot be picked', () => {
  it('waits for its replica when the balancer throws: nothing escapes the deadline timer', async () => {
    const first = replica('replica-0')
    const throwing = new GuardedRead<unknown>(
      {
        options: { minMs: 100, maxMs: 400, latencyFactor: 4 },
        watch: { add: () => {}, delete: () => {} } as unknown as DeadlineWatch,
        alternativeTo: () => {
          throw new Error('the balancer threw')
        },
        noteFailure: () => false,
        noteMoved: () => {},
      },
      first.node,
      CompiledQuery.raw('select 1'),
    )
    const result = throwing.run(undefined)
    await settle()
    expect(() => throwing.expire()).not.toThrow()
    expect(first.suspected).toHaveLength(1)
    first.driver.acquired[0]?.answer([{ late: true }])
    await expect(result).resolves.toEqual({ rows: [{ late: true }] })
  })
})

/**
 * A hedged read under a deadline too: the hedge delay is 0 ms (known after 32 reads of 0 ms) and
 * the budget allows one hedge per read, so the copy goes out on the next turn of the loop.
 */
function hedgedSetup(options: { deadline?: boolean } = {}) {
  const hedging = new SampledHedging({ budget: 1, minDelayMs: 0, percentile: 0.95 })
  for (let i = 0; i < 32; i++) hedging.sample(0)
  hedging.samples.length = 0
  const hedges: Array<[string, string, boolean]> = []
  const delays: number[] = []
  let to: DatabaseNode | undefined
  const base = setup({
    ...options,
    hedge: {
      hedging,
      to: () => to,
      note: (from, to, won, afterMs) => {
        hedges.push([from.name, to.name, won])
        delays.push(afterMs)
      },
    },
  })
  to = base.second.node
  return { ...base, hedges, delays, hedging }
}

/** Hedging that keeps the latencies it was given. */
class SampledHedging extends Hedging {
  readonly samples: number[] = []
  override sample(ms: number): void {
    this.samples.push(ms)
    super.sample(ms)
  }
}

/** Waits for the hedge timer (0 ms, then the next turn of the loop). */
const hedgeDelay = () =>
  new Promise<void>((resolve) => setTimeout(() => setImmediate(() => setImmediate(resolve)), 1))

describe('a hedged read', () => {
  it('leaves its slow first run to end and gives its connection back when the copy wins', async () => {
    const { first, second, hedges, read } = hedgedSetup()
    const result = read.run(undefined)
    await hedgeDelay()
    expect(second.driver.acquired).toHaveLength(1)
    second.driver.acquired[0]?.answer([{ from: 'replica-1' }])
    await expect(result).resolves.toEqual({ rows: [{ from: 'replica-1' }] })
    expect(hedges).toEqual([['replica-0', 'replica-1', true]])
    expect(second.node.stats).toMatchObject({ hedgesSent: 1, hedgesWon: 1 })
    await settle()
    // Slow, not stuck: not destroyed, given back once its query ends.
    expect(first.driver.destroyed).toEqual([])
    expect(first.driver.released).toEqual([])
    first.driver.acquired[0]?.answer([])
    await settle()
    expect(first.driver.released).toEqual(first.driver.acquired)
  })

  it('destroys its first run when that one also missed the deadline, and starts no third run', async () => {
    const { first, second, moved, read } = hedgedSetup()
    const result = read.run(undefined)
    await hedgeDelay()
    read.expire()
    // Suspected, but the hedge copy is already the read's other run.
    expect(first.suspected).toHaveLength(1)
    expect(moved).toEqual([])
    await settle()
    expect(first.driver.acquired).toHaveLength(1)
    expect(second.driver.acquired).toHaveLength(1)
    second.driver.acquired[0]?.answer([])
    await result
    await settle()
    expect(first.driver.destroyed).toEqual(first.driver.acquired)
  })

  it('is under its deadline too, and sends no copy once answered', async () => {
    const { first, second, deadlines, hedges, read } = hedgedSetup()
    const result = read.run(undefined)
    expect(deadlines.get(read)).toEqual([100])
    await settle()
    first.driver.acquired[0]?.answer([])
    await result
    expect(deadlines.has(read)).toBe(false)
    await hedgeDelay()
    expect(second.driver.acquired).toEqual([])
    expect(hedges).toEqual([])
  })

  it('leaves its hedge copy to finish and gives it back when the first run wins', async () => {
    const { first, second, hedges, delays, read } = hedgedSetup()
    const before = performance.now()
    const result = read.run(undefined)
    await hedgeDelay()
    expect(second.driver.acquired).toHaveLength(1)
    first.driver.acquired[0]?.answer([{ from: 'replica-0' }])
    await expect(result).resolves.toEqual({ rows: [{ from: 'replica-0' }] })
    const elapsed = performance.now() - before
    expect(hedges).toEqual([['replica-0', 'replica-1', false]])
    // How long the read waited before the copy went: part of the read's own time.
    expect(delays[0]).toBeGreaterThanOrEqual(0)
    expect(delays[0]).toBeLessThanOrEqual(elapsed)
    await settle()
    expect(second.driver.destroyed).toEqual([])
    second.driver.acquired[0]?.answer([])
    await settle()
    expect(second.driver.released).toEqual(second.driver.acquired)
  })

  it('sends no copy when its answer came in the loop turn the hedge delay passed', async () => {
    const { first, second, hedges, read } = hedgedSetup()
    // The hedge timer is fired by hand, so that the answer surely comes in the same turn.
    const timers: Array<() => void> = []
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void) => {
      timers.push(callback)
      return undefined
    }) as unknown as typeof setTimeout)
    const result = read.run(undefined)
    spy.mockRestore()
    await settle()
    expect(timers).toHaveLength(1)
    timers[0]?.()
    // The copy is due after the turn's I/O, which brings the answer.
    first.driver.acquired[0]?.answer([])
    await result
    await settle()
    expect(second.driver.acquired).toEqual([])
    expect(hedges).toEqual([])
  })

  it('reports no hedge when the read went elsewhere because of its deadline', async () => {
    const { first, second, moved, hedges, read } = hedgedSetup()
    const result = read.run(undefined)
    read.expire()
    expect(moved.map(([from, to]) => [from, to])).toEqual([['replica-0', 'replica-1']])
    await hedgeDelay()
    // The deadline's run is the read's other run: no hedge copy on top of it.
    expect(second.driver.acquired).toHaveLength(1)
    second.driver.acquired[0]?.answer([])
    await result
    expect(hedges).toEqual([])
    expect(second.node.stats).toMatchObject({ hedgesSent: 0, hedgesWon: 0 })
    await settle()
    expect(first.driver.destroyed).toEqual(first.driver.acquired)
  })

  it('feeds the hedge delay with the latency of its first run only, and of no failed node', async () => {
    const won = hedgedSetup()
    const copyWins = won.read.run(undefined)
    await hedgeDelay()
    won.second.driver.acquired[0]?.answer([])
    await copyWins
    expect(won.hedging.samples).toHaveLength(0)
    won.first.driver.acquired[0]?.answer([])
    await settle()
    expect(won.hedging.samples).toHaveLength(1)

    const failed = hedgedSetup()
    const nodeFailure = failed.read.run(undefined)
    await hedgeDelay()
    failed.first.driver.acquired[0]?.fail(new Error('Connection terminated'))
    await settle()
    expect(failed.hedging.samples).toHaveLength(0)
    failed.second.driver.acquired[0]?.answer([])
    await nodeFailure
    expect(failed.hedging.samples).toHaveLength(0)

    const sqlError = hedgedSetup()
    const queryFailure = sqlError.read.run(undefined)
    await settle()
    sqlError.first.driver.acquired[0]?.fail(new Error('division by zero'))
    await expect(queryFailure).rejects.toThrow('division by zero')
    // An SQL error is an answer.
    expect(sqlError.hedging.samples).toHaveLength(1)
  })
})

describe('a hedged read on a node whose connections cannot be destroyed', () => {
  it('has no deadline: it is not watched, and expire() leaves it alone', async () => {
    const { first, second, deadlines, moved, read } = hedgedSetup({ deadline: false })
    const result = read.run(undefined)
    expect(deadlines.has(read)).toBe(false)
    read.expire()
    expect(first.suspected).toEqual([])
    expect(moved).toEqual([])
    await settle()
    first.driver.acquired[0]?.answer([])
    await result
    expect(second.driver.acquired).toEqual([])
  })
})

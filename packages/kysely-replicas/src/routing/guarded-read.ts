import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely'
import { NodeUnresponsiveError } from '../errors.js'
import { deadlineMs, type ReadDeadlineOptions } from '../health/read-deadline.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { DeadlineWatch, Watched } from './deadline-watch.js'
import type { Hedging } from './hedging.js'

/** What a guarded read asks of the connection that runs it. */
export interface ReadGuard {
  /**
   * The read deadline, and the watch that tells when it passed; `undefined`: none (the read is
   * only hedged). The connection leaves it out on a node whose connections cannot be destroyed.
   */
  readonly options: ReadDeadlineOptions | undefined
  readonly watch: DeadlineWatch | undefined
  /** Where the read goes too when its node stopped answering; `undefined`: nowhere, it waits. */
  alternativeTo(node: DatabaseNode): DatabaseNode | undefined
  /** Records a node's failure; returns whether the node, not the query, failed. */
  noteFailure(node: DatabaseNode, error: unknown): boolean
  /** The read also went to `to` because `from` did not answer in time. */
  noteMoved(from: DatabaseNode, to: DatabaseNode, error: NodeUnresponsiveError): void
  /** How the read is hedged (see `HedgeConfig`); absent: it is not. */
  readonly hedge?: ReadHedge | undefined
}

/** What a hedged read asks of the connection that runs it. */
export interface ReadHedge {
  /** The hedge delay and budget, shared by every read of the dialect. */
  readonly hedging: Hedging
  /** Where a hedge copy of the read goes when `node` is slow; `undefined`: nowhere. */
  to(node: DatabaseNode): DatabaseNode | undefined
  /** A hedge copy went from `from` to `to` after `afterMs`; `won` when `to` answered first. */
  note(from: DatabaseNode, to: DatabaseNode, won: boolean, afterMs: number): void
}

/** One node's run of the read. */
interface Leg {
  readonly node: DatabaseNode
  connection: DatabaseConnection | undefined
  // Its node did not answer within the read deadline: if the other run answers first, this one's
  // connection is destroyed; a merely slow run (a hedged one) is left to finish and released.
  mayBeStuck: boolean
  // The read was answered elsewhere: this leg's connection was destroyed or is to be released.
  cancelled: boolean
  failure: unknown
  done: boolean
}

/**
 * A single read on a replica under a deadline (see `ReadDeadlineConfig`), hedged (see
 * `HedgeConfig`), or both. Hedged: if the replica has not answered after the hedge delay, and
 * the budget allows, the read goes to another replica too. Under a deadline: if the replica has
 * not answered by then and answered no other query meanwhile, it is suspect (probed, no new
 * reads until it answers) and the read goes to another node too. Either way the first answer
 * wins. The other run's connection is destroyed, never given back for reuse, when that run
 * missed the deadline or is the deadline's second run (a query may be stuck on it); a run that
 * is merely slow (hedged) or whose connection cannot be destroyed is released once its query
 * ends. A read whose replica keeps answering others is slow, not stuck: it is watched for
 * another deadline. Rejects only when every run failed, with the first run's error.
 */
export class GuardedRead<R> implements Watched {
  readonly #guard: ReadGuard
  readonly #query: CompiledQuery
  readonly #first: Leg
  #second: Leg | undefined
  #served = 0
  #settled = false
  // Hedging: when the read started, its timer, and when the hedge copy went (-1: none).
  #startedAt = 0
  #hedgeTimer: ReturnType<typeof setTimeout> | undefined
  #hedgedAt = -1
  #resolve: (result: QueryResult<R>) => void = noop
  #reject: (error: unknown) => void = noop

  constructor(guard: ReadGuard, node: DatabaseNode, query: CompiledQuery) {
    this.#guard = guard
    this.#query = query
    this.#first = newLeg(node, false)
  }

  /** Runs the read, on `connection` when one was taken for it already. */
  run(connection: DatabaseConnection | undefined): Promise<QueryResult<R>> {
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      const { node } = this.#first
      const { options, watch, hedge } = this.#guard
      if (options !== undefined && watch !== undefined) {
        this.#served = node.stats.served
        watch.add(this, deadlineMs(options, node.stats))
      }
      if (hedge !== undefined) {
        const { hedging } = hedge
        hedging.noteRead()
        this.#startedAt = performance.now()
        const delay = hedging.delayMs()
        if (delay !== undefined) {
          // After the I/O of the loop turn: an answer that came in while the loop was busy (a
          // late timer) is taken first, not hedged.
          this.#hedgeTimer = setTimeout(() => setImmediate(() => this.#hedge()), delay)
        }
      }
      void this.#runLeg(this.#first, connection)
    })
  }

  expire(): void {
    const { options, watch } = this.#guard
    const first = this.#first
    if (this.#settled || first.mayBeStuck || options === undefined || watch === undefined) {
      return
    }
    const { node } = first
    const ms = deadlineMs(options, node.stats)
    if (node.stats.served !== this.#served) {
      this.#served = node.stats.served
      watch.add(this, ms)
      return
    }
    const error = new NodeUnresponsiveError(node.name, ms)
    node.health.suspect(error)
    first.mayBeStuck = true
    // A hedge copy already runs elsewhere: it is the read's other run.
    if (this.#second !== undefined) {
      return
    }
    const next = pickOrNothing(() => this.#guard.alternativeTo(node))
    if (next === undefined) {
      return
    }
    this.#guard.noteMoved(node, next, error)
    this.#second = newLeg(next, true)
    void this.#runLeg(this.#second, undefined)
  }

  // The hedge delay passed with no answer: a copy goes to another replica, budget allowing.
  #hedge(): void {
    this.#hedgeTimer = undefined
    const hedge = this.#guard.hedge
    if (this.#settled || this.#second !== undefined || hedge === undefined) {
      return
    }
    const next = pickOrNothing(() => hedge.to(this.#first.node))
    if (next === undefined || !hedge.hedging.take()) {
      return
    }
    this.#hedgedAt = performance.now()
    next.stats.hedgesSent++
    this.#second = newLeg(next, false)
    void this.#runLeg(this.#second, undefined)
  }

  async #runLeg(leg: Leg, given: DatabaseConnection | undefined): Promise<void> {
    const { node } = leg
    const startedAt = node.stats.start()
    let connection = given
    try {
      connection ??= await node.driver.acquireConnection()
      leg.connection = connection
      if (this.#settled) {
        node.stats.finish(startedAt, 'cancelled')
        return
      }
      const result = await connection.executeQuery<R>(this.#query)
      node.stats.finish(startedAt)
      this.#sample(leg)
      this.#win(leg, result)
    } catch (error) {
      const failure = leg.cancelled
        ? 'cancelled'
        : this.#guard.noteFailure(node, error)
          ? 'node'
          : 'query'
      node.stats.finish(startedAt, failure)
      // An SQL error is an answer; a node that failed says nothing of the latency of reads.
      if (failure !== 'node') {
        this.#sample(leg)
      }
      this.#lose(leg, error)
    } finally {
      leg.done = true
      if (connection !== undefined && !leg.cancelled) {
        await node.driver.releaseConnection(connection)
      }
    }
  }

  // The first run's latency, answered or given up, feeds the hedge delay: the tail it reacts to
  // stays in view even when hedges win.
  #sample(leg: Leg): void {
    if (leg === this.#first) {
      this.#guard.hedge?.hedging.sample(performance.now() - this.#startedAt)
    }
  }

  #win(leg: Leg, result: QueryResult<R>): void {
    if (this.#settled) {
      return
    }
    this.#finish()
    const other = leg === this.#first ? this.#second : this.#first
    if (other !== undefined) {
      cancel(other)
    }
    const second = this.#second
    if (this.#hedgedAt >= 0 && second !== undefined) {
      if (leg === second) {
        second.node.stats.hedgesWon++
      }
      this.#guard.hedge?.note(
        this.#first.node,
        second.node,
        leg === second,
        this.#hedgedAt - this.#startedAt,
      )
    }
    this.#resolve(result)
  }

  #lose(leg: Leg, error: unknown): void {
    leg.failure = error
    const other = leg === this.#first ? this.#second : this.#first
    if (this.#settled || (other !== undefined && !other.done)) {
      return
    }
    this.#finish()
    this.#reject(this.#first.failure ?? error)
  }

  #finish(): void {
    this.#settled = true
    this.#guard.watch?.delete(this)
    if (this.#hedgeTimer !== undefined) {
      clearTimeout(this.#hedgeTimer)
      this.#hedgeTimer = undefined
    }
  }
}

// A run still going when the other answered: its connection is destroyed if it is running a
// query that may be stuck, else released once its query ends or, not taken yet, once it is
// (see #runLeg).
function cancel(leg: Leg): void {
  if (leg.done) {
    return
  }
  const { connection } = leg
  const destroy = leg.node.destroyConnection
  if (connection === undefined || destroy === undefined || !leg.mayBeStuck) {
    return
  }
  leg.cancelled = true
  destroy(connection).catch(noop)
}

// The second run is picked from a timer, where an error would be uncaught: a balancer that throws
// (a BalancerError) leaves the read to its first run.
function pickOrNothing(pick: () => DatabaseNode | undefined): DatabaseNode | undefined {
  try {
    return pick()
  } catch {
    return undefined
  }
}

function newLeg(node: DatabaseNode, mayBeStuck: boolean): Leg {
  return {
    node,
    connection: undefined,
    mayBeStuck,
    cancelled: false,
    failure: undefined,
    done: false,
  }
}

function noop(): void {}

import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely'
import { NodeUnresponsiveError } from '../errors.js'
import { deadlineMs, type ReadDeadlineOptions } from '../health/read-deadline.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { DeadlineWatch, Watched } from './deadline-watch.js'

/** What a guarded read asks of the connection that runs it. */
export interface ReadGuard {
  readonly options: ReadDeadlineOptions
  readonly watch: DeadlineWatch
  /** Where the read goes too when its node stopped answering; `undefined`: nowhere, it waits. */
  alternativeTo(node: DatabaseNode): DatabaseNode | undefined
  /** Records a node's failure; returns whether the node, not the query, failed. */
  noteFailure(node: DatabaseNode, error: unknown): boolean
  /** The read also went to `to` because `from` did not answer in time. */
  noteMoved(from: DatabaseNode, to: DatabaseNode, error: NodeUnresponsiveError): void
}

/** One node's run of the read. */
interface Leg {
  readonly node: DatabaseNode
  connection: DatabaseConnection | undefined
  // The read was answered elsewhere: this leg's connection was destroyed or is to be released.
  cancelled: boolean
  failure: unknown
  done: boolean
}

/**
 * A single read on a replica under a deadline (see `ReadDeadlineConfig`). If the replica has not
 * answered by then and answered no other query meanwhile, it is suspect (probed, no new reads
 * until it answers) and the read goes to another node too; the first answer wins and the other
 * run's connection is destroyed (a query may be stuck on it), never given back for reuse. A read
 * whose replica keeps answering others is slow, not stuck: it is watched for another deadline.
 * Rejects only when every run failed, with the first run's error.
 */
export class GuardedRead<R> implements Watched {
  readonly #guard: ReadGuard
  readonly #query: CompiledQuery
  readonly #first: Leg
  #second: Leg | undefined
  #served = 0
  #settled = false
  #resolve: (result: QueryResult<R>) => void = noop
  #reject: (error: unknown) => void = noop

  constructor(guard: ReadGuard, node: DatabaseNode, query: CompiledQuery) {
    this.#guard = guard
    this.#query = query
    this.#first = newLeg(node)
  }

  /** Runs the read, on `connection` when one was taken for it already. */
  run(connection: DatabaseConnection | undefined): Promise<QueryResult<R>> {
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      const { node } = this.#first
      this.#served = node.stats.served
      this.#guard.watch.add(this, deadlineMs(this.#guard.options, node.stats))
      void this.#runLeg(this.#first, connection)
    })
  }

  expire(): void {
    if (this.#settled || this.#second !== undefined) {
      return
    }
    const { node } = this.#first
    const ms = deadlineMs(this.#guard.options, node.stats)
    if (node.stats.served !== this.#served) {
      this.#served = node.stats.served
      this.#guard.watch.add(this, ms)
      return
    }
    const error = new NodeUnresponsiveError(node.name, ms)
    node.health.suspect(error)
    const next = this.#guard.alternativeTo(node)
    if (next === undefined) {
      return
    }
    this.#guard.noteMoved(node, next, error)
    this.#second = newLeg(next)
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
      this.#win(leg, result)
    } catch (error) {
      node.stats.finish(
        startedAt,
        leg.cancelled ? 'cancelled' : this.#guard.noteFailure(node, error) ? 'node' : 'query',
      )
      this.#lose(leg, error)
    } finally {
      leg.done = true
      if (connection !== undefined && !leg.cancelled) {
        await node.driver.releaseConnection(connection)
      }
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
    this.#guard.watch.delete(this)
  }
}

// A run still going when the other answered: its connection is destroyed if it is running a
// query (it may be stuck), else released when the acquisition ends (see #runLeg).
function cancel(leg: Leg): void {
  if (leg.done) {
    return
  }
  const { connection } = leg
  const destroy = leg.node.destroyConnection
  if (connection === undefined || destroy === undefined) {
    return
  }
  leg.cancelled = true
  destroy(connection).catch(noop)
}

function newLeg(node: DatabaseNode): Leg {
  return { node, connection: undefined, cancelled: false, failure: undefined, done: false }
}

function noop(): void {}

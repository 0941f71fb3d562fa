import {
  type CompiledQuery,
  type DatabaseConnection,
  CompiledQuery as Query,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import type { ReadYourWrites } from './consistency/read-your-writes.js'
import {
  PinConflictError,
  ReplicasError,
  ReplicaTransactionModeError,
  UnsupportedOperationError,
} from './errors.js'
import { describeError } from './events/describe-error.js'
import type { RouteEvent } from './events/replicas-events.js'
import { DatabaseNode } from './nodes/database-node.js'
import type { NodeConnection } from './nodes/node-connection.js'
import { TimedCompiledQuery, tick } from './routing/compile-order.js'
import { GuardedRead, type ReadGuard } from './routing/guarded-read.js'
import type { NodeRouter } from './routing/node-router.js'
import type { QueryClassification } from './routing/query-classification.js'
import { describeTarget, type RouteTarget } from './routing/route-target.js'

const ROLLBACK = Query.raw('rollback')
const PRIMARY_READ_RETRIES = 3
const RETRY_PAUSE_MS = 10

/** Where a single query goes next: a node, with a connection already taken when one was checked. */
interface Attempt {
  readonly node: DatabaseNode
  readonly connection?: DatabaseConnection
  // A read on the primary because no replica could take it: it needs a fallback budget slot.
  readonly fallback?: boolean
}

/** Where a failed read goes; `unconfirmed` when read-your-writes could not be honoured. */
interface Retry extends Attempt {
  readonly unconfirmed?: boolean
}

/**
 * What Kysely holds between `acquireConnection()` and `releaseConnection()`. It takes a node
 * connection only when the first query (or `BEGIN`) shows what the acquisition is for:
 *
 * - a single query (compiled before the acquisition): it runs on the node its kind calls for,
 *   on a connection borrowed for that query alone; a read that fails there for a
 *   connection-level reason is retried on another node (see `NodeRouter.nextAfterFailure`);
 * - a block (`connection()`, `transaction()`): it runs on one node from start to end, the
 *   primary unless the block was opened through `onReplica()`. A later query never moves it and
 *   nothing in it is retried.
 *
 * Transaction statements (`begin`, `commit`, savepoints…) go through this object, which Kysely
 * wrapped for its `log`, so they are logged as with any other dialect.
 */
export class ReplicatedConnection implements DatabaseConnection {
  readonly #router: NodeRouter
  readonly #sessionReset: CompiledQuery | undefined
  readonly #readYourWrites: ReadYourWrites | undefined
  // Reads on replicas run under a deadline or hedged (see GuardedRead); off: undefined. The
  // deadline needs a node whose connections can be destroyed: on any other, reads are only hedged.
  readonly #guard: ReadGuard | undefined
  readonly #hedgeOnly: ReadGuard | undefined
  // Acquisitions reuse this object, and so the promise that hands it out.
  readonly #opened: Promise<DatabaseConnection> = Promise.resolve(this)
  #acquiredAt = 0
  #used = false
  #pin: RouteTarget | undefined
  #chosen: DatabaseNode | undefined
  #held: NodeConnection | undefined
  // The held connection as the node's driver sees it for transaction statements.
  #bridge: DatabaseConnection | undefined
  // A transaction statement on its way through Kysely's wrapper of this object.
  #control: CompiledQuery | undefined
  #inTransaction = false
  // The open transaction ran, on the primary, a statement that may write.
  #wrote = false
  // A rollback failed: the node's driver may have discarded the connection.
  #discarded = false
  // The nodes a single read failed on, kept between acquisitions to spare an allocation per read.
  readonly #tried: DatabaseNode[] = []
  // The position the single read must see (read-your-writes), as planned when it started.
  #atLeast: bigint | undefined
  // The single read holds a slot of the fallback budget, given back when the acquisition ends.
  #fallbackSlot = false
  // The release of the single query's node connection, awaited with the acquisition's own.
  #releasing: Promise<void> | undefined

  constructor(
    router: NodeRouter,
    sessionReset: string | undefined,
    readYourWrites: ReadYourWrites | undefined,
  ) {
    this.#router = router
    this.#sessionReset = sessionReset === undefined ? undefined : Query.raw(sessionReset)
    this.#readYourWrites = readYourWrites
    this.#guard = this.#createGuard()
    this.#hedgeOnly =
      this.#guard?.hedge === undefined
        ? undefined
        : { ...this.#guard, options: undefined, watch: undefined }
  }

  #createGuard(): ReadGuard | undefined {
    const router = this.#router
    const { readDeadline, deadlineWatch, hedging } = router
    if (readDeadline === undefined && hedging === undefined) {
      return undefined
    }
    return {
      options: readDeadline,
      watch: deadlineWatch,
      alternativeTo: (node) => {
        const next = router.alternativeTo(node, this.#pin, this.#atLeast)
        // A second copy goes to the primary only if the fallback budget has room at once.
        if (next?.role !== 'primary' || this.#fallbackSlot) {
          return next
        }
        if (!router.countsFallback) {
          return next
        }
        this.#fallbackSlot = router.fallbackBudget?.tryTake() === true
        return this.#fallbackSlot ? next : undefined
      },
      noteFailure: (node, error) => this.#noteFailure(node, error),
      noteMoved: (from, to, error) => {
        if (router.events.listening('fallback')) {
          router.events.emit('fallback', {
            from: from.name,
            to: to.name,
            error: describeError(error),
          })
        }
      },
      hedge:
        hedging === undefined
          ? undefined
          : {
              hedging,
              to: (node) => router.hedgeTo(node, this.#pin, this.#atLeast),
              note: (from, to, won, afterMs) => {
                if (router.events.listening('hedge')) {
                  router.events.emit('hedge', { from: from.name, to: to.name, won, afterMs })
                }
              },
            },
    }
  }

  /** Starts an acquisition; returns this connection, as `Driver.acquireConnection()` does. */
  open(): Promise<DatabaseConnection> {
    this.#acquiredAt = tick()
    return this.#opened
  }

  /**
   * Ends an acquisition: gives the held node connection back, after resetting its session, or
   * returns the release of a single query's node connection. Returns `undefined` when there is
   * nothing to wait for, to spare a promise.
   */
  close(): Promise<void> | undefined {
    const releasing = this.#releasing
    this.#releasing = undefined
    const held = this.#held
    const discarded = this.#discarded
    this.#held = undefined
    this.#bridge = undefined
    this.#control = undefined
    this.#pin = undefined
    this.#chosen = undefined
    this.#used = false
    this.#inTransaction = false
    this.#wrote = false
    this.#discarded = false
    if (this.#fallbackSlot) {
      this.#fallbackSlot = false
      this.#router.fallbackBudget?.give()
    }
    return held === undefined ? releasing : this.#release(held, discarded)
  }

  async #release({ node, connection }: NodeConnection, discarded: boolean): Promise<void> {
    try {
      if (this.#sessionReset !== undefined && !discarded) {
        await this.#resetSession(connection, this.#sessionReset)
      }
    } finally {
      await node.driver.releaseConnection(connection)
    }
  }

  // Never throws: the block's own error, if any, is the one its caller must see. A reset fails
  // in an open or aborted transaction (a block that ran `begin` by hand and threw): rolled back,
  // the connection can be reset; if even that fails, the connection is broken and its pool drops it.
  async #resetSession(connection: DatabaseConnection, reset: CompiledQuery): Promise<void> {
    try {
      await connection.executeQuery(reset)
    } catch {
      try {
        await connection.executeQuery(ROLLBACK)
        await connection.executeQuery(reset)
      } catch {
        // Broken connection: nothing more to do here.
      }
    }
  }

  /** Routes this acquisition to a view's target. The last view wins until the block starts. */
  pin(target: RouteTarget): void {
    const node = this.#held?.node ?? this.#chosen
    if (node === undefined) {
      this.#pin = target
    } else if (!this.#router.serves(node, target)) {
      throw new PinConflictError(node.name, describeTarget(target))
    }
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (query === this.#control) {
      this.#control = undefined
      return this.#requireHeld('a transaction statement').connection.executeQuery<R>(query)
    }
    return this.#isSingleQuery(query) ? this.#runSingle(query) : this.#runHeld(query)
  }

  // Kysely always passes a chunk size (0.30 types it as required); the node connection gets it
  // as is.
  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!this.#isSingleQuery(query)) {
      const { node, connection } = this.#heldFor(query) ?? (await this.#holdFor(query))
      const mayWrite = this.#blockStatementMayWrite(node, query)
      try {
        yield* connection.streamQuery<R>(query, chunkSize)
      } finally {
        await this.#afterBlockStatement(connection, mayWrite)
      }
      return
    }
    // A stream is retried elsewhere only while no connection could be had: once rows flowed,
    // a retry would repeat them.
    const classification = this.#router.classify(query)
    const { node, connection } = await this.#connectForStream(classification)
    try {
      yield* connection.streamQuery<R>(query, chunkSize)
    } finally {
      try {
        if (node.role === 'primary' && classification.access !== 'read') {
          await this.#readYourWrites?.recordWrite(connection)
        }
      } finally {
        await node.driver.releaseConnection(connection)
      }
    }
  }

  async beginTransaction(settings: TransactionSettings): Promise<void> {
    const node = this.#held?.node ?? this.#blockNode()
    const readOnly = node.role === 'replica'
    if (readOnly && settings.accessMode === 'read write') {
      throw new ReplicaTransactionModeError(node.name)
    }
    const held = await this.#hold(node)
    await node.driver.beginTransaction(
      this.#bridgeTo(held),
      readOnly ? { ...settings, accessMode: 'read only' } : settings,
    )
    this.#inTransaction = true
    this.#wrote = false
  }

  async commitTransaction(): Promise<void> {
    const held = this.#requireHeld('commit')
    // A commit that fails leaves `#wrote` set: the rollback that follows records the position.
    await held.node.driver.commitTransaction(this.#bridgeTo(held))
    this.#inTransaction = false
    // The position is read after COMMIT: only then is the transaction's work in the WAL for good.
    await this.#recordTransaction(held.connection)
  }

  async rollbackTransaction(): Promise<void> {
    const held = this.#requireHeld('rollback')
    try {
      await held.node.driver.rollbackTransaction(this.#bridgeTo(held))
    } catch (error) {
      this.#discarded = true
      throw error
    } finally {
      this.#inTransaction = false
      // A statement that failed showed the primary's state of that moment (a duplicate key):
      // later reads of the scope must not go back before it.
      await this.#recordTransaction(held.connection)
    }
  }

  async savepoint(
    operation: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint',
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const held = this.#requireHeld(operation)
    const { driver } = held.node
    const step = driver[operation]
    if (step === undefined) {
      throw new UnsupportedOperationError(
        `The driver of node "${held.node.name}" does not support ${operation}(); use a dialect whose driver does.`,
      )
    }
    await step.call(driver, this.#bridgeTo(held), name, compileQuery)
  }

  // The node connection, but whose queries come back through this object, as Kysely wrapped it
  // (its log sees them), then go on to the node connection untouched. Everything else (a
  // driver's own methods, Kysely's discard mark) reaches the node connection itself.
  #bridgeTo(held: NodeConnection): DatabaseConnection {
    if (this.#bridge === undefined) {
      const run = <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        this.#control = query
        return this.executeQuery<R>(query)
      }
      this.#bridge = new Proxy(held.connection, {
        get(target, key) {
          if (key === 'executeQuery') {
            return run
          }
          const value: unknown = Reflect.get(target, key, target)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    }
    return this.#bridge
  }

  async #recordTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.#wrote) {
      this.#wrote = false
      await this.#readYourWrites?.recordWrite(connection)
    }
  }

  // Kysely compiles a single query before acquiring its connection, and the queries of a block
  // after; only the first query of an acquisition can be a single one. A query of unknown time
  // (compiled by another Kysely instance with a DummyDriver, or a `{ ...compiled }` copy): as the
  // first query of an acquisition, a read runs as a single read (it can depend on no session
  // state), and anything else holds the primary, where it runs either way.
  #isSingleQuery(query: CompiledQuery): boolean {
    if (this.#held !== undefined || this.#used) {
      return false
    }
    this.#used = true
    const before = TimedCompiledQuery.compiledBefore(query, this.#acquiredAt)
    return before ?? this.#router.classify(query).access === 'read'
  }

  // Not async: the common single query costs one async frame, #attempt's.
  #runSingle<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Setting an array's length is a runtime call even when the array is already empty.
    if (this.#tried.length !== 0) {
      this.#tried.length = 0
    }
    let classification: QueryClassification
    let planned: DatabaseNode | Attempt | undefined
    try {
      classification = this.#router.classify(query)
      planned = this.#planned(classification)
    } catch (error) {
      // No node can take the query: its promise rejects, as an async function's would.
      return Promise.reject(error)
    }
    return this.#attempt<R>(query, classification, planned)
  }

  // The hot path: acquire, run and release in one async frame, with no allocation of its own
  // unless read-your-writes, the fallback budget or a failure has a say. A failure that may be
  // retried goes on to the next attempt (see #retry).
  async #attempt<R>(
    query: CompiledQuery,
    classification: QueryClassification,
    planned: DatabaseNode | Attempt | undefined,
  ): Promise<QueryResult<R>> {
    const next = planned ?? this.#consistentAttempt(await this.#lease(), classification)
    let node: DatabaseNode
    let connection: DatabaseConnection | undefined
    if (next instanceof DatabaseNode) {
      node = next
    } else {
      node = next.node
      connection = next.connection
      if (next.fallback === true && !this.#fallbackSlot) {
        await this.#takeFallbackSlot()
      }
    }
    const guard = this.#guardOf(node)
    if (guard !== undefined) {
      try {
        return await new GuardedRead<R>(guard, node, query).run(connection)
      } catch (error) {
        return this.#retry<R>(query, classification, node, error)
      }
    }
    // Counted from the pick, so that reads queued for a busy node's pool weigh on it too.
    const startedAt = node.stats.start()
    if (connection === undefined) {
      try {
        connection = await node.driver.acquireConnection()
      } catch (error) {
        node.stats.finish(startedAt, 'node')
        this.#noteFailure(node, error)
        return this.#retry<R>(query, classification, node, error)
      }
    }
    const writes = node.role === 'primary' && classification.access !== 'read'
    let result: QueryResult<R>
    try {
      result = await connection.executeQuery<R>(query)
    } catch (error) {
      node.stats.finish(startedAt, this.#noteFailure(node, error) ? 'node' : 'query')
      // After a failure too: see rollbackTransaction.
      await this.#endSingle(node, connection, writes)
      if (writes) {
        throw error
      }
      return this.#retry<R>(query, classification, node, error)
    }
    node.stats.finish(startedAt)
    const readYourWrites = this.#readYourWrites
    try {
      // Before the query resolves: its caller's next read must see the write.
      if (writes && readYourWrites !== undefined) {
        await readYourWrites.recordWrite(connection)
      }
    } finally {
      // Kysely awaits the release of this acquisition anyway: the node connection's release
      // joins it there (see close()) instead of costing the query one more turn of the loop.
      this.#releasing = node.driver.releaseConnection(connection)
    }
    return result
  }

  // The attempt after one that failed on `failed`; throws `error` when there is none.
  async #retry<R>(
    query: CompiledQuery,
    classification: QueryClassification,
    failed: DatabaseNode,
    error: unknown,
  ): Promise<QueryResult<R>> {
    const next = await this.#fallBack(failed, error, classification, this.#tried)
    return this.#attempt<R>(query, classification, next)
  }

  // Records a single write's position (read-your-writes), then gives its node connection back.
  async #endSingle(node: DatabaseNode, connection: DatabaseConnection, writes: boolean) {
    try {
      if (writes) {
        await this.#readYourWrites?.recordWrite(connection)
      }
    } finally {
      await node.driver.releaseConnection(connection)
    }
  }

  // How a single query on the node is guarded, if at all: a read on a replica, unless pinned to
  // that replica by index (it must not move), under the read deadline when the node's connections
  // can be destroyed, hedged when hedging is on.
  #guardOf(node: DatabaseNode): ReadGuard | undefined {
    const pin = this.#pin
    if (
      node.role !== 'replica' ||
      (pin !== undefined && (pin.kind !== 'replica' || pin.index !== undefined))
    ) {
      return undefined
    }
    return node.destroyConnection === undefined ? this.#hedgeOnly : this.#guard
  }

  async #runHeld<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { node, connection } = this.#heldFor(query) ?? (await this.#holdFor(query))
    const mayWrite = this.#blockStatementMayWrite(node, query)
    const startedAt = node.stats.start()
    try {
      const result = await connection.executeQuery<R>(query)
      node.stats.finish(startedAt)
      return result
    } catch (error) {
      node.stats.finish(startedAt, this.#noteFailure(node, error) ? 'node' : 'query')
      throw error
    } finally {
      await this.#afterBlockStatement(connection, mayWrite)
    }
  }

  // Whether read-your-writes must record a statement of a block: one that may write, on the
  // primary. Read-only blocks record nothing.
  #blockStatementMayWrite(node: DatabaseNode, query: CompiledQuery): boolean {
    if (
      this.#readYourWrites === undefined ||
      node.role !== 'primary' ||
      this.#router.classify(query).access === 'read'
    ) {
      return false
    }
    if (this.#inTransaction) {
      this.#wrote = true
      return false
    }
    return true
  }

  // Outside a transaction a statement commits on its own: recorded now, it is seen by a read
  // made through `db` while the block goes on.
  async #afterBlockStatement(connection: DatabaseConnection, mayWrite: boolean): Promise<void> {
    if (mayWrite) {
      await this.#readYourWrites?.recordWrite(connection)
    }
  }

  async #connectForStream(classification: QueryClassification): Promise<NodeConnection> {
    const tried: DatabaseNode[] = []
    const planned = this.#planned(classification)
    let attempt: Attempt =
      planned instanceof DatabaseNode
        ? { node: planned }
        : (planned ?? this.#consistentAttempt(await this.#lease(), classification))
    for (;;) {
      const { node, connection } = attempt
      if (connection !== undefined) {
        return { node, connection }
      }
      if (attempt.fallback === true && !this.#fallbackSlot) {
        await this.#takeFallbackSlot()
      }
      try {
        return await this.#acquireOn(node)
      } catch (error) {
        attempt = await this.#fallBack(node, error, classification, tried)
      }
    }
  }

  /**
   * Where a single query goes after failing on `failed`, or throws `error` when it must not be
   * retried (see `NodeRouter.nextAfterFailure` for replicas, `#primaryRetry` for the primary).
   */
  async #fallBack(
    failed: DatabaseNode,
    error: unknown,
    classification: QueryClassification,
    tried: DatabaseNode[],
  ): Promise<Attempt> {
    // A read that had to see its scope's last write must not be retried on a replica without it.
    const plan = this.#pin === undefined ? this.#readYourWrites?.plan() : undefined
    const atLeast = typeof plan === 'bigint' ? plan : undefined
    const next =
      failed.role === 'primary'
        ? this.#primaryRetry(failed, error, classification, tried)
        : this.#replicaRetry(failed, error, classification, tried, atLeast)
    if (next === undefined) {
      throw error
    }
    if (next.node === failed) {
      // Sessions terminated together fail together: a moment lets the pool drop the others.
      await pause(RETRY_PAUSE_MS)
    }
    const { events } = this.#router
    if (events.listening('fallback')) {
      events.emit('fallback', {
        from: failed.name,
        to: next.node.name,
        error: describeError(error),
      })
    }
    this.#chosen = this.#pin === undefined ? undefined : next.node
    if (atLeast === undefined || next.node.role !== 'replica' || next.unconfirmed) {
      return next
    }
    // The replica was chosen on what is known of it; the read runs only where it is checked.
    return (
      (await this.#readYourWrites?.tryLease(next.node, atLeast)) ??
      this.#primaryForRead(classification)
    )
  }

  #replicaRetry(
    failed: DatabaseNode,
    error: unknown,
    classification: QueryClassification,
    tried: DatabaseNode[],
    atLeast: bigint | undefined,
  ): Retry | undefined {
    const node = this.#router.nextAfterFailure(
      failed,
      error,
      classification,
      this.#pin,
      tried,
      atLeast,
    )
    if (node === undefined) {
      return undefined
    }
    return node.role === 'primary' && this.#router.countsFallback
      ? { node, fallback: true }
      : { node }
  }

  // Reads are idempotent: one that failed on the primary for a node-level reason (a terminated
  // session, a reset) is retried there on another connection (a pool may hold several whose
  // sessions were terminated together); if those fail too, a replica serves it rather than no
  // one (a read never needs the primary unless the user asked for it).
  #primaryRetry(
    failed: DatabaseNode,
    error: unknown,
    classification: QueryClassification,
    tried: DatabaseNode[],
  ): Retry | undefined {
    if (
      classification.access !== 'read' ||
      this.#pin !== undefined ||
      !failed.health.isNodeFailure(error)
    ) {
      return undefined
    }
    if (countOf(tried, failed) < PRIMARY_READ_RETRIES) {
      tried.push(failed)
      return this.#primaryForRead(classification)
    }
    return this.#unconfirmedRead(classification, `the primary failed (${describeError(error)})`)
  }

  // The node for a single query (an attempt when it needs more than a node), or `undefined` when
  // read-your-writes must first find a replica that has replayed the scope's last write
  // (asynchronously).
  #planned(classification: QueryClassification): DatabaseNode | Attempt | undefined {
    const readYourWrites = this.#readYourWrites
    this.#atLeast = undefined
    if (
      readYourWrites === undefined ||
      this.#pin !== undefined ||
      classification.access !== 'read'
    ) {
      return this.#firstTarget(classification)
    }
    const plan = readYourWrites.plan()
    if (plan === 'any') {
      return this.#firstTarget(classification)
    }
    if (plan === 'primary') {
      return this.#primaryForRead(classification)
    }
    this.#atLeast = plan
    return undefined
  }

  // A replica connection at the position #planned found, if any; awaited by the caller, so that a
  // read of the scope's position takes no async frame of its own here.
  #lease(): Promise<NodeConnection | undefined> | undefined {
    const atLeast = this.#atLeast
    return atLeast === undefined ? undefined : this.#readYourWrites?.replicaAt(atLeast)
  }

  // Where a read goes once #lease() answered: the leased replica connection, else the primary.
  #consistentAttempt(
    leased: NodeConnection | undefined,
    classification: QueryClassification,
  ): Attempt {
    if (leased === undefined) {
      return this.#primaryForRead(classification)
    }
    this.#emitRoute(leased.node, classification.reason)
    return leased
  }

  // The primary for a read that read-your-writes (or a retry) sends there, or a replica when no
  // primary is up.
  #primaryForRead(classification: QueryClassification): Retry {
    let primary: DatabaseNode
    try {
      primary = this.#router.primary
    } catch (error) {
      if (!(error instanceof ReplicasError)) {
        throw error
      }
      const replica = this.#unconfirmedRead(classification, `no primary is up (${error.message})`)
      if (replica === undefined) {
        throw error
      }
      return replica
    }
    this.#emitRoute(primary, 'read-your-writes')
    // With no replica up, the read would be on the primary anyway: it falls back.
    return this.#router.available.length === 0 && this.#router.countsFallback
      ? { node: primary, fallback: true }
      : { node: primary }
  }

  // A read that should have gone to the primary, on a replica: an event says it may miss the
  // scope's last writes. `undefined` when no replica is up either.
  #unconfirmedRead(classification: QueryClassification, why: string): Retry | undefined {
    const available = this.#router.available
    if (available.length === 0) {
      return undefined
    }
    const replica = this.#router.pick(available)
    this.#router.events.emit('consistency', {
      kind: 'read-unconfirmed',
      detail: `${why}; read on ${replica.name}`,
    })
    this.#emitRoute(replica, classification.reason)
    return { node: replica, unconfirmed: true }
  }

  // A read that goes to the primary unasked (no replica can take it) is a fallback read.
  #firstTarget(classification: QueryClassification): DatabaseNode | Attempt {
    const node = this.#firstNode(classification)
    return node.role === 'primary' &&
      classification.access === 'read' &&
      this.#pin === undefined &&
      this.#router.countsFallback
      ? { node, fallback: true }
      : node
  }

  // Waits for a slot of the fallback budget, or throws NoReplicaAvailableError.
  async #takeFallbackSlot(): Promise<void> {
    await this.#router.fallbackBudget?.take()
    this.#fallbackSlot = true
  }

  #firstNode(classification: QueryClassification): DatabaseNode {
    const node = this.#router.nodeForQuery(classification, this.#pin)
    this.#router.assertReadOn(node, classification)
    // A view's single query fixes the node in case the acquisition turns out to be a block.
    if (this.#pin !== undefined) {
      this.#chosen = node
    }
    this.#emitRoute(node, this.#pin === undefined ? classification.reason : 'view')
    return node
  }

  async #acquireOn(node: DatabaseNode): Promise<NodeConnection> {
    try {
      return { node, connection: await node.driver.acquireConnection() }
    } catch (error) {
      node.stats.errors++
      this.#noteFailure(node, error)
      throw error
    }
  }

  // The held connection for a query of the block, when the block already holds one: no promise
  // on the path every query of a transaction takes.
  #heldFor(query: CompiledQuery): NodeConnection | undefined {
    const held = this.#held
    if (held !== undefined) {
      this.#router.assertRunnableOn(held.node, query)
      this.#emitRoute(held.node, 'pinned')
    }
    return held
  }

  async #holdFor(query: CompiledQuery): Promise<NodeConnection> {
    const held = this.#heldFor(query)
    if (held !== undefined) {
      return held
    }
    const node = this.#blockNode()
    this.#router.assertRunnableOn(node, query)
    this.#emitRoute(node, 'pinned')
    return this.#hold(node)
  }

  // A block that was not opened through a view runs on the primary, whatever its first query:
  // a later query of the block may write, or depend on session state the block set.
  #blockNode(): DatabaseNode {
    if (this.#chosen !== undefined) {
      return this.#chosen
    }
    return this.#pin === undefined ? this.#router.primary : this.#router.nodeForTarget(this.#pin)
  }

  async #hold(node: DatabaseNode): Promise<NodeConnection> {
    if (this.#held !== undefined) {
      return this.#held
    }
    this.#chosen = node
    const held = await this.#acquireOn(node)
    this.#held = held
    return held
  }

  #requireHeld(operation: string): NodeConnection {
    if (this.#held === undefined) {
      throw new UnsupportedOperationError(`${operation}() was called before the transaction began.`)
    }
    return this.#held
  }

  // A replica is taken out of rotation (reads have somewhere else to go); a primary is not, but
  // its failure may mean a failover, which a topology monitor wants to know at once. A pool with
  // no free connection (saturated) is busy, not dead: nothing is marked or reported.
  // Returns whether the node, not the query, failed.
  #noteFailure(node: DatabaseNode, error: unknown): boolean {
    const kind = node.health.failureKind(error)
    if (kind !== 'node') {
      return kind === 'saturated'
    }
    if (node.role === 'replica') {
      node.health.markDown(error)
    } else {
      this.#router.notePrimaryFailure()
    }
    return true
  }

  #emitRoute(node: DatabaseNode, reason: RouteEvent['reason']): void {
    const { events } = this.#router
    if (events.listening('route')) {
      events.emit('route', { node: node.name, role: node.role, reason })
    }
  }
}

function countOf(nodes: readonly DatabaseNode[], node: DatabaseNode): number {
  let count = 0
  for (const each of nodes) {
    if (each === node) {
      count++
    }
  }
  return count
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

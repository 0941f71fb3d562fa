import type { CompiledQuery, Kysely, RawBuilder, RootOperationNode } from 'kysely'
import { describeValue } from './config/describe-value.js'
import type { ReadYourWrites } from './consistency/read-your-writes.js'
import type { ReadYourWritesMode } from './consistency/read-your-writes-mode.js'
import { InvalidArgumentError } from './errors.js'
import type { ReplicasEventMap, ReplicasListener } from './events/replicas-events.js'
import type { DatabaseNode, NodeRole } from './nodes/database-node.js'
import type { NodeRouter } from './routing/node-router.js'
import type { QueryAccess, RouteReason } from './routing/query-classification.js'
import { registrationOf } from './views/driver-registry.js'

/**
 * One node in a {@link Replication.stats} snapshot.
 *
 * ```ts
 * for (const node of replicationOf(db).stats()) {
 *   metrics.gauge('db.in_flight', node.inFlight, { node: node.name, role: node.role })
 * }
 * ```
 */
export interface NodeStatsSnapshot {
  /** The node's name from the config. */
  readonly name: string
  /** Its role now (a monitor may have changed the configured one). */
  readonly role: NodeRole
  /** The zone the config gave the node (see `localZone`), if any. */
  readonly zone: string | undefined
  /** `false` while the node is marked down and probed. */
  readonly healthy: boolean
  /** When the node was marked down, if it is. */
  readonly downSince: Date | undefined
  /** The last connection-level error, passwords masked. */
  readonly lastError: string | undefined
  /** Queries running on the node now, waiting for a connection included. */
  readonly inFlight: number
  /** Queries the node answered since the start, successfully or with an SQL error. */
  readonly served: number
  /** Queries that failed on the node since the start, for any reason. */
  readonly errors: number
  /** The smoothed query latency in ms (0 before any query). */
  readonly latencyMs: number
  /** Replication lag in WAL bytes, as last measured by a monitor (replicas with a monitor only). */
  readonly lagBytes: number | undefined
  /** Replication lag in seconds, as last measured by a monitor (replicas with a monitor only). */
  readonly lagSeconds: number | undefined
  /** Beyond the lag bound: no reads until it catches up. */
  readonly lagging: boolean
  /** Hedge copies of reads sent to the node because another replica was slow (see `hedge`). */
  readonly hedgesSent: number
  /** Of those, the ones the node answered first. */
  readonly hedgesWon: number
}

/**
 * The fallback reads of an instance, from `replicationOf(db).fallbackReads()`.
 *
 * ```ts
 * const { running, maxConcurrent } = replicationOf(db).fallbackReads()
 * if (running === maxConcurrent) log.warn('the primary takes no more fallback reads')
 * ```
 */
export interface FallbackReadsSnapshot {
  /** Fallback reads running on the primary now (waiting ones not included). */
  readonly running: number
  /** How many may run at once; `0` with `'never'`. */
  readonly maxConcurrent: number | 'unlimited'
  /** Fallback reads that found no slot in time and failed with `NoReplicaAvailableError`. */
  readonly refused: number
}

/**
 * Where a single query would go, and why.
 *
 * ```ts
 * const { role, reason, candidates } = replicationOf(db).explain(db.selectFrom('person').selectAll())
 * // 'replica', 'select', ['replica-a', 'replica-b']
 * ```
 */
export interface RouteExplanation {
  /** Whether the query reads, writes, or is raw SQL the router does not inspect (`unknown`). */
  readonly access: QueryAccess
  /** The rule that decided (see {@link RouteReason}). */
  readonly reason: RouteReason
  /** What triggered the rule: a function's name, a lock's strength, a node kind; or nothing. */
  readonly detail: string | undefined
  /** The role of the node it would run on. */
  readonly role: NodeRole
  /** The nodes that could serve it now: the healthy replicas for a read, else the primary. */
  readonly candidates: readonly string[]
}

/**
 * Something that compiles to a query: any Kysely builder.
 *
 * ```ts
 * replicationOf(db).explain(db.updateTable('person').set({ name: 'a' })) // any builder is Compilable
 * ```
 */
export interface Compilable {
  /** The query as SQL and parameters, with its operation tree. */
  compile(): CompiledQuery
}

/**
 * The observability handle of a replicated Kysely instance: events, per-node stats and routing
 * explanations. Get it with {@link replicationOf}.
 *
 * ```ts
 * const replication = replicationOf(db)
 * replication.on('node-down', ({ node, error }) => log.warn({ node, error }, 'replica down'))
 * console.table(replication.stats())
 * replication.explain(db.selectFrom('person').selectAll().forUpdate()) // { role: 'primary', reason: 'row-lock', … }
 * ```
 */
export class Replication {
  readonly #router: NodeRouter
  readonly #readYourWrites: ReadYourWrites | undefined
  readonly #readYourWritesMode: ReadYourWritesMode

  /** @internal The driver makes one per instance; get it with {@link replicationOf}. */
  constructor(
    router: NodeRouter,
    readYourWrites: ReadYourWrites | undefined,
    readYourWritesMode: ReadYourWritesMode,
  ) {
    this.#router = router
    this.#readYourWrites = readYourWrites
    this.#readYourWritesMode = readYourWritesMode
  }

  /**
   * The read-your-writes mode of this instance, and why: `position` with a PostgreSQL primary
   * (known by what its dialect does, so a second copy of Kysely in the process does not change
   * it), `sticky` with other databases, or as the config says.
   *
   * ```ts
   * const { mode, reason } = replicationOf(db).readYourWritesMode
   * if (mode !== 'position') log.warn(`read-your-writes is ${mode}: ${reason}`)
   * ```
   */
  get readYourWritesMode(): ReadYourWritesMode {
    return this.#readYourWritesMode
  }

  /**
   * Runs `fn` in a consistency scope of its own (one per HTTP request or user session), so that
   * its writes send only its own reads to caught-up replicas or the primary. A `token` from
   * {@link Replication.token} (a cookie, a header) carries another scope's writes over; a bad token is
   * ignored (a `consistency` event says why) and never fails a read.
   *
   * ```ts
   * app.use((req, res, next) => replicationOf(db).runInScope(next, req.get('x-consistency-token')))
   * ```
   */
  runInScope<T>(fn: () => Promise<T> | T, token?: string): Promise<T> {
    if (typeof fn !== 'function') {
      throw new InvalidArgumentError(
        `replicationOf(db).runInScope(fn, token): fn must be the function to run in the scope, got ${describeValue(fn)}.`,
      )
    }
    // With read-your-writes off there is nothing to scope: middleware need not branch on it.
    if (this.#readYourWrites === undefined) {
      return Promise.resolve().then(fn)
    }
    return this.#readYourWrites.run(fn, token === '' ? undefined : token)
  }

  /**
   * The current scope's position as an opaque token, to send to a client and get back with its
   * next request (possibly to another server). An empty string when read-your-writes is off.
   *
   * ```ts
   * res.setHeader('x-consistency-token', replicationOf(db).token())
   * ```
   */
  token(): string {
    return this.#readYourWrites?.token() ?? ''
  }

  /**
   * Subscribes to an event: `route`, `node-down`, `node-up`, `node-added`, `node-removed`,
   * `fallback`, `hedge`, `role-change`, `lag`, `split-brain`, `consistency` or `read-your-writes-mode`.
   */
  on<K extends keyof ReplicasEventMap>(name: K, listener: ReplicasListener<K>): this {
    this.#router.events.on(name, listener)
    return this
  }

  /** Unsubscribes a listener given to {@link on}. */
  off<K extends keyof ReplicasEventMap>(name: K, listener: ReplicasListener<K>): this {
    this.#router.events.off(name, listener)
    return this
  }

  /**
   * A snapshot of every node, configured primary first: health, counters, latency and lag.
   *
   * ```ts
   * setInterval(() => console.table(replicationOf(db).stats()), 10_000).unref()
   * ```
   */
  stats(): NodeStatsSnapshot[] {
    return this.#router.nodes.map(snapshot)
  }

  /**
   * The fallback reads on the primary (see `FallbackConfig`): how many run now, how many may,
   * and how many were refused with `NoReplicaAvailableError` since the instance started.
   * `maxConcurrent` is `'unlimited'` when nothing counts them.
   *
   * ```ts
   * const { running, maxConcurrent, refused } = replicationOf(db).fallbackReads()
   * metrics.gauge('db.fallback_reads', running)
   * ```
   */
  fallbackReads(): FallbackReadsSnapshot {
    const budget = this.#router.fallbackBudget
    return Object.freeze(
      budget === undefined
        ? { running: 0, maxConcurrent: 'unlimited' as const, refused: 0 }
        : { running: budget.inUse, maxConcurrent: budget.maxConcurrent, refused: budget.refused },
    )
  }

  /**
   * Where a query would go if run now on this instance, with no view: the rule that decides,
   * and the nodes that could serve it. Takes a query builder, a raw `sql` query or a compiled
   * query.
   *
   * ```ts
   * replicationOf(db).explain(sql`select now()`) // { access: 'unknown', reason: 'raw-sql', role: 'primary', … }
   * ```
   */
  explain(query: Compilable | RawBuilder<unknown> | CompiledQuery): RouteExplanation {
    // Classification reads the operation tree only, so a raw `sql` query needs no executor to
    // compile it with.
    const { access, reason, detail } = this.#router.classify({
      query: rootNodeOf(query),
    } as CompiledQuery)
    const available = this.#router.available
    const replica = access === 'read' && available.length > 0
    const candidates = replica
      ? available
      : this.#router.nodes.filter((node) => node.role === 'primary' && node.health.isUp)
    return Object.freeze({
      access,
      reason,
      detail,
      role: replica ? 'replica' : 'primary',
      candidates: Object.freeze(candidates.map((node) => node.name)),
    })
  }
}

/**
 * The {@link Replication} handle of a Kysely instance built with a `ReplicatedDialect` (views
 * and transactions share their instance's handle).
 *
 * ```ts
 * replicationOf(db).on('fallback', ({ from, to }) => metrics.increment('db.fallback', { from, to }))
 * ```
 */
export function replicationOf<DB>(db: Kysely<DB>): Replication {
  return registrationOf(db, 'replicationOf()').driver.replication
}

function rootNodeOf(query: unknown): RootOperationNode {
  if (isCompiledQuery(query)) {
    return query.query
  }
  if (typeof query === 'object' && query !== null) {
    const { isRawBuilder, toOperationNode, compile } = query as {
      isRawBuilder?: unknown
      toOperationNode?: unknown
      compile?: unknown
    }
    // A RawBuilder's compile() needs an executor; its tree is the same without one.
    if (isRawBuilder === true && typeof toOperationNode === 'function') {
      return (query as RawBuilder<unknown>).toOperationNode()
    }
    if (typeof compile === 'function') {
      const compiled: unknown = (query as Compilable).compile()
      if (isCompiledQuery(compiled)) {
        return compiled.query
      }
    }
  }
  throw new InvalidArgumentError(
    'replicationOf(db).explain() takes a query builder (db.selectFrom(…)…, without execute()), ' +
      `a sql\`…\` query or a compiled query (builder.compile()); got ${describeValue(query)}.`,
  )
}

function isCompiledQuery(value: unknown): value is CompiledQuery {
  if (typeof value !== 'object' || value === null) {
    return false
  }
  const { query, sql } = value as { query?: unknown; sql?: unknown }
  return (
    typeof sql === 'string' &&
    typeof query === 'object' &&
    query !== null &&
    typeof (query as { kind?: unknown }).kind === 'string'
  )
}

function snapshot(node: DatabaseNode): NodeStatsSnapshot {
  const { downSince, lastError, isUp } = node.health
  return Object.freeze({
    name: node.name,
    role: node.role,
    zone: node.zone,
    healthy: isUp,
    downSince: downSince === undefined ? undefined : new Date(downSince),
    lastError,
    inFlight: node.stats.inFlight,
    served: node.stats.served,
    errors: node.stats.errors,
    latencyMs: node.stats.latencyMs,
    lagBytes: node.lag?.bytes,
    lagSeconds: node.lag?.seconds,
    lagging: node.lag?.excluded === true,
    hedgesSent: node.stats.hedgesSent,
    hedgesWon: node.stats.hedgesWon,
  })
}

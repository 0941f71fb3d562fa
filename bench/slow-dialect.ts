import { setTimeout as sleep } from 'node:timers/promises'
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely'

/** Options of {@link SlowDialect}. */
export interface SlowDialectOptions {
  /**
   * The extra time, in ms, of one query: called once per query. Timers have a resolution of
   * 1 ms, so whole numbers are what actually happens; 0 adds nothing (not even a tick).
   */
  readonly delayMs: () => number
}

/**
 * Wraps a dialect so that its node looks overloaded from the client: each query the driver's
 * connections run (`executeQuery`, and `streamQuery` before its first chunk) waits `delayMs()`
 * first, while holding its pooled connection as a busy server would. The query then runs on the
 * real server. Transaction statements run through the inner driver as they are, undelayed;
 * savepoints are not offered (the benchmarks run single reads).
 *
 * Only that one node's client is slowed: the server, and every other client of it, are not.
 *
 * ```ts
 * const slow = new SlowDialect(new PostgresDialect({ pool }), {
 *   delayMs: () => (Math.random() < 0.1 ? 20 : 2),
 * })
 * const db = new Kysely<DB>({ dialect: slow }) // every query ≥ 2 ms longer
 * ```
 */
export class SlowDialect implements Dialect {
  readonly #inner: Dialect
  readonly #options: SlowDialectOptions

  constructor(inner: Dialect, options: SlowDialectOptions) {
    this.#inner = inner
    this.#options = Object.freeze({ ...options })
  }

  createDriver(): Driver {
    return new SlowDriver(this.#inner.createDriver(), this.#options.delayMs)
  }

  createQueryCompiler(): QueryCompiler {
    return this.#inner.createQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return this.#inner.createAdapter()
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.#inner.createIntrospector(db)
  }
}

class SlowDriver implements Driver {
  readonly #inner: Driver
  readonly #delayMs: () => number
  // One wrapper per inner connection: pools hand back the same connection objects, so a query
  // allocates no wrapper.
  readonly #wrappers = new WeakMap<DatabaseConnection, SlowConnection>()

  constructor(inner: Driver, delayMs: () => number) {
    this.#inner = inner
    this.#delayMs = delayMs
  }

  init(): Promise<void> {
    return this.#inner.init()
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.#inner.acquireConnection()
    let wrapper = this.#wrappers.get(connection)
    if (wrapper === undefined) {
      wrapper = new SlowConnection(connection, this.#delayMs)
      this.#wrappers.set(connection, wrapper)
    }
    return wrapper
  }

  // The inner driver gets its own connection back: PostgresDriver calls private methods on it.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(unwrap(connection), settings)
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(unwrap(connection))
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(unwrap(connection))
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(unwrap(connection))
  }

  destroy(): Promise<void> {
    return this.#inner.destroy()
  }
}

class SlowConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection
  readonly #delayMs: () => number

  constructor(inner: DatabaseConnection, delayMs: () => number) {
    this.inner = inner
    this.#delayMs = delayMs
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    await this.#delay()
    return this.inner.executeQuery<R>(query)
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    await this.#delay()
    yield* this.inner.streamQuery<R>(query, chunkSize)
  }

  async #delay(): Promise<void> {
    const ms = this.#delayMs()
    if (ms > 0) {
      await sleep(ms)
    }
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof SlowConnection ? connection.inner : connection
}

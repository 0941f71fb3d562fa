import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'

// One shared, frozen empty result: the driver's own cost stays as close to zero as it can, so
// that what is measured above it is Kysely and the routing layer.
const EMPTY: QueryResult<never> = Object.freeze({ rows: Object.freeze([]) as never[] })
const BEGIN = CompiledQuery.raw('begin')
const COMMIT = CompiledQuery.raw('commit')
const ROLLBACK = CompiledQuery.raw('rollback')

/** What an in-memory node was asked to run, to check where a workload's queries went. */
export class QueryCounter {
  #count = 0

  get count(): number {
    return this.#count
  }

  add(): void {
    this.#count++
  }

  reset(): void {
    this.#count = 0
  }
}

/**
 * A PostgreSQL-flavoured dialect (Kysely's own adapter, compiler and introspector) whose driver
 * answers every query with no rows, at once. It stands in for a database so that a benchmark
 * measures the CPU cost of everything between the query builder and the driver.
 *
 * ```ts
 * const db = new Kysely<DB>({ dialect: new InMemoryDialect() })
 * await db.selectFrom('person').selectAll().execute() // [] without any I/O
 * ```
 */
export class InMemoryDialect implements Dialect {
  /** Queries (including `begin`/`commit`) the node ran. */
  readonly counter = new QueryCounter()

  createDriver(): Driver {
    return new InMemoryDriver(this.counter)
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter()
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db)
  }
}

class InMemoryDriver implements Driver {
  // A pool of one: a real pool hands back an idle connection object, it does not build one.
  readonly #connection: InMemoryConnection

  constructor(counter: QueryCounter) {
    this.#connection = new InMemoryConnection(counter)
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection
  }

  // Transactions go through the connection like PostgresDriver's, so that they cost what a
  // real driver's do in Kysely's code.
  async beginTransaction(
    connection: DatabaseConnection,
    _settings: TransactionSettings,
  ): Promise<void> {
    await connection.executeQuery(BEGIN)
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(COMMIT)
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(ROLLBACK)
  }

  async releaseConnection(_connection: DatabaseConnection): Promise<void> {}

  async destroy(): Promise<void> {}
}

class InMemoryConnection implements DatabaseConnection {
  readonly #counter: QueryCounter

  constructor(counter: QueryCounter) {
    this.#counter = counter
  }

  executeQuery<R>(_query: CompiledQuery): Promise<QueryResult<R>> {
    this.#counter.add()
    return Promise.resolve(EMPTY as QueryResult<R>)
  }

  async *streamQuery<R>(_query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    this.#counter.add()
    yield EMPTY as QueryResult<R>
  }
}

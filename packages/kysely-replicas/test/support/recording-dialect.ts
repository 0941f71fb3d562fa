import {
  type CompiledQuery,
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

/** One thing a node was asked to do, in order. */
export interface JournalEntry {
  readonly node: string
  /** Which node connection (numbered per node from 1) did it. */
  readonly connection: number
  readonly sql: string
}

/** What every recording node of a test writes to. */
export class Journal {
  readonly entries: JournalEntry[] = []
  readonly lifecycle: string[] = []
  /** Nodes that refuse connections, as a server that is down does. */
  readonly down = new Set<string>()
  /** Errors that a node's queries fail with, by node. */
  readonly queryErrors = new Map<string, Error>()
  /** Connection attempts, by node (probes included). */
  readonly attempts = new Map<string, number>()
  /** Node connections handed out and not yet released, by node. */
  readonly outstanding = new Map<string, number>()
  /** The rows every stream yields, one chunk each (queries run with execute() return none). */
  readonly streamedRows: unknown[] = []
  /** Nodes whose connection attempts wait for the promise before going on, as a hung server. */
  readonly stalled = new Map<string, Promise<void>>()
  /** Nodes whose queries wait for the promise before answering, as a long query. */
  readonly slow = new Map<string, Promise<void>>()
  /** Queries whose SQL contains the key wait for the promise before answering, on any node. */
  readonly slowSql = new Map<string, Promise<void>>()

  /** The nodes that ran queries whose SQL contains `text`. */
  nodesFor(text: string): string[] {
    return this.entries.filter((entry) => entry.sql.includes(text)).map((entry) => entry.node)
  }

  /** Whether every node connection was given back. */
  get allReleased(): boolean {
    return [...this.outstanding.values()].every((count) => count === 0)
  }

  clear(): void {
    this.entries.length = 0
    this.lifecycle.length = 0
    this.down.clear()
    this.queryErrors.clear()
    this.attempts.clear()
    this.streamedRows.length = 0
    this.stalled.clear()
    this.slow.clear()
    this.slowSql.clear()
  }
}

/**
 * An in-memory PostgreSQL-flavoured dialect that runs nothing and records every statement with
 * the node and connection that got it. For routing unit tests only.
 */
export class RecordingDialect implements Dialect {
  readonly #name: string
  readonly #journal: Journal
  readonly #failOn: 'init' | 'destroy' | undefined

  constructor(name: string, journal: Journal, failOn?: 'init' | 'destroy') {
    this.#name = name
    this.#journal = journal
    this.#failOn = failOn
  }

  createDriver(): Driver {
    return new RecordingDriver(this.#name, this.#journal, this.#failOn)
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

class RecordingDriver implements Driver {
  readonly #name: string
  readonly #journal: Journal
  readonly #failOn: 'init' | 'destroy' | undefined
  #connections = 0
  // Like a pool, the last connection given back is the next one handed out.
  readonly #idle: RecordingConnection[] = []

  constructor(name: string, journal: Journal, failOn: 'init' | 'destroy' | undefined) {
    this.#name = name
    this.#journal = journal
    this.#failOn = failOn
  }

  async init(): Promise<void> {
    this.#journal.lifecycle.push(`init ${this.#name}`)
    if (this.#failOn === 'init') {
      throw new Error(`cannot reach ${this.#name}`)
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#journal.attempts.set(this.#name, (this.#journal.attempts.get(this.#name) ?? 0) + 1)
    await this.#journal.stalled.get(this.#name)
    if (this.#journal.down.has(this.#name)) {
      throw Object.assign(new Error(`connect ECONNREFUSED ${this.#name}`), { code: 'ECONNREFUSED' })
    }
    this.#journal.outstanding.set(this.#name, (this.#journal.outstanding.get(this.#name) ?? 0) + 1)
    return (
      this.#idle.pop() ?? new RecordingConnection(this.#name, ++this.#connections, this.#journal)
    )
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    const mode = settings.accessMode === undefined ? '' : ` ${settings.accessMode}`
    const level =
      settings.isolationLevel === undefined ? '' : ` isolation level ${settings.isolationLevel}`
    record(connection, `begin${level}${mode}`)
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    record(connection, 'commit')
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    record(connection, 'rollback')
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    record(connection, `savepoint ${name}`)
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    record(connection, `rollback to savepoint ${name}`)
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    record(connection, `release savepoint ${name}`)
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    if (connection instanceof RecordingConnection) {
      this.#idle.push(connection)
    }
    this.#journal.outstanding.set(this.#name, (this.#journal.outstanding.get(this.#name) ?? 0) - 1)
  }

  async destroy(): Promise<void> {
    this.#journal.lifecycle.push(`destroy ${this.#name}`)
    if (this.#failOn === 'destroy') {
      throw new Error(`cannot close ${this.#name}`)
    }
  }
}

class RecordingConnection implements DatabaseConnection {
  readonly #node: string
  readonly #id: number
  readonly #journal: Journal

  constructor(node: string, id: number, journal: Journal) {
    this.#node = node
    this.#id = id
    this.#journal = journal
  }

  record(sql: string): void {
    this.#journal.entries.push({ node: this.#node, connection: this.#id, sql })
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.record(query.sql)
    const slow = this.#journal.slow.get(this.#node)
    if (slow !== undefined) {
      await slow
    }
    for (const [text, answered] of this.#journal.slowSql) {
      if (query.sql.includes(text)) {
        await answered
      }
    }
    const error = this.#journal.queryErrors.get(this.#node)
    if (error !== undefined) {
      throw error
    }
    return { rows: [] }
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    this.record(query.sql)
    for (const row of this.#journal.streamedRows) {
      yield { rows: [row as R] }
    }
  }
}

function record(connection: DatabaseConnection, sql: string): void {
  if (!(connection instanceof RecordingConnection)) {
    throw new Error('not a recording connection')
  }
  connection.record(sql)
}

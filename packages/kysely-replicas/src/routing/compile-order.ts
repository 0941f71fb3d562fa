import type { CompiledQuery, QueryId, RootOperationNode } from 'kysely'

// Kysely acquires a connection for a single query only after compiling it, while the queries of
// a `connection()` block are compiled after the block's connection was acquired. Numbering both
// events on one clock tells the two apart without relying on Kysely's call stack.
let clock = 0

/**
 * A compiled query that remembers when it was compiled. A copy (`{ ...query }`) forgets it, like
 * a query compiled elsewhere (see {@link compiledBefore}).
 */
export class TimedCompiledQuery implements CompiledQuery {
  readonly query: RootOperationNode
  readonly queryId: QueryId
  readonly sql: string
  readonly parameters: ReadonlyArray<unknown>
  readonly #compiledAt: number

  constructor(compiled: CompiledQuery) {
    this.query = compiled.query
    this.queryId = compiled.queryId
    this.sql = compiled.sql
    this.parameters = compiled.parameters
    this.#compiledAt = ++clock
  }

  /**
   * Whether the query was compiled before the given tick; `undefined` for a query of unknown
   * time: compiled by another Kysely instance (a `DummyDriver`), by hand, or a copy.
   */
  static compiledBefore(query: CompiledQuery, at: number): boolean | undefined {
    return #compiledAt in query ? query.#compiledAt < at : undefined
  }
}

/** A tick for an event (a connection acquisition) to compare compiled queries with. */
export function tick(): number {
  return ++clock
}

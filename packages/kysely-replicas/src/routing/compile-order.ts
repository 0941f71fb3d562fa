import type { CompiledQuery, QueryId, RootOperationNode } from 'kysely'
import type { ClassifyOptions } from './classify-options.js'
import type { QueryClassification } from './query-classification.js'

// Kysely acquires a connection for a single query only after compiling it, while the queries of
// a `connection()` block are compiled after the block's connection was acquired. Numbering both
// events on one clock tells the two apart without relying on Kysely's call stack.
let clock = 0

/**
 * A compiled query that remembers when it was compiled, and its classification when the
 * compiler found it on the way. A copy (`{ ...query }`) forgets both, like a query compiled
 * elsewhere (see {@link compiledBefore}).
 */
export class TimedCompiledQuery implements CompiledQuery {
  readonly query: RootOperationNode
  readonly queryId: QueryId
  readonly sql: string
  readonly parameters: ReadonlyArray<unknown>
  readonly #compiledAt: number
  readonly #classification: QueryClassification | undefined
  // The options the classification was made with: another dialect's writing functions differ.
  readonly #classifiedWith: ClassifyOptions | undefined

  constructor(
    compiled: CompiledQuery,
    classification?: QueryClassification,
    classifiedWith?: ClassifyOptions,
  ) {
    this.query = compiled.query
    this.queryId = compiled.queryId
    this.sql = compiled.sql
    this.parameters = compiled.parameters
    this.#compiledAt = ++clock
    this.#classification = classification
    this.#classifiedWith = classifiedWith
  }

  /**
   * Whether the query was compiled before the given tick; `undefined` for a query of unknown
   * time: compiled by another Kysely instance (a `DummyDriver`), by hand, or a copy.
   */
  static compiledBefore(query: CompiledQuery, at: number): boolean | undefined {
    return #compiledAt in query ? query.#compiledAt < at : undefined
  }

  /** The classification made while compiling with these options, if there is one. */
  static classificationOf(
    query: CompiledQuery,
    options: ClassifyOptions,
  ): QueryClassification | undefined {
    return #classifiedWith in query && query.#classifiedWith === options
      ? query.#classification
      : undefined
  }
}

/** A tick for an event (a connection acquisition) to compare compiled queries with. */
export function tick(): number {
  return ++clock
}

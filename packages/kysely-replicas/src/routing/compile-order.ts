import type { CompiledQuery, RootOperationNode } from 'kysely'

// Kysely acquires a connection for a single query only after compiling it, while the queries of
// a `connection()` block are compiled after the block's connection was acquired. Numbering both
// events on one clock tells the two apart without relying on Kysely's call stack. The time is
// kept by the query's operation node, which copies of the compiled query (`{ ...compiled }`)
// share.
let clock = 0
const compiledAt = new WeakMap<RootOperationNode, number>()

/** Notes that the query was compiled now. */
export function noteCompiled(query: CompiledQuery): CompiledQuery {
  compiledAt.set(query.query, ++clock)
  return query
}

/**
 * Whether the query was compiled before the given tick; `undefined` for a query this process's
 * replicated compilers never compiled (built with another Kysely instance, or by hand).
 */
export function compiledBefore(query: CompiledQuery, at: number): boolean | undefined {
  const when = compiledAt.get(query.query)
  return when === undefined ? undefined : when < at
}

/** A tick for an event (a connection acquisition) to compare compiled queries with. */
export function tick(): number {
  return ++clock
}

import type { CompiledQuery } from 'kysely'

// Kysely acquires a connection for a single query only after compiling it, while the queries of
// a `connection()` block are compiled after the block's connection was acquired. Numbering both
// events on one clock tells the two apart without relying on Kysely's call stack.
let clock = 0
const compiledAt = new WeakMap<CompiledQuery, number>()

/** Records that a query was compiled now. */
export function noteCompiled(query: CompiledQuery): void {
  compiledAt.set(query, ++clock)
}

/** A tick for an event (a connection acquisition) to compare compiled queries with. */
export function tick(): number {
  return ++clock
}

/** Whether the query was compiled by a replicated dialect before the given tick. */
export function compiledBefore(query: CompiledQuery, at: number): boolean {
  const compiled = compiledAt.get(query)
  return compiled !== undefined && compiled < at
}

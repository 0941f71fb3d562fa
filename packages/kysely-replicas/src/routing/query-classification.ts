/**
 * Where a query may run: `unknown` is a root raw `sql` query, which the caller may still send to
 * a replica.
 *
 * ```ts
 * const access: QueryAccess = replicationOf(db).explain(query).access // 'read' | 'write' | 'unknown'
 * ```
 */
export type QueryAccess = 'read' | 'write' | 'unknown'

/**
 * Why a query got its access:
 *
 * - `select`: a plain read, safe on a hot standby.
 * - `row-lock`: `FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE` or `FOR KEY SHARE` anywhere in it.
 * - `data-modifying-cte`: an `insert`, `update`, `delete` or `merge` inside a `select`.
 * - `writing-function`: a call to a function that writes or cannot run on a hot standby.
 * - `raw-sql`: the whole query is raw `sql`, which is not inspected.
 * - `statement`: any other statement (`insert`, `update`, DDL, …).
 *
 * ```ts
 * const verdict = replicationOf(db).explain(db.selectFrom('person').selectAll().forUpdate())
 * if (verdict.reason === 'row-lock') console.warn(`locks rows (${verdict.detail})`)
 * ```
 */
export type RouteReason =
  | 'select'
  | 'row-lock'
  | 'data-modifying-cte'
  | 'writing-function'
  | 'raw-sql'
  | 'statement'

/**
 * The routing verdict for one query.
 *
 * ```ts
 * const verdict = classifyQuery(db.selectFrom('person').selectAll().forUpdate().toOperationNode(), options)
 * // { access: 'write', reason: 'row-lock', detail: 'for update' }
 * ```
 */
export interface QueryClassification {
  /** Whether the query reads, writes, or is raw SQL the router does not inspect. */
  readonly access: QueryAccess
  /** The rule that decided. */
  readonly reason: RouteReason
  /** What triggered it: the function name, the lock strength, the node kind… for explanations and errors. */
  readonly detail?: string
}

/**
 * A frozen `write` verdict. Callers keep the ones they return often in constants so that
 * classifying allocates nothing.
 *
 * ```ts
 * const FOR_SHARE = writeBecause('row-lock', 'for share')
 * ```
 */
export function writeBecause(reason: RouteReason, detail: string): QueryClassification {
  return Object.freeze({ access: 'write', reason, detail })
}

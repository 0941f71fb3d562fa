import type { RootOperationNode, SelectQueryNode } from 'kysely'
import type { ClassifyOptions } from './classify-options.js'
import { findWriteHazard } from './find-write-hazard.js'
import { type QueryClassification, writeBecause } from './query-classification.js'

export { type ClassifyOptions, createClassifyOptions } from './classify-options.js'
export type { QueryAccess, QueryClassification, RouteReason } from './query-classification.js'

const READ: QueryClassification = Object.freeze({ access: 'read', reason: 'select' })
const RAW_SQL: QueryClassification = Object.freeze({ access: 'unknown', reason: 'raw-sql' })
const INSPECT_SELECT = 'inspect-select'

type RootKind = RootOperationNode['kind']

/**
 * Root kinds that Kysely versions inside the peer range add over the one we build against
 * (0.29 adds `AlterTypeNode`). Optional here, required by the build against the version that has
 * them, so one table serves the whole range.
 */
type NewerRootKind = 'AlterTypeNode'

type RootRoute = QueryClassification | typeof INSPECT_SELECT

// Exhaustive over Kysely's root kinds: a version that adds one fails the build here instead of
// routing the new statement somewhere by accident.
const ROOT_ROUTES = Object.freeze({
  SelectQueryNode: INSPECT_SELECT,
  RawNode: RAW_SQL,
  InsertQueryNode: writeBecause('statement', 'InsertQueryNode'),
  UpdateQueryNode: writeBecause('statement', 'UpdateQueryNode'),
  DeleteQueryNode: writeBecause('statement', 'DeleteQueryNode'),
  MergeQueryNode: writeBecause('statement', 'MergeQueryNode'),
  CreateTableNode: writeBecause('statement', 'CreateTableNode'),
  CreateIndexNode: writeBecause('statement', 'CreateIndexNode'),
  CreateSchemaNode: writeBecause('statement', 'CreateSchemaNode'),
  CreateViewNode: writeBecause('statement', 'CreateViewNode'),
  CreateTypeNode: writeBecause('statement', 'CreateTypeNode'),
  RefreshMaterializedViewNode: writeBecause('statement', 'RefreshMaterializedViewNode'),
  DropTableNode: writeBecause('statement', 'DropTableNode'),
  DropIndexNode: writeBecause('statement', 'DropIndexNode'),
  DropSchemaNode: writeBecause('statement', 'DropSchemaNode'),
  DropViewNode: writeBecause('statement', 'DropViewNode'),
  DropTypeNode: writeBecause('statement', 'DropTypeNode'),
  AlterTableNode: writeBecause('statement', 'AlterTableNode'),
  AlterTypeNode: writeBecause('statement', 'AlterTypeNode'),
} satisfies { readonly [K in RootKind]: RootRoute } & { readonly [K in NewerRootKind]?: RootRoute })

// Read through an index signature: at run time a Kysely newer than the build may hand us a kind
// the table does not have.
const routes: { readonly [kind: string]: RootRoute | undefined } = ROOT_ROUTES

/**
 * Decides whether a compiled query may run on a hot-standby replica.
 *
 * A `select` is a `read` unless its tree holds a row lock, a data-modifying query (in a CTE at
 * any depth or in a subquery) or a call to one of `options.writingFunctions`; raw `sql`
 * fragments inside it are scanned for the same three things. A root raw `sql` query is
 * `unknown`: it is not inspected, and the caller may send it to a replica explicitly. Every
 * other statement is a `write`. Common verdicts are shared frozen objects, so a plain select
 * allocates nothing.
 *
 * ```ts
 * const options = createClassifyOptions()
 * classifyQuery(db.selectFrom('person').selectAll().compile().query, options)
 * // { access: 'read', reason: 'select' }
 * classifyQuery(db.deleteFrom('person').compile().query, options)
 * // { access: 'write', reason: 'statement', detail: 'DeleteQueryNode' }
 * ```
 */
export function classifyQuery(
  node: RootOperationNode,
  options: ClassifyOptions,
): QueryClassification {
  const hazard =
    routes[node.kind] === INSPECT_SELECT
      ? findWriteHazard(node as SelectQueryNode, options)
      : undefined
  return classifyCompiled(node, hazard)
}

/**
 * {@link classifyQuery} for a query whose select hazard, if any, is known already: found by a
 * `ClassifyingCompiler` while it compiled the query.
 *
 * ```ts
 * compiler.compileQuery(node, queryId)
 * classifyCompiled(node, compiler.hazard) // { access: 'read', reason: 'select' }
 * ```
 */
export function classifyCompiled(
  node: RootOperationNode,
  hazard: QueryClassification | undefined,
): QueryClassification {
  const route = routes[node.kind]
  if (route === INSPECT_SELECT) {
    return hazard ?? READ
  }
  return route ?? writeBecause('statement', node.kind)
}

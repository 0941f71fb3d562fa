import {
  type AggregateFunctionNode,
  type CompiledQuery,
  type DefaultQueryCompiler,
  type DeleteQueryNode,
  type FunctionNode,
  type InsertQueryNode,
  type MergeQueryNode,
  MssqlQueryCompiler,
  MysqlQueryCompiler,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryId,
  type RawNode,
  type RootOperationNode,
  type SelectModifierNode,
  SqliteQueryCompiler,
  type UpdateQueryNode,
} from 'kysely'
import type { ClassifyOptions } from './classify-options.js'
import {
  type DataModifyingNode,
  dataModifyingHazard,
  functionHazard,
  rowLockHazard,
} from './find-write-hazard.js'
import type { QueryClassification } from './query-classification.js'
import { findRawFragmentHazard } from './raw-fragment-hazard.js'

/**
 * A query compiler that also finds, while it compiles a select, what `findWriteHazard` would
 * find by walking its tree: the compiler visits every node anyway, so the walk costs nothing more.
 */
export interface ClassifyingCompiler extends QueryCompiler {
  /** The hazard of the last select compiled (`undefined`: none, or not a select). */
  readonly hazard: QueryClassification | undefined
}

type BuiltInCompiler = typeof DefaultQueryCompiler

// Only Kysely's own compilers: they reach every node through `visitNode`, which dispatches to the
// methods overridden below. A user's subclass might emit a function call by other means, and a
// missed hazard would send a write to a replica, so its queries are walked instead.
const BUILT_IN: ReadonlySet<unknown> = new Set<BuiltInCompiler>([
  PostgresQueryCompiler,
  MysqlQueryCompiler,
  SqliteQueryCompiler,
  MssqlQueryCompiler,
])

const classes = new Map<BuiltInCompiler, new (options: ClassifyOptions) => ClassifyingCompiler>()

/**
 * A classifying copy of a dialect's compiler, or `undefined` when it is not one of Kysely's own
 * (or comes from another copy of Kysely): then the caller walks each select's tree instead.
 *
 * ```ts
 * const compiler = createClassifyingCompiler(new PostgresQueryCompiler(), createClassifyOptions())
 * compiler?.compileQuery(db.selectFrom('person').selectAll().forUpdate().toOperationNode(), id)
 * compiler?.hazard // { access: 'write', reason: 'row-lock', detail: 'for update' }
 * ```
 */
export function createClassifyingCompiler(
  compiler: QueryCompiler,
  options: ClassifyOptions,
): ClassifyingCompiler | undefined {
  const base = compiler.constructor
  if (!BUILT_IN.has(base)) {
    return undefined
  }
  let Classifying = classes.get(base as BuiltInCompiler)
  if (Classifying === undefined) {
    Classifying = classifyingSubclass(base as BuiltInCompiler)
    classes.set(base as BuiltInCompiler, Classifying)
  }
  return new Classifying(options)
}

function classifyingSubclass(
  Base: BuiltInCompiler,
): new (
  options: ClassifyOptions,
) => ClassifyingCompiler {
  return class extends Base implements ClassifyingCompiler {
    readonly #options: ClassifyOptions
    #hazard: QueryClassification | undefined
    // Only selects are classified by their contents: the rest is skipped at no cost.
    #inspecting = false

    constructor(options: ClassifyOptions) {
      super()
      this.#options = options
    }

    get hazard(): QueryClassification | undefined {
      return this.#hazard
    }

    override compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
      this.#hazard = undefined
      this.#inspecting = node.kind === 'SelectQueryNode'
      try {
        return super.compileQuery(node, queryId)
      } finally {
        this.#inspecting = false
      }
    }

    #note(hazard: QueryClassification | undefined): void {
      this.#hazard ??= hazard
    }

    protected override visitSelectModifier(node: SelectModifierNode): void {
      if (this.#inspecting) {
        this.#note(rowLockHazard(node))
      }
      super.visitSelectModifier(node)
    }

    protected override visitFunction(node: FunctionNode): void {
      if (this.#inspecting) {
        this.#note(functionHazard(node.func, node.arguments, this.#options))
      }
      super.visitFunction(node)
    }

    protected override visitAggregateFunction(node: AggregateFunctionNode): void {
      if (this.#inspecting) {
        this.#note(functionHazard(node.func, node.aggregated, this.#options))
      }
      super.visitAggregateFunction(node)
    }

    // A raw node's text is read with the raw nodes among its parameters, as one text.
    protected override visitRaw(node: RawNode): void {
      if (this.#inspecting && this.#hazard === undefined && this.parentNode?.kind !== 'RawNode') {
        this.#note(findRawFragmentHazard(node, this.#options))
      }
      super.visitRaw(node)
    }

    protected override visitInsertQuery(node: InsertQueryNode): void {
      this.#noteDataModifying(node)
      super.visitInsertQuery(node)
    }

    protected override visitUpdateQuery(node: UpdateQueryNode): void {
      this.#noteDataModifying(node)
      super.visitUpdateQuery(node)
    }

    protected override visitDeleteQuery(node: DeleteQueryNode): void {
      this.#noteDataModifying(node)
      super.visitDeleteQuery(node)
    }

    protected override visitMergeQuery(node: MergeQueryNode): void {
      this.#noteDataModifying(node)
      super.visitMergeQuery(node)
    }

    #noteDataModifying(node: DataModifyingNode): void {
      if (this.#inspecting) {
        this.#note(dataModifyingHazard(node))
      }
    }
  }
}

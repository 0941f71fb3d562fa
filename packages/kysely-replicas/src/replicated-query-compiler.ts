import type { CompiledQuery, QueryCompiler, QueryId, RootOperationNode } from 'kysely'
import { TimedCompiledQuery } from './routing/compile-order.js'

/** The primary dialect's compiler, noting when each query was compiled (see compile-order). */
export class ReplicatedQueryCompiler implements QueryCompiler {
  readonly #compiler: QueryCompiler

  constructor(compiler: QueryCompiler) {
    this.#compiler = compiler
  }

  compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
    return new TimedCompiledQuery(this.#compiler.compileQuery(node, queryId))
  }
}

import type { CompiledQuery, QueryCompiler, QueryId, RootOperationNode } from 'kysely'
import type { ClassifyOptions } from './routing/classify-options.js'
import { classifyCompiled } from './routing/classify-query.js'
import {
  type ClassifyingCompiler,
  createClassifyingCompiler,
} from './routing/classifying-compiler.js'
import { TimedCompiledQuery } from './routing/compile-order.js'

/**
 * The primary dialect's compiler, noting when each query was compiled (see compile-order) and,
 * when the compiler is one of Kysely's own, classifying it on the way (see classifying-compiler).
 */
export class ReplicatedQueryCompiler implements QueryCompiler {
  readonly #compiler: QueryCompiler
  readonly #classifying: ClassifyingCompiler | undefined
  readonly #options: ClassifyOptions

  constructor(compiler: QueryCompiler, options: ClassifyOptions) {
    this.#classifying = createClassifyingCompiler(compiler, options)
    this.#compiler = this.#classifying ?? compiler
    this.#options = options
  }

  compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
    const compiled = this.#compiler.compileQuery(node, queryId)
    const classifying = this.#classifying
    return classifying === undefined
      ? new TimedCompiledQuery(compiled)
      : new TimedCompiledQuery(compiled, classifyCompiled(node, classifying.hazard), this.#options)
  }
}

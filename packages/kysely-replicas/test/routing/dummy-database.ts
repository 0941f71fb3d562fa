import {
  createQueryId,
  DummyDriver,
  type Generated,
  Kysely,
  type KyselyPlugin,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RootOperationNode,
} from 'kysely'
import { expect } from 'vitest'
import {
  type ClassifyOptions,
  classifyCompiled,
  classifyQuery,
  createClassifyOptions,
  type QueryClassification,
} from '../../src/routing/classify-query.js'
import { createClassifyingCompiler } from '../../src/routing/classifying-compiler.js'

export interface Database {
  person: { id: Generated<number>; first_name: string; age: number }
  pet: { id: Generated<number>; owner_id: number; name: string }
}

/**
 * Classification needs only compiled queries, never a server: a real `Kysely` over PostgreSQL's
 * adapter and compiler builds exactly the nodes the dialect will see, and the dummy driver runs
 * nothing.
 */
export const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (kysely) => new PostgresIntrospector(kysely),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

/** The options the dialect builds by default: PostgreSQL's writing functions, nothing more. */
export const defaultOptions = createClassifyOptions()

/**
 * Classifies a builder's compiled query twice: by walking its tree, and while compiling it with
 * a classifying compiler (what the dialect does with Kysely's own compilers). Both must agree.
 */
export function classify(
  query: { compile(): { query: RootOperationNode } },
  options: ClassifyOptions = defaultOptions,
): QueryClassification {
  const node = query.compile().query
  const walked = classifyQuery(node, options)
  expect(classifyWhileCompiling(node, options), 'the classifying compiler disagrees').toEqual(
    walked,
  )
  return walked
}

/** The classification a classifying `PostgresQueryCompiler` finds while compiling the node. */
export function classifyWhileCompiling(
  node: RootOperationNode,
  options: ClassifyOptions = defaultOptions,
): QueryClassification {
  const compiler = createClassifyingCompiler(new PostgresQueryCompiler(), options)
  if (compiler === undefined) {
    throw new Error('PostgresQueryCompiler must get a classifying compiler')
  }
  compiler.compileQuery(node, createQueryId())
  return classifyCompiled(node, compiler.hazard)
}

/** The expected verdicts, by reason. */
export const rowLock = (detail: string) => ({ access: 'write', reason: 'row-lock', detail })
export const writingFunction = (detail: string) => ({
  access: 'write',
  reason: 'writing-function',
  detail,
})
export const dataModifying = (detail: string) => ({
  access: 'write',
  reason: 'data-modifying-cte',
  detail,
})

/** A plugin that keeps the root node of every query Kysely runs, for methods like `explain()` that execute at once. */
export class RootNodeRecorder implements KyselyPlugin {
  readonly nodes: RootOperationNode[] = []

  transformQuery({ node }: { node: RootOperationNode }): RootOperationNode {
    this.nodes.push(node)
    return node
  }

  async transformResult<R>({ result }: { result: R }): Promise<R> {
    return result
  }
}

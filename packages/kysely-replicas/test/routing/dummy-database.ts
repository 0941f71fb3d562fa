import {
  DummyDriver,
  type Generated,
  Kysely,
  type KyselyPlugin,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RootOperationNode,
} from 'kysely'
import {
  type ClassifyOptions,
  classifyQuery,
  createClassifyOptions,
  type QueryClassification,
} from '../../src/routing/classify-query.js'

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

/** Classifies a builder's compiled query. */
export function classify(
  query: { compile(): { query: RootOperationNode } },
  options: ClassifyOptions = defaultOptions,
): QueryClassification {
  return classifyQuery(query.compile().query, options)
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

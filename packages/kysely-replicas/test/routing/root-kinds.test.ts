import { CompiledQuery, type RootOperationNode, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import {
  classifyCompiled,
  classifyQuery,
  type QueryClassification,
} from '../../src/routing/classify-query.js'
import { db, defaultOptions } from './dummy-database.js'

type RootKind = RootOperationNode['kind']

const statement = (detail: string): QueryClassification => ({
  access: 'write',
  reason: 'statement',
  detail,
})

// Exhaustive like the router's own table: a Kysely that adds a root kind fails this file's
// typecheck until the new kind has a real node and an expected route here. `AlterTypeNode` is
// Kysely 0.29's; it does not exist in 0.28, so its node is made by hand.
const cases = {
  SelectQueryNode: [
    () => db.selectFrom('person').selectAll().compile().query,
    { access: 'read', reason: 'select' },
  ],
  RawNode: [() => sql`select 1`.compile(db).query, { access: 'unknown', reason: 'raw-sql' }],
  InsertQueryNode: [
    () => db.insertInto('person').values({ first_name: 'a', age: 1 }).compile().query,
    statement('InsertQueryNode'),
  ],
  UpdateQueryNode: [
    () => db.updateTable('person').set({ age: 2 }).compile().query,
    statement('UpdateQueryNode'),
  ],
  DeleteQueryNode: [() => db.deleteFrom('person').compile().query, statement('DeleteQueryNode')],
  MergeQueryNode: [
    () =>
      db
        .mergeInto('person')
        .using('pet', 'pet.owner_id', 'person.id')
        .whenMatched()
        .thenDelete()
        .compile().query,
    statement('MergeQueryNode'),
  ],
  CreateTableNode: [
    () => db.schema.createTable('t').addColumn('id', 'integer').compile().query,
    statement('CreateTableNode'),
  ],
  CreateIndexNode: [
    () => db.schema.createIndex('i').on('person').column('age').compile().query,
    statement('CreateIndexNode'),
  ],
  CreateSchemaNode: [
    () => db.schema.createSchema('s').compile().query,
    statement('CreateSchemaNode'),
  ],
  CreateViewNode: [
    () => db.schema.createView('v').as(db.selectFrom('person').selectAll()).compile().query,
    statement('CreateViewNode'),
  ],
  CreateTypeNode: [
    () => db.schema.createType('mood').asEnum(['happy']).compile().query,
    statement('CreateTypeNode'),
  ],
  RefreshMaterializedViewNode: [
    () => db.schema.refreshMaterializedView('mv').compile().query,
    statement('RefreshMaterializedViewNode'),
  ],
  DropTableNode: [() => db.schema.dropTable('t').compile().query, statement('DropTableNode')],
  DropIndexNode: [() => db.schema.dropIndex('i').compile().query, statement('DropIndexNode')],
  DropSchemaNode: [() => db.schema.dropSchema('s').compile().query, statement('DropSchemaNode')],
  DropViewNode: [() => db.schema.dropView('v').compile().query, statement('DropViewNode')],
  DropTypeNode: [() => db.schema.dropType('mood').compile().query, statement('DropTypeNode')],
  AlterTableNode: [
    () => db.schema.alterTable('person').addColumn('nickname', 'text').compile().query,
    statement('AlterTableNode'),
  ],
  AlterTypeNode: [
    () => ({ kind: 'AlterTypeNode' }) as unknown as RootOperationNode,
    statement('AlterTypeNode'),
  ],
} satisfies { readonly [K in RootKind]: Case } & { readonly AlterTypeNode?: Case }

type Case = readonly [build: () => RootOperationNode, expected: QueryClassification]

describe('root node kinds', () => {
  it.each(Object.entries(cases))('routes %s', (kind, [build, expected]) => {
    const node = build()
    expect(node.kind).toBe(kind)
    expect(classifyQuery(node, defaultOptions)).toEqual(expected)
  })

  it('routes a raw compiled query as raw sql, without looking inside', () => {
    const query = CompiledQuery.raw('select * from person for update')
    expect(classifyQuery(query.query, defaultOptions)).toEqual({
      access: 'unknown',
      reason: 'raw-sql',
    })
  })

  it('sends a root kind it does not know to the primary', () => {
    const node = { kind: 'FutureStatementNode' } as unknown as RootOperationNode
    expect(classifyQuery(node, defaultOptions)).toEqual(statement('FutureStatementNode'))
    // The same once compiled by a classifying compiler, which found no select hazard in it.
    expect(classifyCompiled(node, undefined)).toEqual(statement('FutureStatementNode'))
  })

  it('returns shared frozen verdicts, so a plain select allocates nothing', () => {
    const first = classifyQuery(db.selectFrom('person').selectAll().compile().query, defaultOptions)
    const second = classifyQuery(
      db.selectFrom('pet').select('name').where('id', '=', 1).compile().query,
      defaultOptions,
    )
    expect(second).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    const insert = cases.InsertQueryNode[0]()
    expect(classifyQuery(insert, defaultOptions)).toBe(classifyQuery(insert, defaultOptions))
    expect(Object.isFrozen(classifyQuery(insert, defaultOptions))).toBe(true)
  })
})

import { CamelCasePlugin, type CompiledQuery, type QueryCreator } from 'kysely'
import { describe, expect, it } from 'vitest'
import { classifyQuery, type QueryClassification } from '../../src/routing/classify-query.js'
import { type Database, db, defaultOptions, RootNodeRecorder } from './dummy-database.js'

const READ: QueryClassification = { access: 'read', reason: 'select' }
const statement = (detail: string): QueryClassification => ({
  access: 'write',
  reason: 'statement',
  detail,
})

interface Case {
  readonly name: string
  readonly build: () => { compile(): CompiledQuery }
  readonly expected: QueryClassification
}

// Every member of `QueryCreator`, the surface `db`, `trx` and CTE callbacks share. A Kysely that
// adds a method fails this file's typecheck until the method is listed with what it should route
// to. The `with…` members return another `QueryCreator`, so their cases build a query through it.
const cases = {
  selectFrom: [
    { name: 'a select', build: () => db.selectFrom('person').selectAll(), expected: READ },
  ],
  selectNoFrom: [
    {
      name: 'a select without from',
      build: () => db.selectNoFrom((eb) => eb.val(1).as('one')),
      expected: READ,
    },
  ],
  insertInto: [
    {
      name: 'an insert',
      build: () => db.insertInto('person').values({ first_name: 'a', age: 1 }),
      expected: statement('InsertQueryNode'),
    },
  ],
  replaceInto: [
    {
      name: 'a replace (MySQL syntax, still an insert node)',
      build: () => db.replaceInto('person').values({ first_name: 'a', age: 1 }),
      expected: statement('InsertQueryNode'),
    },
  ],
  updateTable: [
    {
      name: 'an update',
      build: () => db.updateTable('person').set({ age: 2 }).where('id', '=', 1),
      expected: statement('UpdateQueryNode'),
    },
  ],
  deleteFrom: [
    {
      name: 'a delete',
      build: () => db.deleteFrom('person').where('id', '=', 1),
      expected: statement('DeleteQueryNode'),
    },
  ],
  mergeInto: [
    {
      name: 'a merge',
      build: () =>
        db
          .mergeInto('person')
          .using('pet', 'pet.owner_id', 'person.id')
          .whenMatched()
          .thenUpdateSet({ age: 3 }),
      expected: statement('MergeQueryNode'),
    },
  ],
  with: [
    {
      name: 'a select with a read-only CTE',
      build: () =>
        db
          .with('adults', (qb) => qb.selectFrom('person').selectAll().where('age', '>=', 18))
          .selectFrom('adults')
          .selectAll(),
      expected: READ,
    },
    {
      name: 'a select with a data-modifying CTE',
      build: () =>
        db
          .with('removed', (qb) => qb.deleteFrom('pet').returning('id'))
          .selectFrom('removed')
          .selectAll(),
      expected: { access: 'write', reason: 'data-modifying-cte', detail: 'DeleteQueryNode' },
    },
    {
      name: 'an insert fed by a CTE',
      build: () =>
        db
          .with('adults', (qb) => qb.selectFrom('person').select(['first_name', 'age']))
          .insertInto('person')
          .columns(['first_name', 'age'])
          .expression((eb) => eb.selectFrom('adults').select(['first_name', 'age'])),
      expected: statement('InsertQueryNode'),
    },
  ],
  withRecursive: [
    {
      name: 'a recursive select',
      build: () =>
        db
          .withRecursive('numbers(n)', (qb) =>
            qb
              .selectNoFrom((eb) => eb.val(1).as('n'))
              .unionAll((eb) => eb.selectFrom('numbers').select((eb) => eb('n', '+', 1).as('n'))),
          )
          .selectFrom('numbers')
          .selectAll(),
      expected: READ,
    },
  ],
  withSchema: [
    {
      name: 'a select in another schema',
      build: () => db.withSchema('archive').selectFrom('person').selectAll(),
      expected: READ,
    },
    {
      name: 'an update in another schema',
      build: () => db.withSchema('archive').updateTable('person').set({ age: 1 }),
      expected: statement('UpdateQueryNode'),
    },
    {
      name: 'a select calling nextval in another schema',
      build: () =>
        db.withSchema('archive').selectNoFrom((eb) => eb.fn('nextval', [eb.val('s')]).as('id')),
      expected: { access: 'write', reason: 'writing-function', detail: 'nextval' },
    },
  ],
  withPlugin: [
    {
      name: 'a select through a plugin',
      build: () => db.withPlugin(new CamelCasePlugin()).selectFrom('person').selectAll(),
      expected: READ,
    },
  ],
  withoutPlugins: [
    {
      name: 'a delete without plugins',
      build: () => db.withoutPlugins().deleteFrom('pet'),
      expected: statement('DeleteQueryNode'),
    },
  ],
} satisfies { readonly [K in keyof QueryCreator<Database>]: readonly Case[] }

describe('every QueryCreator method', () => {
  const all = Object.entries(cases).flatMap(([method, list]) =>
    list.map((entry: Case) => [method, entry.name, entry] as const),
  )

  it.each(all)('%s: routes %s', (_method, _name, { build, expected }) => {
    expect(classifyQuery(build().compile().query, defaultOptions)).toEqual(expected)
  })
})

describe('explain', () => {
  it('keeps explain of a select a read and explain of an insert a write', async () => {
    const recorder = new RootNodeRecorder()
    const recorded = db.withPlugin(recorder)
    await recorded.selectFrom('person').selectAll().explain('json')
    await recorded.insertInto('person').values({ first_name: 'a', age: 1 }).explain()

    const [select, insert] = recorder.nodes
    expect(select).toMatchObject({ kind: 'SelectQueryNode', explain: { kind: 'ExplainNode' } })
    expect(insert).toMatchObject({ kind: 'InsertQueryNode', explain: { kind: 'ExplainNode' } })
    expect(select && classifyQuery(select, defaultOptions)).toEqual(READ)
    expect(insert && classifyQuery(insert, defaultOptions)).toEqual(statement('InsertQueryNode'))
  })
})

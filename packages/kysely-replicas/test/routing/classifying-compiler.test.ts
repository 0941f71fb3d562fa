import {
  CompiledQuery,
  createQueryId,
  MssqlQueryCompiler,
  MysqlQueryCompiler,
  PostgresQueryCompiler,
  type RootOperationNode,
  SqliteQueryCompiler,
  sql,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import {
  createClassifyOptions,
  type QueryClassification,
} from '../../src/routing/classify-query.js'
import { createClassifyingCompiler } from '../../src/routing/classifying-compiler.js'
import { TimedCompiledQuery } from '../../src/routing/compile-order.js'
import { db, defaultOptions, rowLock, writingFunction } from './dummy-database.js'

const forUpdate = () => db.selectFrom('person').selectAll().forUpdate().toOperationNode()
const plain = () => db.selectFrom('person').selectAll().where('id', '=', 1).toOperationNode()

function compileWith(
  compiler: ReturnType<typeof createClassifyingCompiler>,
  node: RootOperationNode,
) {
  if (compiler === undefined) {
    throw new Error('expected a classifying compiler')
  }
  const compiled = compiler.compileQuery(node, createQueryId())
  return { compiled, hazard: compiler.hazard }
}

describe('createClassifyingCompiler', () => {
  it.each([
    ['PostgresQueryCompiler', () => new PostgresQueryCompiler()],
    ['MysqlQueryCompiler', () => new MysqlQueryCompiler()],
    ['SqliteQueryCompiler', () => new SqliteQueryCompiler()],
    ['MssqlQueryCompiler', () => new MssqlQueryCompiler()],
  ])('classifies while compiling with Kysely’s %s, emitting the same SQL', (_name, create) => {
    const classifying = createClassifyingCompiler(create(), defaultOptions)
    const { compiled, hazard } = compileWith(classifying, forUpdate())
    expect(hazard).toEqual(rowLock('for update'))
    const reference = create().compileQuery(forUpdate(), createQueryId())
    expect(compiled.sql).toBe(reference.sql)
    expect(compiled.parameters).toEqual(reference.parameters)
  })

  it('refuses a subclass or a foreign compiler: their queries are walked instead', () => {
    class CustomCompiler extends PostgresQueryCompiler {}
    expect(createClassifyingCompiler(new CustomCompiler(), defaultOptions)).toBeUndefined()
    const foreign = { compileQuery: () => CompiledQuery.raw('select 1') }
    expect(
      createClassifyingCompiler(foreign as unknown as PostgresQueryCompiler, defaultOptions),
    ).toBeUndefined()
  })

  it('starts every query afresh', () => {
    const classifying = createClassifyingCompiler(new PostgresQueryCompiler(), defaultOptions)
    expect(compileWith(classifying, forUpdate()).hazard).toEqual(rowLock('for update'))
    expect(compileWith(classifying, plain()).hazard).toBeUndefined()
  })

  it('leaves statements other than selects uninspected (their route does not depend on it)', () => {
    const classifying = createClassifyingCompiler(new PostgresQueryCompiler(), defaultOptions)
    const insert = db
      .insertInto('person')
      .values({ first_name: sql<string>`nextval('s')::text`, age: 1 })
      .toOperationNode()
    expect(compileWith(classifying, insert).hazard).toBeUndefined()
    const select = db
      .selectFrom('person')
      .select(sql<string>`nextval('s')`.as('n'))
      .toOperationNode()
    expect(compileWith(classifying, select).hazard).toEqual(writingFunction('nextval'))
  })

  it('uses the options it was made with', () => {
    const options = createClassifyOptions(['app.charge'])
    const classifying = createClassifyingCompiler(new PostgresQueryCompiler(), options)
    const node = db
      .selectFrom('person')
      .select((eb) => eb.fn('app.charge', []).as('c'))
      .toOperationNode()
    expect(compileWith(classifying, node).hazard).toEqual(writingFunction('app.charge'))
  })
})

describe('TimedCompiledQuery.classificationOf', () => {
  const compiled = new PostgresQueryCompiler().compileQuery(plain(), createQueryId())
  const verdict: QueryClassification = { access: 'write', reason: 'row-lock', detail: 'for update' }

  it('gives the classification back only for the options it was made with', () => {
    const timed = new TimedCompiledQuery(compiled, verdict, defaultOptions)
    expect(TimedCompiledQuery.classificationOf(timed, defaultOptions)).toBe(verdict)
    expect(TimedCompiledQuery.classificationOf(timed, createClassifyOptions())).toBeUndefined()
  })

  it('has none for a query compiled without one, or for a copy', () => {
    expect(
      TimedCompiledQuery.classificationOf(new TimedCompiledQuery(compiled), defaultOptions),
    ).toBeUndefined()
    const timed = new TimedCompiledQuery(compiled, verdict, defaultOptions)
    expect(TimedCompiledQuery.classificationOf({ ...timed }, defaultOptions)).toBeUndefined()
  })
})

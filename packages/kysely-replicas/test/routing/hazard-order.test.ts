import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { classify, db, rowLock, writingFunction } from './dummy-database.js'

// A select with several hazards is reported by the first one in the order its SQL reads, whoever
// finds it: the classifying compiler (Kysely's own compilers) or the walk of the tree (any other
// compiler). `classify` checks that both agree; the build order of the query changes nothing.
describe('a select with several hazards', () => {
  const call = (name: string) => sql<number>`${sql.raw(name)}('s')`

  it('names the distinct on before the selections', () => {
    const query = db.selectFrom('person').select(call('setval').as('s')).distinctOn(call('nextval'))
    expect(classify(query)).toEqual(writingFunction('nextval'))
  })

  it('names a front modifier before the selections', () => {
    const query = db
      .selectFrom('person')
      .select(call('setval').as('s'))
      .modifyFront(sql`nextval('s') as`)
    expect(classify(query)).toEqual(writingFunction('nextval'))
  })

  it('names the selections before the where clause, whatever was built first', () => {
    const query = db
      .selectFrom('person')
      .selectAll()
      .where((eb) => eb('id', '=', call('nextval')))
      .select(call('setval').as('s'))
    expect(classify(query)).toEqual(writingFunction('setval'))
  })

  it('names a union member before the order by', () => {
    const query = db
      .selectFrom('person')
      .select('id')
      .orderBy(call('nextval'))
      .union(db.selectFrom('pet').select('owner_id as id').forShare())
    expect(classify(query)).toEqual(rowLock('for share'))
  })

  it('names the limit and offset before the row lock that ends the query', () => {
    const limited = db.selectFrom('person').selectAll().forUpdate().limit(call('nextval'))
    expect(classify(limited)).toEqual(writingFunction('nextval'))
    const offset = db.selectFrom('person').selectAll().forUpdate().offset(call('setval'))
    expect(classify(offset)).toEqual(writingFunction('setval'))
  })

  it('names the partition of a window before its order', () => {
    // Kysely's types take only columns to partition by; SQL takes any expression, and so does
    // the builder at run time.
    const partition = call('nextval') as unknown as 'person.id'
    const query = db.selectFrom('person').select((eb) =>
      eb.fn
        .countAll()
        .over((over) => over.orderBy(call('setval')).partitionBy(partition))
        .as('n'),
    )
    expect(classify(query)).toEqual(writingFunction('nextval'))
  })
})

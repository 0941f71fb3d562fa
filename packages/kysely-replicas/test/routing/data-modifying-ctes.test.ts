import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { classify, dataModifying, db } from './dummy-database.js'

describe('data-modifying queries inside a select', () => {
  it('finds an insert in a CTE', () => {
    const query = db
      .with('inserted', (qb) =>
        qb.insertInto('person').values({ first_name: 'a', age: 1 }).returning('id'),
      )
      .selectFrom('inserted')
      .selectAll()
    expect(classify(query)).toEqual(dataModifying('InsertQueryNode'))
  })

  it('finds an update and a delete in the second CTE, after a read-only one', () => {
    const update = db
      .with('adults', (qb) => qb.selectFrom('person').select('id').where('age', '>=', 18))
      .with('renamed', (qb) => qb.updateTable('pet').set({ name: 'x' }).returning('id'))
      .selectFrom('renamed')
      .selectAll()
    expect(classify(update)).toEqual(dataModifying('UpdateQueryNode'))

    const remove = db
      .with('adults', (qb) => qb.selectFrom('person').select('id'))
      .with('removed', (qb) => qb.deleteFrom('pet').returning('id'))
      .selectFrom('removed')
      .selectAll()
    expect(classify(remove)).toEqual(dataModifying('DeleteQueryNode'))
  })

  it('finds a data-modifying CTE nested in a CTE', () => {
    const query = db
      .with('outer', (qb) =>
        qb
          .with('inner', (inner) => inner.deleteFrom('pet').returning('owner_id'))
          .selectFrom('inner')
          .select('owner_id'),
      )
      .selectFrom('outer')
      .selectAll()
    expect(classify(query)).toEqual(dataModifying('DeleteQueryNode'))
  })

  it('finds a data-modifying CTE of a subquery in the where clause', () => {
    const query = db
      .selectFrom('person')
      .selectAll()
      .where(
        'id',
        'in',
        db
          .with('removed', (qb) => qb.deleteFrom('pet').returning('owner_id'))
          .selectFrom('removed')
          .select('owner_id'),
      )
    expect(classify(query)).toEqual(dataModifying('DeleteQueryNode'))
  })

  it('finds a data-modifying CTE of a subquery in the selection', () => {
    const query = db.selectFrom('person').select(() => [
      db
        .with('renamed', (qb) => qb.updateTable('pet').set({ name: 'x' }).returning('id'))
        .selectFrom('renamed')
        .select('id')
        .limit(1)
        .as('renamed_id'),
    ])
    expect(classify(query)).toEqual(dataModifying('UpdateQueryNode'))
  })

  it('finds a merge passed through raw sql as a CTE', () => {
    const merge = db
      .mergeInto('person')
      .using('pet', 'pet.owner_id', 'person.id')
      .whenMatched()
      .thenDelete()
    const query = db
      .with('merged', () => sql`${merge}`)
      .selectFrom('merged')
      .selectAll()
    expect(classify(query)).toEqual(dataModifying('MergeQueryNode'))
  })

  it('keeps read-only CTEs, recursive ones included, on a replica', () => {
    const query = db
      .withRecursive('ancestors(id)', (qb) =>
        qb
          .selectFrom('person')
          .select('id')
          .where('id', '=', 1)
          .unionAll((eb) => eb.selectFrom('ancestors').select('ancestors.id')),
      )
      .selectFrom('ancestors')
      .selectAll()
    expect(classify(query)).toEqual({ access: 'read', reason: 'select' })
  })
})

import { describe, expect, it } from 'vitest'
import { classify, db, rowLock } from './dummy-database.js'

const person = () => db.selectFrom('person').selectAll()

describe('row locks', () => {
  it.each([
    ['for update', () => person().forUpdate()],
    ['for no key update', () => person().forNoKeyUpdate()],
    ['for share', () => person().forShare()],
    ['for key share', () => person().forKeyShare()],
  ])('sends %s to the primary', (detail, build) => {
    expect(classify(build())).toEqual(rowLock(detail))
  })

  it('sees the lock before skip locked, nowait and of', () => {
    expect(classify(person().forUpdate().skipLocked())).toEqual(rowLock('for update'))
    expect(classify(person().forShare().noWait())).toEqual(rowLock('for share'))
    expect(classify(person().forNoKeyUpdate(['person']).skipLocked())).toEqual(
      rowLock('for no key update'),
    )
  })

  it('keeps skip locked, nowait and distinct alone on a replica', () => {
    expect(classify(person().skipLocked())).toEqual({ access: 'read', reason: 'select' })
    expect(classify(person().noWait())).toEqual({ access: 'read', reason: 'select' })
    expect(classify(db.selectFrom('person').select('age').distinct())).toEqual({
      access: 'read',
      reason: 'select',
    })
  })

  it('finds a lock in a subquery of the where clause', () => {
    const query = db
      .selectFrom('pet')
      .selectAll()
      .where('owner_id', 'in', db.selectFrom('person').select('id').forKeyShare())
    expect(classify(query)).toEqual(rowLock('for key share'))
  })

  it('finds a lock in a subquery of the selection', () => {
    const query = db
      .selectFrom('person')
      .select((eb) => [
        eb
          .selectFrom('pet')
          .select('name')
          .whereRef('pet.owner_id', '=', 'person.id')
          .limit(1)
          .forShare()
          .as('pet'),
      ])
    expect(classify(query)).toEqual(rowLock('for share'))
  })

  it('finds a lock in a CTE', () => {
    const query = db
      .with('locked', (qb) => qb.selectFrom('person').select('id').forUpdate().skipLocked())
      .selectFrom('locked')
      .selectAll()
    expect(classify(query)).toEqual(rowLock('for update'))
  })

  it('finds a lock in a union member', () => {
    const query = db
      .selectFrom('person')
      .select('id')
      .union(db.selectFrom('pet').select('owner_id as id').forUpdate())
    expect(classify(query)).toEqual(rowLock('for update'))
  })
})

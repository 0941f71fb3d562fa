import { type RawBuilder, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { classify, dataModifying, db, rowLock, writingFunction } from './dummy-database.js'

const READ = { access: 'read', reason: 'select' }
const person = () => db.selectFrom('person').selectAll()

describe('raw sql inside a select', () => {
  it.each([
    ['for update', sql`for update`],
    ['for update', sql`FOR UPDATE OF person SKIP LOCKED`],
    ['for no key update', sql`for  no\n\tkey   update`],
    ['for share', sql`For Share nowait`],
    ['for key share', sql`for key share`],
  ])('finds %s in a raw modifier', (detail, modifier) => {
    expect(classify(person().modifyEnd(modifier))).toEqual(rowLock(detail))
  })

  it('finds a lock in a raw front modifier and in a raw where', () => {
    expect(classify(person().modifyFront(sql`/* */`).modifyEnd(sql`for share`))).toEqual(
      rowLock('for share'),
    )
    expect(classify(person().where(sql<boolean>`true for update`))).toEqual(rowLock('for update'))
  })

  it.each([
    ['nextval', sql`nextval('person_id_seq')`],
    ['nextval', sql`coalesce(NEXTVAL ('person_id_seq'), 0)`],
    ['pg_catalog.nextval', sql`pg_catalog . nextval('s')`],
    ['pg_catalog.nextval', sql`"pg_catalog"."nextval"('s')`],
    ['nextval', sql`nextval(${'person_id_seq'})`],
    ['public.nextval', sql`${sql.id('public', 'nextval')}('s')`],
    ['nextval', sql`${sql.raw('nextval')} ('s')`],
    ['nextval', sql`${sql.ref('nextval')}('s')`],
    ['public.nextval', sql`${sql.table('public.nextval')}('s')`],
    ['pg_advisory_xact_lock', sql`pg_advisory_xact_lock(hashtext(${'job'}))`],
  ])('finds a call to %s', (detail, call) => {
    const query = db.selectFrom('person').select(sql<number>`${call}`.as('x'))
    expect(classify(query)).toEqual(writingFunction(detail))
  })

  it('finds a raw call inside a node call', () => {
    const query = db.selectNoFrom((eb) => eb.fn('coalesce', [sql`nextval('s')`, eb.lit(0)]).as('n'))
    expect(classify(query)).toEqual(writingFunction('nextval'))
  })

  it.each([
    ['raw insert', sql`insert into person (first_name, age) values ('a', 1) returning id`],
    ['raw update', sql`UPDATE person SET age = age + 1 RETURNING id`],
    ['raw update', sql`update only public.person as p set age = 1 returning p.id`],
    ['raw delete', sql`delete from pet returning owner_id`],
    [
      'raw merge',
      sql`merge into person using pet on pet.owner_id = person.id when matched then delete`,
    ],
  ])('finds a %s statement used as a CTE', (detail, statement) => {
    const query = db
      .with('changed', () => statement as RawBuilder<{ id: number }>)
      .selectFrom('changed')
      .selectAll()
    expect(classify(query)).toEqual(dataModifying(detail))
  })

  it('leaves harmless raw sql on a replica', () => {
    const query = db
      .selectFrom('person')
      .select([
        sql<number>`count(*)`.as('n'),
        sql<string>`now()`.as('at'),
        sql<string>`upper(${sql.ref('first_name')})`.as('upper'),
        sql<boolean>`${sql.ref('first_name')} in ('for', 'update')`.as('word'),
        sql<string>`'information' || 'format' || ${'performance_update'}`.as('text'),
        sql<number>`for_update`.as('column'),
      ])
      .where(sql<boolean>`age > ${18}`)
      .modifyEnd(sql`limit 1`)
    expect(classify(query)).toEqual(READ)
  })
})

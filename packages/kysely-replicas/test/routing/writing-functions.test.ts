import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { classifyQuery, createClassifyOptions } from '../../src/routing/classify-query.js'
import { classify, db, defaultOptions, writingFunction } from './dummy-database.js'

const READ = { access: 'read', reason: 'select' }

describe('writing functions called through nodes', () => {
  it('sends a select calling nextval to the primary', () => {
    const query = db.selectNoFrom((eb) =>
      eb.fn<number>('nextval', [sql.lit('person_id_seq')]).as('id'),
    )
    expect(classify(query)).toEqual(writingFunction('nextval'))
  })

  it('matches schema-qualified calls of a bare entry and reports the call as written', () => {
    const query = db.selectNoFrom((eb) =>
      eb.fn<number>('pg_catalog.nextval', [sql.lit('person_id_seq')]).as('id'),
    )
    expect(classify(query)).toEqual(writingFunction('pg_catalog.nextval'))
  })

  it('ignores case and double quotes', () => {
    const upper = db.selectNoFrom((eb) => eb.fn('PG_ADVISORY_LOCK', [eb.lit(1)]).as('l'))
    expect(classify(upper)).toEqual(writingFunction('pg_advisory_lock'))
    const quoted = db.selectNoFrom((eb) => eb.fn('"pg_catalog"."SetVal"', [eb.lit(1)]).as('s'))
    expect(classify(quoted)).toEqual(writingFunction('pg_catalog.setval'))
  })

  it('finds calls nested anywhere in the select', () => {
    const nextval = (eb: { fn: typeof db.fn }) => eb.fn<number>('nextval', [sql.lit('s')])
    const queries = [
      db.selectFrom('person').select((eb) => eb.fn.coalesce(nextval(eb), eb.lit(0)).as('n')),
      db
        .selectFrom('person')
        .selectAll()
        .where((eb) => eb('id', '=', nextval(eb))),
      db
        .selectFrom('person')
        .selectAll()
        .orderBy((eb) => nextval(eb)),
      db
        .selectFrom('person')
        .innerJoin('pet', (join) => join.on((eb) => eb('pet.id', '=', nextval(eb))))
        .selectAll(),
      db
        .selectFrom('person')
        .select((eb) => eb.case().when('age', '>', 1).then(nextval(eb)).else(0).end().as('n')),
      db
        .selectFrom('person')
        .select('age')
        .groupBy('age')
        .having((eb) => eb(eb.fn.count('id'), '>', nextval(eb))),
      db
        .with('ids', (qb) => qb.selectNoFrom((eb) => nextval(eb).as('id')))
        .selectFrom('ids')
        .selectAll(),
      db.selectFrom('person').select((eb) => eb.cast(nextval(eb), 'text').as('n')),
    ]
    for (const query of queries) {
      expect(classify(query)).toEqual(writingFunction('nextval'))
    }
  })

  it('checks aggregate functions too', () => {
    const options = createClassifyOptions(['app.audit_agg'])
    const query = db
      .selectFrom('person')
      .select((eb) => eb.fn.agg<number>('app.audit_agg', ['age']).as('a'))
    expect(classify(query, options)).toEqual(writingFunction('app.audit_agg'))
    expect(classify(query)).toEqual(READ)
  })

  it('leaves ordinary functions and aggregates on a replica', () => {
    const query = db
      .selectFrom('person')
      .select((eb) => [
        eb.fn.count('id').as('n'),
        eb.fn('lower', ['first_name']).as('lower'),
        eb.fn('set_config', [eb.val('a.b'), eb.val('c'), eb.lit(true)]).as('config'),
        eb.fn('txid_current_if_assigned').as('xid'),
      ])
      .groupBy('first_name')
    expect(classify(query)).toEqual(READ)
  })

  it('adds user functions: bare names match any schema, qualified names their own', () => {
    const options = createClassifyOptions(['create_order', 'Billing.Charge'])
    const call = (name: string) => db.selectNoFrom((eb) => eb.fn(name, [eb.lit(1)]).as('r'))

    expect(classify(call('create_order'), options)).toEqual(writingFunction('create_order'))
    expect(classify(call('shop.create_order'), options)).toEqual(
      writingFunction('shop.create_order'),
    )
    expect(classify(call('billing.charge'), options)).toEqual(writingFunction('billing.charge'))
    expect(classify(call('BILLING.CHARGE'), options)).toEqual(writingFunction('billing.charge'))
    expect(classify(call('charge'), options)).toEqual(READ)
    expect(classify(call('refunds.charge'), options)).toEqual(READ)
    expect(classify(call('create_order'))).toEqual(READ)
  })

  it('can leave out the PostgreSQL list', () => {
    const options = createClassifyOptions(['create_order'], false)
    const nextval = db.selectNoFrom((eb) => eb.fn('nextval', [sql.lit('s')]).as('id'))
    expect(classify(nextval, options)).toEqual(READ)
  })

  it('does not enter user values that look like nodes', () => {
    const query = db
      .selectFrom('person')
      .select((eb) => [
        eb.val({ kind: 'FunctionNode', func: 'nextval', arguments: [] }).as('call'),
        eb.val([{ kind: 'SelectModifierNode', modifier: 'ForUpdate' }]).as('lock'),
      ])
      .where('id', 'in', [1, 2, 3])
    expect(classify(query)).toEqual(READ)
  })

  it('walks node kinds it does not know', () => {
    const nextval = db
      .selectNoFrom((eb) => eb.fn('nextval', [sql.lit('s')]).as('id'))
      .compile().query
    const future = { kind: 'FutureWrapperNode', label: 'x', wrapped: [nextval] }
    const query = db
      .selectFrom('person')
      .select(sql<number>`${{ toOperationNode: () => future }}`.as('f'))
    // No compiler knows the made-up kind, so the node is classified as built.
    expect(classifyQuery(query.toOperationNode(), defaultOptions)).toEqual(
      writingFunction('nextval'),
    )
  })
})

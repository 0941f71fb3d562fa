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
    const shouted = db.selectNoFrom((eb) => eb.fn('NEXTVAL', [sql.lit('s')]).as('n'))
    expect(classify(shouted)).toEqual(writingFunction('nextval'))
  })

  it('matches a call qualified with the database name too', () => {
    const options = createClassifyOptions(['app.create_order'])
    const call = (name: string) => db.selectNoFrom((eb) => eb.fn(name, [eb.lit(1)]).as('r'))
    expect(classify(call('shop.app.create_order'), options)).toEqual(
      writingFunction('shop.app.create_order'),
    )
    expect(classify(call('x.app.create_order'), options)).toEqual(
      writingFunction('x.app.create_order'),
    )
    expect(classify(call('shop.pg_catalog.nextval'))).toEqual(
      writingFunction('shop.pg_catalog.nextval'),
    )
    expect(classify(call('shop.billing.create_order'), options)).toEqual(READ)
    expect(classify(call('app.create_order.x'), options)).toEqual(READ)
  })

  it('finds calls nested anywhere in the select', () => {
    // The instance's function module: one call node, whatever the builder it goes into.
    const nextval = () => db.fn<number>('nextval', [sql.lit('s')])
    const queries = [
      db.selectFrom('person').select((eb) => eb.fn.coalesce(nextval(), eb.lit(0)).as('n')),
      db
        .selectFrom('person')
        .selectAll()
        .where((eb) => eb('id', '=', nextval())),
      db
        .selectFrom('person')
        .selectAll()
        .orderBy(() => nextval()),
      db
        .selectFrom('person')
        .innerJoin('pet', (join) => join.on((eb) => eb('pet.id', '=', nextval())))
        .selectAll(),
      db
        .selectFrom('person')
        .select((eb) => eb.case().when('age', '>', 1).then(nextval()).else(0).end().as('n')),
      db
        .selectFrom('person')
        .select('age')
        .groupBy('age')
        .having((eb) => eb(eb.fn.count('id'), '>', nextval())),
      db
        .with('ids', (qb) => qb.selectNoFrom(() => nextval().as('id')))
        .selectFrom('ids')
        .selectAll(),
      db.selectFrom('person').select((eb) => eb.cast(nextval(), 'text').as('n')),
    ]
    for (const query of queries) {
      expect(classify(query)).toEqual(writingFunction('nextval'))
    }
  })

  const nextval = () => db.fn<number>('nextval', [sql.lit('s')])
  const person = () => db.selectFrom('person').selectAll()
  it.each([
    ['the left of a comparison', person().where((eb) => eb(nextval(), '>', 0))],
    [
      'the left of an and',
      person().where((eb) => eb.and([eb(nextval(), '>', 0), eb('age', '>', 1)])),
    ],
    [
      'the right of an or',
      person().where((eb) => eb.or([eb('id', '=', 1), eb('id', '=', nextval())])),
    ],
    ['a not', person().where((eb) => eb.not(eb('id', '=', nextval())))],
    ['an exists', person().where((eb) => eb.exists(db.selectNoFrom(nextval().as('n'))))],
    ['a limit', person().limit(nextval())],
    ['an offset', person().offset(nextval())],
    ['a distinct on', person().distinctOn(nextval() as never)],
    ['a group by', person().groupBy(nextval() as never)],
    [
      'a window order',
      db.selectFrom('person').select((eb) =>
        eb.fn
          .count('id')
          .over((ob) => ob.orderBy(nextval()))
          .as('n'),
      ),
    ],
    [
      'a window partition',
      db.selectFrom('person').select((eb) =>
        eb.fn
          .count('id')
          .over((ob) => ob.partitionBy(nextval() as never))
          .as('n'),
      ),
    ],
    [
      'an aggregate filter',
      db
        .selectFrom('person')
        .select((eb) => eb.fn.count('id').filterWhere('id', '>', nextval()).as('n')),
    ],
    [
      'an aggregate order',
      db
        .selectFrom('person')
        .select((eb) => eb.fn.agg('array_agg', ['id']).orderBy(nextval()).as('n')),
    ],
    [
      'a within group',
      db.selectFrom('person').select((eb) =>
        eb.fn
          .agg('percentile_cont', [sql.lit(0.5)])
          .withinGroupOrderBy(nextval())
          .as('n'),
      ),
    ],
    [
      'a tuple',
      person().where((eb) => eb(eb.refTuple('id', 'age'), '=', eb.tuple(nextval(), eb.lit(1)))),
    ],
    [
      'the value of a case',
      db.selectFrom('person').select((eb) => eb.case(nextval()).when(1).then('a').end().as('c')),
    ],
    [
      'a join on a subquery',
      db
        .selectFrom('person')
        .innerJoin(db.selectNoFrom(nextval().as('n')).as('s'), (join) => join.onTrue())
        .selectAll(),
    ],
    [
      'a raw sql after another node',
      person().where(sql<boolean>`${sql.ref('age')} > ${nextval()}`),
    ],
  ])('finds a call in %s', (_where, query) => {
    expect(classify(query)).toEqual(writingFunction('nextval'))
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

  it('walks every child of a kind it does not know, and only children that are nodes', () => {
    const nextval = db
      .selectNoFrom((eb) => eb.fn('nextval', [sql.lit('s')]).as('id'))
      .compile().query
    const plain = db.selectFrom('person').select('id').compile().query
    const holding = (future: object) =>
      classifyQuery(
        db
          .selectFrom('person')
          .select(sql<number>`${{ toOperationNode: () => future }}`.as('f'))
          .toOperationNode(),
        defaultOptions,
      )
    const wrapped = { kind: 'FutureNode', empty: null, missing: undefined, count: 2 }
    expect(holding({ ...wrapped, items: [plain, 'x', nextval] })).toEqual(
      writingFunction('nextval'),
    )
    expect(holding({ ...wrapped, first: plain, second: nextval })).toEqual(
      writingFunction('nextval'),
    )
    // User data of a kind we do not know: passed over, not entered.
    expect(holding({ ...wrapped, data: { inner: nextval }, rows: [{ inner: nextval }] })).toEqual(
      READ,
    )
    // A list node (no builder makes one inside a select) is walked too.
    expect(holding({ kind: 'ListNode', items: [plain, nextval] })).toEqual(
      writingFunction('nextval'),
    )
  })
})

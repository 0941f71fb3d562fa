import { type ExpressionBuilder, type RawBuilder, type RootOperationNode, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import type { ClassifyOptions } from '../../src/routing/classify-options.js'
import { classifyQuery, createClassifyOptions } from '../../src/routing/classify-query.js'
import {
  classify,
  classifyWhileCompiling,
  type Database,
  dataModifying,
  db,
  rowLock,
  writingFunction,
} from './dummy-database.js'

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

describe('raw sql read the way PostgreSQL reads it (issue 9, item 12)', () => {
  const cte = (statement: RawBuilder<unknown>) =>
    db
      .with('changed', () => statement as RawBuilder<{ id: number }>)
      .selectFrom('changed')
      .selectAll()

  it.each([
    ['raw update', sql`(update ${sql.table('pet')} set name = name returning id)`],
    ['raw update', sql`(UPDATE ${sql.id('pet')} p SET name = p.name RETURNING p.id)`],
    ['raw update', sql`(update ${sql.table('public.pet')} as "my pet" set name = 'x')`],
    ['raw update', sql`(update only (pet) set name = name returning id)`],
    ['raw update', sql`(update U&"p\\0065t" set name = name returning id)`],
    ['raw update', sql`(${sql.raw('update')} pet set name = name returning id)`],
    ['raw delete', sql`(delete /* all */ from pet returning id)`],
    ['raw delete', sql`(DELETE -- all\nFROM pet returning id)`],
    ['raw insert', sql`(insert${sql.raw(' into ')}pet (name) values ('x') returning id)`],
  ])('finds a %s hidden from a pattern', (detail, statement) => {
    expect(classify(cte(statement))).toEqual(dataModifying(detail))
  })

  it.each([
    ['for update', sql`FOR /*c*/ UPDATE`],
    ['for update', sql`for /* a /* nested */ comment */ update`],
    ['for share', sql`for -- a comment\n share`],
    ['for update', sql`for ${sql.raw('update')}`],
    ['for no key update', sql`for ${sql.raw('no key')} update`],
    ['for key share', sql`FOR/**/KEY/**/SHARE`],
  ])('finds %s between comments and parameters', (detail, modifier) => {
    expect(classify(person().modifyEnd(modifier))).toEqual(rowLock(detail))
  })

  it('finds a lock clause split over two raw modifiers', () => {
    const query = person().modifyEnd(sql`for`).modifyEnd(sql`update`)
    expect(classify(query).reason).toBe('row-lock')
    expect(classify(person().modifyEnd(sql`for key`).modifyEnd(sql`share`)).reason).toBe('row-lock')
  })

  it.each([
    ['nextval', sql`nextval /*c*/ ('s')`],
    ['nextval', sql`nextval -- c\n('s')`],
    ['pg_catalog.nextval', sql`pg_catalog /*c*/ . /*c*/ nextval('s')`],
    ['nextval', sql`U&"\\006Eextval"('s')`],
    ['nextval', sql`U&"!006Eextval" UESCAPE '!' ('s')`],
    ['nextval', sql`"${sql.raw('nextval')}"('s')`],
    ['nextval', sql`${sql.raw('next')}${sql.raw('val')}('s')`],
  ])('finds a call to %s behind comments and quoting', (detail, call) => {
    expect(classify(db.selectNoFrom(call.as('x')))).toEqual(writingFunction(detail))
  })

  it('finds a writing function name whose parentheses come from the builder', () => {
    const query = db
      .selectFrom('person')
      .modifyFront(sql`nextval`)
      .select((eb) => eb.parens(eb.val('s')).as('x'))
    expect(classify(query)).toEqual(writingFunction('nextval'))
  })

  it.each([
    ['pg_catalog.nextval', 'pg_catalog . /* c */ nextval'],
    ['nextval', 'nextval /* c */'],
    ['nextval', 'U&"\\006Eextval"'],
  ])('reads a function name given to eb.fn as text: %s', (detail, name) => {
    const query = db.selectNoFrom((eb) => eb.fn(name, [sql.lit('s')]).as('x'))
    expect(classify(query)).toEqual(writingFunction(detail))
  })

  it('finds select … into, which creates a table', () => {
    const query = person().select(sql`id into person_copy` as never)
    expect(classify(query)).toEqual({ access: 'write', reason: 'statement', detail: 'select into' })
  })

  it('sends text it cannot read safely to the primary', () => {
    const unclosed = person().where(sql<boolean>`name = 'it''s`)
    expect(classify(unclosed)).toMatchObject({ access: 'write', reason: 'raw-sql' })
    const nodeInAString = person().where(
      sql<boolean>`name = '${db.selectFrom('pet').select('name')}'`,
    )
    expect(classify(nodeInAString)).toMatchObject({ access: 'write', reason: 'raw-sql' })
  })

  it('reads a backslash-escaped quote both ways (standard_conforming_strings off)', () => {
    const query = person().where(sql<boolean>`name = '\\' for update --'`)
    expect(classify(query)).toEqual(rowLock('for update'))
    // Only a server with standard_conforming_strings off sees this lock.
    const escaped = person().where(sql<boolean>`name = 'a\\' || ' for update' --'`)
    expect(classify(escaped)).toEqual(rowLock('for update'))
  })

  it('finds a lock after a line comment that a carriage return ends', () => {
    expect(classify(person().modifyEnd(sql`-- lock it\rfor share`))).toEqual(rowLock('for share'))
  })

  it('sends a node inside a line comment to the primary: its text may end the line', () => {
    const hidden = db.selectNoFrom(sql.lit('\nfor update --').as('x'))
    const query = person().modifyEnd(sql`-- ${hidden}`)
    expect(classify(query)).toMatchObject({ access: 'write', reason: 'raw-sql' })
  })

  it.each([
    ['for no', 'key update'],
    ['for no key', 'update'],
    ['for key', 'share'],
  ])('finds a lock clause split after %j', (first, second) => {
    const query = person().modifyEnd(sql.raw(first)).modifyEnd(sql.raw(second))
    expect(classify(query).reason).toBe('row-lock')
  })

  it.each([
    ['a word', sql`case when true then nextval('s') end`],
    ['a keyword', sql`distinct nextval('s')`],
    ['an operand', sql`age + nextval('s')`],
  ])('names the call alone, not %s before it', (_what, call) => {
    expect(classify(db.selectNoFrom(call.as('x')))).toEqual(writingFunction('nextval'))
  })

  it.each([
    ['a subquery', sql`nextval ${db.selectNoFrom(sql.lit('s').as('s'))}`, 'nextval'],
    [
      'a subquery, qualified',
      sql`pg_catalog.nextval ${db.selectNoFrom(sql.lit('s').as('s'))}`,
      'pg_catalog.nextval',
    ],
  ])('finds a call whose argument list is %s', (_what, call, detail) => {
    expect(classify(db.selectNoFrom(sql`${call}`.as('x')))).toEqual(writingFunction(detail))
  })

  it('finds a qualified call whose parentheses come from the builder', () => {
    const query = db
      .selectFrom('person')
      .modifyFront(sql`app.charge`)
      .select((eb) => eb.parens(eb.val(1)).as('x'))
    const options = createClassifyOptions(['app.charge'])
    expect(classify(query, options)).toEqual(writingFunction('app.charge'))
  })

  it('reads a raw piece in the text around it: inside a string it is text', () => {
    const prefix = sql.raw('update')
    expect(classify(person().where(sql<boolean>`first_name like '${prefix}%'`))).toEqual(READ)
    expect(classify(person().where(sql<boolean>`first_name like '%' || ${prefix}`))).toEqual(
      dataModifying('raw update'),
    )
  })

  it.each([
    sql`'update pet set name = 1' || 'for update'`,
    sql`$$ delete from pet $$`,
    sql`$tag$ for update $tag$ || $$x$$`,
    sql`E'it\\'s for update'`,
    sql`"update" + "insert" + "for"`,
    sql`${sql.ref('update')} /* for update */ -- insert into\n`,
    sql`lower(${'for update'})`,
    sql`nextval_count + currval_like`,
  ])('leaves keywords inside strings, comments and names on a replica: %#', (text) => {
    expect(classify(person().select(sql<string>`${text}`.as('x')))).toEqual(READ)
  })

  it.each([
    ['substring ... for', sql`substring(first_name from 1 for 3)`],
    ['a column named nextval', sql`nextval + 1`],
    ['a column named share', sql`share * 2`],
    ['a column named key, aliased share', sql`key share`],
    ['a column named key', sql`key`],
    ['a column named no', sql`no`],
    ['a substring length in a column named no', sql`substring(first_name from 1 for no)`],
    ['a column named constructor', sql`constructor`],
    ['a column named __proto__', sql`__proto__`],
    ['a column named hasownproperty', sql`hasOwnProperty`],
  ])('leaves words that only look like writes on a replica: %s', (_what, text) => {
    expect(classify(person().select(sql<string>`${text}`.as('x')))).toEqual(READ)
  })

  it('names a column named update a raw update, whatever comes before it', () => {
    const query = person().select(sql<string>`no, update`.as('x'))
    expect(classify(query)).toEqual(dataModifying('raw update'))
  })

  it('leaves the for of a substring argument on a replica', () => {
    const query = person().select((eb) =>
      eb.fn<string>('substring', [sql`first_name from 1 for 3`]).as('x'),
    )
    expect(classify(query)).toEqual(READ)
  })
})

describe('lo_open, which writes when its mode has INV_WRITE (0x20000)', () => {
  const INV_WRITE = 0x20000
  const INV_READ = 0x40000
  const lo = (mode: unknown) => db.selectNoFrom(sql`lo_open(${sql.lit(1)}, ${mode})`.as('fd'))
  const literal = (mode: string) => db.selectNoFrom(sql`lo_open(1, ${sql.raw(mode)})`.as('fd'))

  it.each([
    ['a parameter', lo(INV_WRITE)],
    ['a read-write parameter', lo(INV_READ | INV_WRITE)],
    ['a string parameter', lo(String(INV_WRITE))],
    ['a literal', literal('131072')],
    ['a hexadecimal literal', literal('0x20000')],
    ['a string literal', literal("'393216'")],
    ['an expression', literal('262144 | 131072')],
    ['a sql.lit', lo(sql.lit(INV_WRITE))],
    ['a parameter of unknown form', lo({ mode: 'w' })],
    ['a user $1', literal('$1')],
  ])('goes to the primary with %s', (_how, query) => {
    expect(classify(query)).toEqual(writingFunction('lo_open'))
  })

  it('goes to the primary when its name is at the end of raw text, the mode unknown', () => {
    expect(classify(db.selectNoFrom(sql`lo_open`.as('x')))).toEqual(writingFunction('lo_open'))
  })

  it.each([
    ['a read parameter', lo(INV_READ)],
    ['a read literal', literal('262144')],
    ['a read string literal', literal("'262144'")],
    ['a read string parameter', lo(' 0x40000 ')],
    ['a null mode', lo(null)],
  ])('stays on a replica with %s', (_how, query) => {
    expect(classify(query)).toEqual(READ)
  })

  it('inspects the mode given through eb.fn', () => {
    const call = (mode: number) =>
      db.selectNoFrom((eb) => eb.fn('pg_catalog.lo_open', [eb.val(1), eb.val(mode)]).as('fd'))
    expect(classify(call(INV_WRITE))).toEqual(writingFunction('pg_catalog.lo_open'))
    expect(classify(call(INV_READ))).toEqual(READ)
    const computed = db.selectNoFrom((eb) =>
      eb.fn('lo_open', [eb.val(1), eb(eb.val(INV_READ), '+', eb.val(0))]).as('fd'),
    )
    expect(classify(computed)).toEqual(writingFunction('lo_open'))
  })
})

describe('the argument a conditional writing function decides on', () => {
  // `app.open(handle, mode)` writes unless its mode is 'read'; the rule records what it was asked.
  const asked: unknown[] = []
  const options: ClassifyOptions = {
    writingFunctions: new Set(),
    conditionalWritingFunctions: new Map([
      [
        'app.open',
        {
          argument: 1,
          writesWith: (mode: unknown) => {
            asked.push(mode)
            return mode !== 'read'
          },
        },
      ],
    ]),
  }
  const WRITE = writingFunction('app.open')
  // Both ways of classifying ask the rule the same questions.
  const expectVerdictAsking = (
    query: { compile(): { query: RootOperationNode } },
    verdict: unknown,
    seen: unknown[],
  ) => {
    const node = query.compile().query
    asked.length = 0
    expect(classifyQuery(node, options)).toEqual(verdict)
    expect(asked).toEqual(seen)
    asked.length = 0
    expect(classifyWhileCompiling(node, options)).toEqual(verdict)
    expect(asked).toEqual(seen)
  }
  const raw = (call: RawBuilder<unknown>) => db.selectNoFrom(sql`${call}`.as('x'))

  it.each([
    ['a string literal', sql`app.open(1, 'read')`, ['read'], READ],
    ['a string literal that writes', sql`app.open(1, 'write')`, ['write'], WRITE],
    ['after a call with commas', sql`app.open(f(1, 2), 'read')`, ['read'], READ],
    ['after an array with commas', sql`app.open(array[1, 2], 'read')`, ['read'], READ],
    ['before a third argument', sql`app.open(1, 'read', 3)`, ['read'], READ],
    ['a string holding a parenthesis', sql`app.open(1, ')')`, [')'], WRITE],
    ['a number', sql`app.open(1, 7)`, ['7'], WRITE],
    ['null', sql`app.open(1, NULL)`, [null], WRITE],
    ['a parameter', sql`app.open(1, ${'read'})`, ['read'], READ],
    ['a parameter after another', sql`app.open(${1}, ${'read'})`, ['read'], READ],
    ['missing', sql`app.open('read')`, [], WRITE],
    ['an expression', sql`app.open(1, 'read' || '')`, [], WRITE],
    ['a column', sql`app.open(1, mode)`, [], WRITE],
    ['a quoted name', sql`app.open(1, "read")`, [], WRITE],
    ['a column named null', sql`app.open(1, "null")`, [], WRITE],
    ['an escape string', sql`app.open(1, E'read')`, [], WRITE],
    ['a parameter the text numbers itself', sql`app.open(1, $1)`, [], WRITE],
    ['a subquery', sql`app.open(1, ${db.selectNoFrom(sql.lit('read').as('m'))})`, [], WRITE],
    ['cut short by the end of the text', sql`app.open(1, 'read'`, [], WRITE],
  ])('reads %s', (_what, call, seen, verdict) => {
    expectVerdictAsking(raw(call), verdict, seen)
  })

  it.each([
    ['a value', (eb: Eb) => eb.fn('app.open', [eb.val(1), eb.val('read')]), ['read'], READ],
    ['a value that writes', (eb: Eb) => eb.fn('app.open', [eb.val(1), eb.val('w')]), ['w'], WRITE],
    [
      'a raw parameter',
      (eb: Eb) => eb.fn('app.open', [eb.val(1), sql` ${'read'} `]),
      ['read'],
      READ,
    ],
    [
      'a raw expression',
      (eb: Eb) => eb.fn('app.open', [eb.val(1), sql`lower(${'read'})`]),
      [],
      WRITE,
    ],
    [
      'a raw expression after a parameter',
      (eb: Eb) => eb.fn('app.open', [eb.val(1), sql`${'read'} || ''`]),
      [],
      WRITE,
    ],
    [
      'two raw parameters',
      (eb: Eb) => eb.fn('app.open', [eb.val(1), sql`${'re'}${'ad'}`]),
      [],
      WRITE,
    ],
    ['a column', (eb: Eb) => eb.fn('app.open', [eb.val(1), eb.ref('first_name')]), [], WRITE],
    ['missing', (eb: Eb) => eb.fn('app.open', [eb.val(1)]), [], WRITE],
  ])('reads %s given to eb.fn', (_what, call, seen, verdict) => {
    expectVerdictAsking(
      db.selectFrom('person').select((eb) => call(eb).as('x')),
      verdict,
      seen,
    )
  })
})

type Eb = ExpressionBuilder<Database, 'person'>

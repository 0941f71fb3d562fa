import fc from 'fast-check'
import {
  type AliasedExpression,
  type Expression,
  type Generated,
  type Kysely,
  type OperationNodeSource,
  type RawBuilder,
  type SelectQueryBuilder,
  sql,
} from 'kysely'

/** The oracle's own tables. */
export interface OracleDatabase {
  oracle_person: { id: Generated<number>; name: string; age: number }
  oracle_pet: { id: Generated<number>; owner_id: number; name: string }
}

/** The tables under the aliases the generated queries give them. */
type AliasedDatabase = OracleDatabase & {
  p: OracleDatabase['oracle_person']
  t: OracleDatabase['oracle_pet']
}

export const ORACLE_SEQUENCE = 'oracle_seq'

type Db = Kysely<OracleDatabase>
type Query = SelectQueryBuilder<AliasedDatabase, 'p' | 't', Record<string, unknown>>
type Builder<T> = (db: Db, largeObject: number) => T

// --- Raw text: keywords in random case, random blanks and comments between tokens. -------------

/** A piece of a raw template: a keyword (cased at random), fixed text, or a `sql` parameter. */
type Piece =
  | { readonly keyword: string }
  | { readonly text: string }
  | { readonly node: (largeObject: number) => unknown }

const kw = (keyword: string): Piece => ({ keyword })
const text = (value: string): Piece => ({ text: value })
const node = (value: (largeObject: number) => unknown): Piece => ({ node: value })
const words = (line: string): Piece[] => line.split(' ').map(kw)

const SEPARATORS = [' ', '  ', '\n', '\t', ' /*c*/ ', '/* /* nested */ */', ' -- c\n', '/**/']

const casing = fc.constantFrom<(word: string) => string>(
  (word) => word.toLowerCase(),
  (word) => word.toUpperCase(),
  (word) => word.replace(/^./, (first) => first.toUpperCase()),
)

/** Builds a `sql` template from pieces, as `sql`…`` would: fragments between parameters. */
function rawOf(
  pieces: readonly Piece[],
  separators: readonly string[],
  cases: readonly ((word: string) => string)[],
  largeObject: number,
): RawBuilder<unknown> {
  const fragments: string[] = []
  const parameters: unknown[] = []
  let fragment = ''
  pieces.forEach((piece, i) => {
    if (i > 0) fragment += separators[i % separators.length] ?? ' '
    if ('node' in piece) {
      fragments.push(fragment)
      parameters.push(piece.node(largeObject))
      fragment = ''
    } else if ('keyword' in piece) {
      fragment += (cases[i % cases.length] ?? String)(piece.keyword)
    } else {
      fragment += piece.text
    }
  })
  fragments.push(fragment)
  return sql(fragments as unknown as TemplateStringsArray, ...parameters)
}

/** A raw fragment from one of the templates, with random separators and casing. */
function rawArbitrary(
  templates: readonly (readonly Piece[])[],
): fc.Arbitrary<Builder<RawBuilder<unknown>>> {
  return fc
    .record({
      template: fc.constantFrom(...templates),
      separators: fc.array(fc.constantFrom(...SEPARATORS), { minLength: 1, maxLength: 6 }),
      cases: fc.array(casing, { minLength: 1, maxLength: 4 }),
    })
    .map(
      ({ template, separators, cases }) =>
        (_db, largeObject) =>
          rawOf(template, separators, cases, largeObject),
    )
}

const sequence = text(`'${ORACLE_SEQUENCE}'`)
const call = (name: Piece, ...args: Piece[]): Piece[] => [
  name,
  text('('),
  ...args.flatMap((arg, i) => (i === 0 ? [arg] : [text(','), arg])),
  text(')'),
]
const INV_WRITE = 0x20000
const INV_READ = 0x40000

/** Calls in raw text: writing functions under every spelling, `lo_open` modes, harmless ones. */
const RAW_CALLS: readonly (readonly Piece[])[] = [
  call(kw('nextval'), sequence),
  call(text('pg_catalog.nextval'), sequence),
  call(text('"nextval"'), sequence),
  call(text('U&"\\006Eextval"'), sequence),
  call(text('U&"!006Eextval" UESCAPE \'!\''), sequence),
  call(
    node(() => sql.id('pg_catalog', 'nextval')),
    sequence,
  ),
  call(
    node(() => sql.raw('nextval')),
    sequence,
  ),
  call(
    node(() => sql.ref('nextval')),
    node(() => ORACLE_SEQUENCE),
  ),
  call(kw('setval'), sequence, text('1')),
  call(kw('txid_current')),
  call(kw('pg_current_wal_lsn')),
  call(kw('pg_notify'), text("'oracle'"), text("'x'")),
  call(
    kw('lo_open'),
    node((lo) => lo),
    text(String(INV_WRITE)),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    text(String(INV_READ)),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    text(String(INV_READ | INV_WRITE)),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    text('0x20000'),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    text(`'${INV_WRITE}'`),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    node(() => INV_WRITE),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    node(() => INV_READ),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    node(() => String(INV_WRITE)),
  ),
  call(
    kw('lo_open'),
    node((lo) => lo),
    text(`${INV_READ} | ${INV_WRITE}`),
  ),
  call(kw('lower'), text("'for update'")),
  call(kw('length'), text("'insert into x'")),
  call(kw('now')),
  call(
    kw('coalesce'),
    text('null'),
    node(() => 1),
  ),
  call(kw('pg_is_in_recovery')),
  [text('$$update t set x = 1$$')],
  [text("'nextval(''s'')'")],
  [text('$q$ for update $q$')],
  [text("E'it\\'s for update'")],
  [kw('upper'), text('('), text("'x' /* for update */"), text(')')],
  [kw('length'), text('('), text("U&'insert'"), text(')')],
  [kw('coalesce'), text('('), node(() => sql.ref('p.name')), text(','), text("'into'"), text(')')],
  [kw('lower'), text('('), node(() => sql.ref('p.name')), text(')')],
  [kw('abs'), text('('), node(() => -1), text(')')],
]

/** Row-lock clauses and harmless end modifiers, for `modifyEnd`. */
const RAW_END_MODIFIERS: readonly (readonly Piece[])[] = [
  words('for update'),
  words('for no key update'),
  words('for share'),
  words('for key share'),
  words('for update skip locked'),
  words('for share nowait'),
  [kw('for'), node(() => sql.raw('update'))],
  [kw('for'), node(() => sql.raw('share'))],
  [...words('for update of'), node(() => sql.table('p'))],
  words('limit 5'),
  words('offset 0'),
]

/** Raw statements for a CTE: data-modifying ones under every spelling, and harmless selects. */
const RAW_CTE_BODIES: readonly (readonly Piece[])[] = [
  [kw('update'), node(() => sql.table('oracle_pet')), ...words('set name = name returning id')],
  [kw('update'), node(() => sql.id('oracle_pet')), ...words('p set name = p.name returning p.id')],
  [...words('update only'), text('(oracle_pet)'), ...words('set name = name returning id')],
  [kw('update'), text('U&"oracle\\005Fpet"'), ...words('set name = name returning id')],
  [kw('update'), text('"oracle_pet"'), ...words('as "my pet" set name = name returning id')],
  [
    ...words('insert into'),
    node(() => sql.table('oracle_pet')),
    text('(owner_id, name)'),
    kw('values'),
    text("(1, 'x')"),
    ...words('returning id'),
  ],
  [...words('delete from oracle_pet where false returning id')],
  [...words('delete from'), node(() => sql.table('oracle_pet')), ...words('returning id')],
  [kw('delete'), node(() => sql.raw('from oracle_pet')), ...words('returning id')],
  [
    ...words(
      'merge into oracle_pet t using oracle_person p on t.owner_id = p.id when matched then do nothing',
    ),
  ],
  [...words('select id from oracle_person where name = '), text("'update oracle_pet set'")],
  [...words('select name as for_update from oracle_person')],
  [kw('select'), text('1 as "update"')],
  [kw('select'), node(() => 'insert into'), kw('as'), kw('s')],
]

// --- Builder parts. ---------------------------------------------------------------------------

/** An expression that can be aliased as a selection or used as it is in a condition. */
type Selection = Builder<
  Expression<unknown> & { as(alias: string): AliasedExpression<unknown, string> }
>

const FUNCTION_NAMES = [
  'nextval',
  'NextVal',
  'pg_catalog.nextval',
  '"nextval"',
  'pg_catalog . /*c*/ nextval',
  'nextval /* c */',
  'setval',
  'txid_current',
  'pg_current_xact_id',
  'pg_notify',
  'pg_current_wal_lsn',
  'lo_create',
  'lo_open',
  'pg_advisory_xact_lock',
  'now',
  'lower',
  'pg_is_in_recovery',
  'pg_backend_pid',
  'abs',
] as const

// The function a spelling calls: `nextval` for `"nextval"`, `NextVal`, or with comments around.
function bareName(name: string): string {
  const words = name.toLowerCase().match(/[a-z_]+/g) ?? []
  return words.filter((word) => word !== 'c' && word !== 'pg_catalog').at(-1) ?? ''
}

/** Arguments that make each function callable. */
function functionArguments(name: string, largeObject: number, mode: number): Expression<unknown>[] {
  switch (bareName(name)) {
    case 'nextval':
      return [sql.lit(ORACLE_SEQUENCE)]
    case 'setval':
      return [sql.lit(ORACLE_SEQUENCE), sql.lit(5)]
    case 'pg_notify':
      return [sql.lit('oracle'), sql.lit('x')]
    case 'lo_create':
      return [sql.lit(0)]
    case 'lo_open':
      return [sql.lit(largeObject), mode % 2 === 0 ? sql.val(mode) : sql.lit(mode)]
    case 'pg_advisory_xact_lock':
      return [sql.lit(42)]
    case 'lower':
      return [sql.ref('p.name')]
    case 'abs':
      return [sql.lit(-1)]
    default:
      return []
  }
}

const builderCall: fc.Arbitrary<Selection> = fc
  .record({
    name: fc.constantFrom(...FUNCTION_NAMES),
    mode: fc.constantFrom(INV_WRITE, INV_READ, INV_READ | INV_WRITE, INV_WRITE + 1, INV_READ + 1),
  })
  .map(
    ({ name, mode }) =>
      (db, lo) =>
        db.fn(name, functionArguments(name, lo, mode)),
  )

const rawCall: fc.Arbitrary<Selection> = rawArbitrary(RAW_CALLS).map(
  (raw) => (db, lo) => raw(db, lo),
)

const selection: fc.Arbitrary<Selection> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Selection>(() => sql.ref('p.name')) },
  { weight: 1, arbitrary: builderCall },
  { weight: 1, arbitrary: rawCall },
)

/** A subquery for `where p.id in (…)`, possibly locking or calling something. */
const subquery: fc.Arbitrary<Builder<OperationNodeSource>> = fc
  .record({
    lock: fc.constantFrom('none', 'forUpdate', 'forShare', 'forKeyShare', 'raw'),
    call: fc.option(fc.oneof(builderCall, rawCall), { nil: undefined }),
    end: rawArbitrary(RAW_END_MODIFIERS),
  })
  .map(({ lock, call: called, end }) => (db, lo) => {
    let query = db.selectFrom('oracle_pet').select('owner_id')
    if (called !== undefined) {
      query = query.where(() => sql<boolean>`${called(db, lo)} is not null`) as never
    }
    if (lock === 'raw') return query.modifyEnd(end(db, lo))
    return lock === 'none' ? query : query[lock]()
  })

type CteBody = Builder<OperationNodeSource>

const cteBody: fc.Arbitrary<CteBody> = fc.oneof(
  fc.constantFrom<CteBody>(
    (db) => db.selectFrom('oracle_pet').select('id'),
    (db) => db.updateTable('oracle_pet').set({ name: 'x' }).returning('id'),
    (db) => db.insertInto('oracle_pet').values({ owner_id: 1, name: 'x' }).returning('id'),
    (db) => db.deleteFrom('oracle_pet').where('id', '<', 0).returning('id'),
    (db) => db.selectFrom('oracle_pet').select('id').forUpdate().skipLocked(),
  ),
  // A raw CTE body brings its own parentheses, as it must in `db.with('c', () => sql`(…)`)`.
  rawArbitrary(RAW_CTE_BODIES.map((body) => [text('('), ...body, text(')')])),
)

/** Where a lock goes: nowhere, a builder modifier, one raw end modifier, or `for` and `update` split in two. */
const lock = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('forUpdate', 'forNoKeyUpdate', 'forShare', 'forKeyShare', 'split')
      .map((kind) => ({ kind })),
  },
  {
    weight: 2,
    arbitrary: rawArbitrary(RAW_END_MODIFIERS).map((raw) => ({ kind: 'raw' as const, raw })),
  },
)

/** One generated query: the spec is plain data, so fast-check can shrink and print it. */
export const oracleQuery = fc.record({
  ctes: fc.array(cteBody, { maxLength: 1 }),
  join: fc.boolean(),
  selections: fc.array(selection, { minLength: 1, maxLength: 2 }),
  where: fc.option(subquery, { nil: undefined }),
  // Rare: SELECT INTO must be the top query's last selection and fails on a standby anyway.
  selectInto: fc.oneof(
    { weight: 15, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  lock,
  skipLocked: fc.boolean(),
})

export type OracleQuerySpec = typeof oracleQuery extends fc.Arbitrary<infer T> ? T : never

/** Builds the query a spec describes. */
export function buildOracleQuery(db: Db, spec: OracleQuerySpec, largeObject: number): Query {
  let creator = db as unknown as Db
  spec.ctes.forEach((body, i) => {
    creator = creator.with(`c${i}`, () => body(db, largeObject) as never) as unknown as Db
  })
  let query = creator.selectFrom('oracle_person as p') as unknown as Query
  if (spec.join) {
    query = query.innerJoin('oracle_pet as t', 't.owner_id', 'p.id') as unknown as Query
  }
  query = query.select(spec.selections.map((make, i) => make(db, largeObject).as(`s${i}`)) as never)
  if (spec.selectInto) {
    query = query.select(sql`p.id into oracle_into` as never)
  }
  if (spec.where !== undefined) {
    const inner = spec.where(db, largeObject)
    query = query.where('p.id', 'in', () => inner as never)
  }
  const { lock } = spec
  if (lock.kind === 'raw') {
    query = query.modifyEnd(lock.raw(db, largeObject))
  } else if (lock.kind === 'split') {
    query = query.modifyEnd(sql`for`).modifyEnd(sql`update`)
  } else if (lock.kind !== 'none') {
    query = query[lock.kind]()
    if (spec.skipLocked) query = query.skipLocked()
  }
  return query
}

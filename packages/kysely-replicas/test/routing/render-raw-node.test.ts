import { type RawBuilder, type RawNode, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { PARAMETER_BASE, renderRawNode } from '../../src/routing/render-raw-node.js'
import { OPAQUE } from '../../src/routing/sql-tokens.js'
import { db } from './dummy-database.js'

// PostgreSQL's query compiler is the oracle: the rendered text is what the server will read,
// parameters numbered from PARAMETER_BASE instead of 1.
const rendered = (raw: RawBuilder<unknown>) => renderRawNode(raw.toOperationNode() as RawNode)

const asCompiled = (text: string) =>
  text.replace(/\$(\d+)/g, (whole, n: string) =>
    Number(n) >= PARAMETER_BASE ? `$${Number(n) - PARAMETER_BASE + 1}` : whole,
  )

describe('a raw node rendered as the server will read it', () => {
  it.each([
    ['plain text', sql`for update`],
    ['parameters, in order', sql`age between ${18} and ${65} or name = ${'x'}`],
    ['nested raw nodes, their parameters numbered on', sql`a ${sql`b ${1} c`} d ${2}`],
    ['sql.raw', sql`for ${sql.raw('update')}`],
    ['sql.join', sql`in (${sql.join([1, sql`x`, sql.lit('y')])})`],
    ['sql.id', sql`${sql.id('public', 'nextval')}('s')`],
    ['sql.id with a double quote', sql`${sql.id('we"ird')}`],
    ['sql.table with a schema', sql`update ${sql.table('public.person')} set age = 1`],
    ['sql.table', sql`update ${sql.table('person')} set age = 1`],
    ['sql.ref with a table', sql`${sql.ref('person.first_name')}`],
    ['sql.ref with a schema', sql`${sql.ref('public.person.first_name')}`],
    ['sql.ref', sql`${sql.ref('first_name')}`],
    ['sql.lit of a string with a quote', sql`${sql.lit("it's")}`],
    ['sql.lit of numbers and booleans', sql`${sql.lit(42)} ${sql.lit(1.5)} ${sql.lit(true)}`],
    ['sql.lit of a bigint', sql`${sql.lit(131072n)}`],
    ['sql.lit of null', sql`${sql.lit(null)}`],
    ['sql.lit of a date', sql`${sql.lit(new Date(0))}`],
    ['a user-written parameter', sql`lo_open(${1}, $1)`],
  ])('renders %s', (_what, raw) => {
    const compiled = raw.compile(db)
    const { text, values } = rendered(raw)
    expect(asCompiled(text)).toBe(compiled.sql)
    expect(values).toEqual(compiled.parameters)
  })

  it('numbers parameters from PARAMETER_BASE', () => {
    expect(rendered(sql`update ${sql.table('t')} set x = ${1}`)).toEqual({
      text: 'update "t" set x = $1000000000',
      values: [1],
    })
  })

  it('marks the nodes that are not text', () => {
    const subquery = db.selectFrom('person').select('id')
    const call = db.fn('nextval', [sql.lit('s')])
    expect(rendered(sql`${subquery} union ${call}`).text).toBe(`${OPAQUE} union ${OPAQUE}`)
    expect(rendered(sql`${sql.lit({ not: 'a literal' })}`).text).toBe(OPAQUE)
  })
})

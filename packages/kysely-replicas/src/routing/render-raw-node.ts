import type {
  ColumnNode,
  IdentifierNode,
  OperationNode,
  RawNode,
  ReferenceNode,
  SchemableIdentifierNode,
  TableNode,
  ValueNode,
} from 'kysely'
import { OPAQUE } from './sql-tokens.js'

/** A raw node as the text the server will read, with the values of its parameters. */
export interface RenderedRaw {
  readonly text: string
  /** The value of parameter `$n` of the text is `values[n - PARAMETER_BASE]`. */
  readonly values: readonly unknown[]
}

/**
 * Parameters are rendered `$<base + index>`: the same shape as the compiled `$1` to the lexer,
 * and out of the way of a `$1` the user wrote in the text, whose value is not known here.
 */
export const PARAMETER_BASE = 1_000_000_000

/**
 * Renders a raw node (`sql`…``) the way the query compiler will: its fragments, with nested raw
 * nodes (`sql.raw`, `sql.join`, nested `sql`) inlined, identifiers, tables and references quoted
 * (`sql.id`, `sql.table`, `sql.ref`), literal values (`sql.lit`) written out, parameter values as
 * `$n`, and any other node as {@link OPAQUE}. Reading the text whole is what sees
 * `for ${sql.raw('update')}`, `update ${sql.table('t')} set` and `"${sql.raw('nextval')}"(…)`.
 *
 * ```ts
 * renderRawNode(sql`update ${sql.table('t')} set x = ${1}`.toOperationNode())
 * // { text: 'update "t" set x = $1000000000', values: [1] }
 * ```
 */
export function renderRawNode(node: RawNode): RenderedRaw {
  const values: unknown[] = []
  return { text: render(node, values), values }
}

function render(node: OperationNode, values: unknown[]): string {
  switch (node.kind) {
    case 'RawNode': {
      const { sqlFragments, parameters } = node as RawNode
      let text = ''
      for (let i = 0; i < sqlFragments.length; i++) {
        text += sqlFragments[i]
        const parameter = parameters[i]
        if (parameter !== undefined) text += render(parameter, values)
      }
      return text
    }
    case 'IdentifierNode':
      return `"${(node as IdentifierNode).name.replaceAll('"', '""')}"`
    case 'SchemableIdentifierNode': {
      const { schema, identifier } = node as SchemableIdentifierNode
      const name = render(identifier, values)
      return schema === undefined ? name : `${render(schema, values)}.${name}`
    }
    case 'TableNode':
      return render((node as TableNode).table, values)
    case 'ColumnNode':
      return render((node as ColumnNode).column, values)
    case 'ReferenceNode': {
      const { table, column } = node as ReferenceNode
      const name = render(column, values)
      return table === undefined ? name : `${render(table, values)}.${name}`
    }
    case 'ValueNode': {
      const { value, immediate } = node as ValueNode
      if (immediate) return immediateText(value)
      values.push(value)
      return `$${PARAMETER_BASE + values.length - 1}`
    }
    default:
      return OPAQUE
  }
}

/** What the compiler writes for `sql.lit(value)`. */
function immediateText(value: unknown): string {
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return value.toString()
  }
  if (value === null) return 'null'
  if (value instanceof Date) return immediateText(value.toISOString())
  return OPAQUE
}

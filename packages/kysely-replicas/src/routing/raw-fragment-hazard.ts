import type {
  ColumnNode,
  IdentifierNode,
  OperationNode,
  RawNode,
  ReferenceNode,
  SchemableIdentifierNode,
  TableNode,
} from 'kysely'
import { type QueryClassification, writeBecause } from './query-classification.js'
import { matchWritingFunction } from './writing-function-name.js'

// Raw `sql` inside a select is opaque to the node walk, and it is the usual way to write what the
// builder lacks: `.modifyEnd(sql`for update`)`, `sql`nextval('s')``, a CTE whose body is
// `sql`insert … returning *``. This is the one place where text is looked at, and only the text
// the user wrote: the fragments of raw nodes. The rule is conservative: a match inside a string
// literal or a comment still sends the query to the primary, which costs a query on the primary,
// while a miss would fail on a replica or take a lock on the wrong server.

// One pattern for both kinds of clause, so that a fragment is scanned once. The groups, in order:
// the four lock strengths, then the four data-modifying statements.
const HAZARDOUS_CLAUSE =
  /\b(?:for\s+(?:(update)|(no\s+key\s+update)|(share)|(key\s+share))|(insert)\s+into|(delete)\s+from|(merge)\s+into|(update)\s+(?:only\s+)?[^\s(),;]+(?:\s+(?:as\s+)?[^\s(),;]+)?\s+set)\b/i

const CLAUSE_HAZARDS = [
  writeBecause('row-lock', 'for update'),
  writeBecause('row-lock', 'for no key update'),
  writeBecause('row-lock', 'for share'),
  writeBecause('row-lock', 'for key share'),
  writeBecause('data-modifying-cte', 'raw insert'),
  writeBecause('data-modifying-cte', 'raw delete'),
  writeBecause('data-modifying-cte', 'raw merge'),
  writeBecause('data-modifying-cte', 'raw update'),
] as const

/**
 * Why the fragments of a raw node inside a select keep the query off the replicas: a row-lock
 * clause, a data-modifying statement, or a call to a writing function. Looks at this node's own
 * fragments only; its parameters are nodes, which the caller walks.
 *
 * A function name is taken from the text before a `(`; when that text is empty, from the
 * parameter just before, so that `sql`${sql.id('public', 'nextval')}('s')`` is seen too.
 *
 * ```ts
 * findRawFragmentHazard(sql`nextval('person_id_seq')`.toOperationNode(), new Set(['nextval']))
 * // { access: 'write', reason: 'writing-function', detail: 'nextval' }
 * ```
 */
export function findRawFragmentHazard(
  node: RawNode,
  writingFunctions: ReadonlySet<string>,
): QueryClassification | undefined {
  const fragments = node.sqlFragments
  for (let i = 0; i < fragments.length; i++) {
    const fragment = fragments[i]
    if (fragment === undefined || fragment.length === 0) {
      continue
    }
    const hazard =
      findHazardousClause(fragment) ??
      findWritingCall(fragment, i === 0 ? undefined : node.parameters[i - 1], writingFunctions)
    if (hazard !== undefined) {
      return hazard
    }
  }
  return undefined
}

function findHazardousClause(fragment: string): QueryClassification | undefined {
  const match = HAZARDOUS_CLAUSE.exec(fragment)
  if (match === null) {
    return undefined
  }
  for (let group = 1; group < match.length; group++) {
    if (match[group] !== undefined) {
      return CLAUSE_HAZARDS[group - 1]
    }
  }
  return undefined
}

function findWritingCall(
  fragment: string,
  previous: OperationNode | undefined,
  writingFunctions: ReadonlySet<string>,
): QueryClassification | undefined {
  for (let paren = fragment.indexOf('('); paren !== -1; paren = fragment.indexOf('(', paren + 1)) {
    const start = nameStart(fragment, paren)
    let name = fragment.slice(start, paren).trim()
    if (name === '' && previous !== undefined && start === 0) {
      name = trailingName(previous)
    }
    const matched = name === '' ? undefined : matchWritingFunction(name, writingFunctions)
    if (matched !== undefined) {
      return writeBecause('writing-function', matched)
    }
  }
  return undefined
}

/**
 * Where the possibly qualified, possibly quoted name that ends at `end` starts (`end` when there
 * is none): `nextval`, `pg_catalog . "nextval"`, with the blanks before `end` skipped.
 */
function nameStart(text: string, end: number): number {
  let i = skipBlanksBackwards(text, end)
  for (;;) {
    const partEnd = i
    if (i > 0 && text[i - 1] === '"') {
      const open = text.lastIndexOf('"', i - 2)
      if (open === -1) {
        return partEnd
      }
      i = open
    } else {
      while (i > 0 && isIdentifierChar(text.charCodeAt(i - 1))) {
        i--
      }
    }
    if (i === partEnd) {
      return i
    }
    const beforeDot = skipBlanksBackwards(text, i)
    if (beforeDot === 0 || text[beforeDot - 1] !== '.') {
      return i
    }
    i = skipBlanksBackwards(text, beforeDot - 1)
  }
}

function skipBlanksBackwards(text: string, end: number): number {
  let i = end
  while (i > 0 && isBlank(text.charCodeAt(i - 1))) {
    i--
  }
  return i
}

/** The name a parameter ends with when it is followed by `(`: `sql.id`, `sql.ref`, `sql.raw`, `sql.table`. */
function trailingName(node: OperationNode): string {
  switch (node.kind) {
    case 'IdentifierNode':
      return (node as IdentifierNode).name
    case 'SchemableIdentifierNode': {
      const { schema, identifier } = node as SchemableIdentifierNode
      return schema === undefined ? identifier.name : `${schema.name}.${identifier.name}`
    }
    case 'TableNode':
      return trailingName((node as TableNode).table)
    case 'ColumnNode':
      return (node as ColumnNode).column.name
    case 'ReferenceNode': {
      const { table, column } = node as ReferenceNode
      const name = trailingName(column)
      return table === undefined ? name : `${trailingName(table)}.${name}`
    }
    case 'RawNode':
      return rawTrailingName(node as RawNode)
    default:
      return ''
  }
}

function rawTrailingName(node: RawNode): string {
  const fragments = node.sqlFragments
  const last = fragments.length - 1
  const lastFragment = fragments[last] ?? ''
  if (lastFragment.trim() !== '') {
    return lastFragment.slice(nameStart(lastFragment, lastFragment.length)).trim()
  }
  const lastParameter = node.parameters[last - 1]
  if (lastParameter === undefined) {
    return ''
  }
  const name = trailingName(lastParameter)
  // `sql.id('public', 'nextval')` is the fragments `['', '.', '']` around two identifiers.
  const qualifier = node.parameters[last - 2]
  if (fragments[last - 1]?.trim() === '.' && qualifier !== undefined) {
    return `${trailingName(qualifier)}.${name}`
  }
  return name
}

function isIdentifierChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 95 ||
    code === 36 ||
    code > 127
  )
}

function isBlank(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13)
}

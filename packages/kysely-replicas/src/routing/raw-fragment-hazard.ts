import type { RawNode } from 'kysely'
import type { ClassifyOptions } from './classify-options.js'
import { type QueryClassification, writeBecause } from './query-classification.js'
import { PARAMETER_BASE, renderRawNode } from './render-raw-node.js'
import { type SqlToken, tokenizeSql } from './sql-tokens.js'
import {
  matchingEntry,
  matchWritingFunction,
  normalizeFunctionName,
} from './writing-function-name.js'

// Raw `sql` inside a select is opaque to the node walk, and it is the usual way to write what the
// builder lacks: `.modifyEnd(sql`for update`)`, `sql`nextval('s')``, a CTE whose body is
// `sql`(insert … returning *)``. This is the one place where text is looked at, and only the text
// the user wrote: raw nodes, rendered whole (see `renderRawNode`), and function names. The text
// is cut into tokens the way PostgreSQL's lexer cuts it, so comments, quoting and casing hide
// nothing. The rules err on the side of the primary: a bare `update`, `insert`, `delete`, `merge`
// or `into` anywhere sends the select there (a column named `update` costs a primary query),
// while a miss would fail on a replica or take a lock on the wrong server.

const FOR_UPDATE = writeBecause('row-lock', 'for update')
const FOR_NO_KEY_UPDATE = writeBecause('row-lock', 'for no key update')
const FOR_SHARE = writeBecause('row-lock', 'for share')
const FOR_KEY_SHARE = writeBecause('row-lock', 'for key share')
const RAW_UPDATE = writeBecause('data-modifying-cte', 'raw update')
// A map, not an object: any word of the text is looked up, `constructor` and `__proto__` too.
const STATEMENTS: ReadonlyMap<string, QueryClassification> = new Map([
  ['insert', writeBecause('data-modifying-cte', 'raw insert')],
  ['update', RAW_UPDATE],
  ['delete', writeBecause('data-modifying-cte', 'raw delete')],
  ['merge', writeBecause('data-modifying-cte', 'raw merge')],
  // `select … into t from …` creates a table.
  ['into', writeBecause('statement', 'select into')],
])
// A raw piece that ends in the middle of a lock clause: the next piece (another `modifyEnd`)
// may finish it.
const UNFINISHED_LOCK = writeBecause('row-lock', 'for (split)')
const UNREADABLE = writeBecause('raw-sql', 'raw sql with an unclosed quote or comment')

/**
 * Why a raw node inside a select keeps the query off the replicas: a row-lock clause, a
 * data-modifying statement or `select … into`, a call to a writing function (or to `lo_open`
 * for writing), or text that cannot be read safely (a quote or comment left open). Looks at the
 * node's rendered text only; the other nodes among its parameters are the caller's to walk.
 *
 * ```ts
 * findRawFragmentHazard(sql`nextval /* c *\/ ('person_id_seq')`.toOperationNode(), options)
 * // { access: 'write', reason: 'writing-function', detail: 'nextval' }
 * ```
 */
export function findRawFragmentHazard(
  node: RawNode,
  options: ClassifyOptions,
): QueryClassification | undefined {
  const { text, values } = renderRawNode(node)
  return findSqlTextHazard(text, values, options)
}

/**
 * The same rules for a function name written into the query as it is (`eb.fn(name)`): the name
 * is read as the text `name(`, so `pg_catalog . /* c *\/ nextval` is seen for what it calls.
 *
 * ```ts
 * findFunctionNameHazard('pg_catalog . /* c *\/ nextval', options)?.detail // 'pg_catalog.nextval'
 * ```
 */
export function findFunctionNameHazard(
  name: string,
  options: ClassifyOptions,
): QueryClassification | undefined {
  return findSqlTextHazard(`${name}(`, [], options)
}

function findSqlTextHazard(
  text: string,
  values: readonly unknown[],
  options: ClassifyOptions,
): QueryClassification | undefined {
  const hazard = findTokenHazard(tokenizeSql(text), values, options)
  // With `standard_conforming_strings = off`, a backslash escapes a quote in a plain string: the
  // text is read both ways.
  if (hazard !== undefined || !text.includes('\\')) {
    return hazard
  }
  return findTokenHazard(tokenizeSql(text, true), values, options)
}

function findTokenHazard(
  { tokens, unreadable }: ReturnType<typeof tokenizeSql>,
  values: readonly unknown[],
  options: ClassifyOptions,
): QueryClassification | undefined {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as SqlToken
    const hazard =
      token.kind === 'word'
        ? keywordHazard(token.text, tokens, i)
        : token.text === '(' || token.kind === 'opaque'
          ? callHazard(tokens, i, values, options)
          : undefined
    if (hazard !== undefined) {
      return hazard
    }
  }
  // Text that ends with a function name may be followed by the parentheses of another node.
  return (
    (unreadable ? UNREADABLE : undefined) ??
    unfinishedLock(tokens) ??
    callHazard(tokens, tokens.length, values, options)
  )
}

/** The hazard of `word`, the token at `i`, read with the words before it. */
function keywordHazard(
  word: string,
  tokens: readonly SqlToken[],
  i: number,
): QueryClassification | undefined {
  if (word === 'update') {
    if (isWord(tokens[i - 1], 'for')) return FOR_UPDATE
    if (isWord(tokens[i - 1], 'key') && isWord(tokens[i - 2], 'no')) return FOR_NO_KEY_UPDATE
    return RAW_UPDATE
  }
  if (word === 'share') {
    if (isWord(tokens[i - 1], 'for')) return FOR_SHARE
    if (isWord(tokens[i - 1], 'key') && isWord(tokens[i - 2], 'for')) return FOR_KEY_SHARE
    return undefined
  }
  return STATEMENTS.get(word)
}

function unfinishedLock(tokens: readonly SqlToken[]): QueryClassification | undefined {
  const n = tokens.length
  const last = tokens[n - 1]
  const unfinished =
    isWord(last, 'for') ||
    ((isWord(last, 'key') || isWord(last, 'no')) && isWord(tokens[n - 2], 'for')) ||
    (isWord(last, 'key') && isWord(tokens[n - 2], 'no') && isWord(tokens[n - 3], 'for'))
  return unfinished ? UNFINISHED_LOCK : undefined
}

/** The call whose argument list opens at `tokens[open]` (a `(`, a node, or the end of the text). */
function callHazard(
  tokens: readonly SqlToken[],
  open: number,
  values: readonly unknown[],
  options: ClassifyOptions,
): QueryClassification | undefined {
  const name = qualifiedNameBefore(tokens, open)
  if (name === undefined) {
    return undefined
  }
  const matched = matchWritingFunction(name, options.writingFunctions)
  if (matched !== undefined) {
    return writeBecause('writing-function', matched)
  }
  const entry = matchingEntry(name, options.conditionalWritingFunctions)
  const rule = entry === undefined ? undefined : options.conditionalWritingFunctions.get(entry)
  if (rule === undefined) {
    return undefined
  }
  const argument = tokens[open]?.text === '(' ? argumentAt(tokens, open, rule.argument) : undefined
  const known = argument === undefined ? undefined : literalValue(argument, values)
  return known !== undefined && !rule.writesWith(known.value)
    ? undefined
    : writeBecause('writing-function', normalizeFunctionName(name))
}

/** `schema.name`, `"pg_catalog"."nextval"`, `U&"…"`: the possibly qualified name just before `end`. */
function qualifiedNameBefore(tokens: readonly SqlToken[], end: number): string | undefined {
  let name: string | undefined
  for (let i = end - 1; i >= 0; i -= 2) {
    const part = tokens[i]
    if (part === undefined || (part.kind !== 'word' && part.kind !== 'name')) {
      return name
    }
    name = name === undefined ? part.text : `${part.text}.${name}`
    if (tokens[i - 1]?.text !== '.' || tokens[i - 1]?.kind !== 'symbol') {
      return name
    }
  }
  return name
}

/** The tokens of argument `index` of the list opened at `open`, or `undefined` when it is cut short. */
function argumentAt(
  tokens: readonly SqlToken[],
  open: number,
  index: number,
): SqlToken[] | undefined {
  let depth = 0
  let current = 0
  const argument: SqlToken[] = []
  for (let i = open + 1; i < tokens.length; i++) {
    const token = tokens[i] as SqlToken
    const symbol = token.kind === 'symbol' ? token.text : ''
    if (depth === 0 && (symbol === ')' || symbol === ',')) {
      if (current === index) return argument
      if (symbol === ')') return undefined
      current++
      continue
    }
    if (symbol === '(' || symbol === '[') depth++
    if (symbol === ')' || symbol === ']') depth--
    if (current === index) argument.push(token)
  }
  return undefined
}

/** The value of an argument that is one literal or one parameter of known value. */
function literalValue(
  argument: readonly SqlToken[],
  values: readonly unknown[],
): { readonly value: unknown } | undefined {
  if (argument.length !== 1) {
    return undefined
  }
  const token = argument[0] as SqlToken
  if (token.kind === 'number' || token.kind === 'string') {
    return { value: token.text }
  }
  if (token.kind === 'word' && token.text === 'null') {
    return { value: null }
  }
  if (token.kind !== 'parameter') {
    return undefined
  }
  const index = Number(token.text) - PARAMETER_BASE
  return index >= 0 && index < values.length ? { value: values[index] } : undefined
}

function isWord(token: SqlToken | undefined, word: string): boolean {
  return token?.kind === 'word' && token.text === word
}

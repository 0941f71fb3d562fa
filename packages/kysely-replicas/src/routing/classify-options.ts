import {
  postgresConditionalWritingFunctions,
  postgresWritingFunctions,
} from '../postgres/writing-functions.js'
import type { ConditionalWritingFunction } from './conditional-writing-function.js'
import { InvalidWritingFunctionError } from './invalid-writing-function-error.js'
import { normalizeFunctionName } from './writing-function-name.js'

/**
 * What `classifyQuery` needs besides the query. Made once per dialect by `createClassifyOptions`.
 *
 * ```ts
 * const options = createClassifyOptions(['app.create_order'])
 * options.writingFunctions.has('app.create_order') // true
 * ```
 */
export interface ClassifyOptions {
  /**
   * Lower-case function names, bare (`nextval`) or schema-qualified (`public.create_order`). A
   * bare name matches calls in any schema; a qualified one matches calls qualified the same way.
   */
  readonly writingFunctions: ReadonlySet<string>
  /** Functions that write for some values of one argument (`lo_open`), keyed like `writingFunctions`. */
  readonly conditionalWritingFunctions: ReadonlyMap<string, ConditionalWritingFunction>
}

const NO_CONDITIONAL_WRITES: ReadonlyMap<string, ConditionalWritingFunction> = new Map()

// One part of a name: an unquoted identifier, or a quoted one (where `""` stands for `"`).
const NAME_PART = /^(?:[\p{L}_][\p{L}\p{N}_$]*|"(?:[^"]|"")+")$/u

/**
 * Validates and normalizes the user's writing functions and adds them to PostgreSQL's.
 *
 * Names are trimmed and lower-cased, double quotes are dropped. An entry that is not a string, is
 * empty, has more than a schema and a name, or carries parentheses or arguments throws an
 * {@link InvalidWritingFunctionError}.
 *
 * ```ts
 * const options = createClassifyOptions(['create_order', 'Billing.Charge'])
 * classifyQuery(db.selectNoFrom((eb) => eb.fn('billing.charge', []).as('c')).toOperationNode(), options)
 * // { access: 'write', reason: 'writing-function', detail: 'billing.charge' }
 * ```
 */
export function createClassifyOptions(
  userFunctions: readonly string[] = [],
  includePostgresDefaults = true,
): ClassifyOptions {
  if (!Array.isArray(userFunctions)) {
    throw new InvalidWritingFunctionError(
      userFunctions,
      undefined,
      'must be an array of function names',
    )
  }
  const writingFunctions = new Set<string>(includePostgresDefaults ? postgresWritingFunctions : [])
  for (let index = 0; index < userFunctions.length; index++) {
    writingFunctions.add(validFunctionName(userFunctions[index], index))
  }
  const conditionalWritingFunctions = includePostgresDefaults
    ? postgresConditionalWritingFunctions
    : NO_CONDITIONAL_WRITES
  return Object.freeze({ writingFunctions, conditionalWritingFunctions })
}

function validFunctionName(value: unknown, index: number): string {
  if (typeof value !== 'string') {
    throw new InvalidWritingFunctionError(value, index, 'must be a string')
  }
  const name = value.trim()
  if (name === '') {
    throw new InvalidWritingFunctionError(value, index, 'is empty')
  }
  const parts = splitQualifiedName(name)
  if (parts.length > 2) {
    throw new InvalidWritingFunctionError(value, index, 'has more parts than `schema.function`')
  }
  if (!parts.every((part) => NAME_PART.test(part))) {
    throw new InvalidWritingFunctionError(value, index, 'is not a function name')
  }
  return normalizeFunctionName(name)
}

// Splits on the dots that are outside double quotes and trims each part.
function splitQualifiedName(name: string): string[] {
  const parts: string[] = []
  let quoted = false
  let start = 0
  for (let i = 0; i < name.length; i++) {
    const char = name[i]
    if (char === '"') {
      quoted = !quoted
    } else if (char === '.' && !quoted) {
      parts.push(name.slice(start, i).trim())
      start = i + 1
    }
  }
  parts.push(name.slice(start).trim())
  return parts
}

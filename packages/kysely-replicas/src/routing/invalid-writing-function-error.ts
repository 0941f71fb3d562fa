import { InvalidConfigError } from '../errors.js'

/**
 * An entry of `writingFunctions` is not a function name. Thrown when the dialect is created,
 * before any connection is made.
 *
 * ```ts
 * createClassifyOptions(['create_order()']) // throws InvalidWritingFunctionError
 * createClassifyOptions(['create_order', 'app.cancel_order']) // what was meant
 * ```
 */
export class InvalidWritingFunctionError extends InvalidConfigError {
  /** The rejected entry, as given. */
  readonly value: unknown
  /** Its position in the list; `undefined` when the list itself is not an array. */
  readonly index: number | undefined

  constructor(value: unknown, index: number | undefined, problem: string) {
    const where = index === undefined ? 'writingFunctions' : `writingFunctions[${index}]`
    super(
      `${where} ${problem} (got ${describe(value)}). List function names as written in SQL, ` +
        "without parentheses or arguments: ['create_order', 'app.cancel_order'].",
    )
    this.value = value
    this.index = index
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) {
    return 'an array'
  }
  return value === null ? 'null' : typeof value
}

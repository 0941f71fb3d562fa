/**
 * A function that writes for some values of one of its arguments only, such as PostgreSQL's
 * `lo_open(fd, mode)`, which writes when `mode` asks for writing. A call whose argument is not a
 * literal or a parameter value counts as writing.
 *
 * ```ts
 * const loOpen: ConditionalWritingFunction = { argument: 1, writesWith: (mode) => mode !== 0x40000 }
 * ```
 */
export interface ConditionalWritingFunction {
  /** The position of the deciding argument, from 0. */
  readonly argument: number
  /**
   * Whether the call writes with this argument: a parameter's JavaScript value, or the text of
   * a numeric or string literal (`'131072'`, `'0x20000'`).
   */
  writesWith(value: unknown): boolean
}

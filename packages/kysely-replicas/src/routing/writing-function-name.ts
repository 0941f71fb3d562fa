/**
 * The form function names are compared in: lower-case, without double quotes, without spaces
 * around the dot. Quoted names are case-sensitive in PostgreSQL, so folding them can only match
 * more calls, never fewer: a false match costs a query on the primary, a missed one a failure
 * (or a lock taken on the wrong server) on a replica. Callers trim the name.
 *
 * ```ts
 * normalizeFunctionName('"Public" . NextVal') // 'public.nextval'
 * ```
 */
export function normalizeFunctionName(name: string): string {
  // Names written by Kysely users are nearly always already in this form; checking saves the
  // allocations of the slow path on the hot path.
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    const plain =
      (code >= 97 && code <= 122) ||
      (code >= 48 && code <= 57) ||
      code === 95 ||
      code === 46 ||
      code === 36
    if (!plain) {
      return name
        .replaceAll('"', '')
        .replace(/\s*\.\s*/g, '.')
        .toLowerCase()
    }
  }
  return name
}

/** A set of normalized function names, or a map keyed by them. */
export interface FunctionNames {
  has(name: string): boolean
}

/**
 * The normalized name of a called function when the set lists it, else `undefined`. A bare entry
 * (`nextval`) matches the function in any schema (`pg_catalog.nextval`); a qualified entry
 * (`app.create_order`) matches calls qualified the same way.
 *
 * ```ts
 * matchWritingFunction('pg_catalog.NEXTVAL', new Set(['nextval'])) // 'pg_catalog.nextval'
 * ```
 */
export function matchWritingFunction(
  calledName: string,
  writingFunctions: FunctionNames,
): string | undefined {
  if (writingFunctions.has(calledName)) {
    return calledName
  }
  const name = normalizeFunctionName(calledName)
  return matchingEntry(name, writingFunctions) === undefined ? undefined : name
}

/**
 * The entry of `names` that a call matches (see {@link matchWritingFunction}), else `undefined`.
 *
 * ```ts
 * matchingEntry('pg_catalog.lo_open', new Map([['lo_open', rule]])) // 'lo_open'
 * ```
 */
export function matchingEntry(calledName: string, names: FunctionNames): string | undefined {
  const name = normalizeFunctionName(calledName)
  if (names.has(name)) {
    return name
  }
  const lastDot = name.lastIndexOf('.')
  if (lastDot === -1) {
    return undefined
  }
  const bare = name.slice(lastDot + 1)
  if (names.has(bare)) {
    return bare
  }
  // `database.schema.function`: PostgreSQL accepts the current database's name in front.
  const schemaDot = name.lastIndexOf('.', lastDot - 1)
  const qualified = schemaDot === -1 ? undefined : name.slice(schemaDot + 1)
  return qualified !== undefined && names.has(qualified) ? qualified : undefined
}

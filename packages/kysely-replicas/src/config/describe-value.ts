/**
 * A short description of a value a caller passed, for an error message: strings quoted,
 * numbers and the like as they print, anything else by kind. Never the contents of an object
 * (it may hold a password) nor the source of a function.
 *
 * ```ts
 * describeValue('nodedown') // '"nodedown"'
 * describeValue(db.selectFrom('person').execute()) // 'a Promise'
 * ```
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value)
  }
  if (typeof value === 'function') {
    return 'a function'
  }
  if (typeof value !== 'object' || value === null) {
    return String(value)
  }
  if (typeof (value as { then?: unknown }).then === 'function') {
    return 'a Promise'
  }
  return Array.isArray(value) ? 'an array' : 'an object'
}

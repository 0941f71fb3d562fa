import { randomBytes } from 'node:crypto'

/** A random password that needs no escaping in a URL, a conninfo string or a SQL literal. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url')
}

/**
 * `postgres://user:secret@host/db` becomes `postgres://user:***@host/db`, for error messages
 * and logs.
 *
 * ```ts
 * redactConnectionString('postgres://app:secret@127.0.0.1:5432/app') // 'postgres://app:***@127.0.0.1:5432/app'
 * ```
 */
export function redactConnectionString(connectionString: string): string {
  return connectionString.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/, '$1:***@')
}

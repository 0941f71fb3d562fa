// user:password@ in any URL-like string, as in a connection string inside a driver's message.
const CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi

/** An error's message, safe for events, logs and stats: passwords in URLs are masked. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(CREDENTIALS, '$1***@')
}

/**
 * Pool settings for another server of the same cluster: `settings` (user, password, database,
 * TLS, timeouts) with `host` and `port` replaced, in a `connectionString` too, whose values
 * node-postgres prefers to the separate ones. Throws, naming no credential, when the connection
 * string is not a URL whose address can be replaced.
 *
 * ```ts
 * settingsAtAddress({ connectionString: 'postgres://app:secret@10.0.0.1:5432/app', max: 20 }, '10.0.0.4', 5432)
 * // { connectionString: 'postgres://app:secret@10.0.0.4:5432/app', max: 20, host: '10.0.0.4', port: 5432 }
 * ```
 */
export function settingsAtAddress(settings: object, host: string, port: number): object {
  const { connectionString } = settings as { connectionString?: unknown }
  const moved: Record<string, unknown> = { ...settings, host, port }
  if (connectionString === undefined) {
    return moved
  }
  let url: URL | undefined
  try {
    url = typeof connectionString === 'string' ? new URL(connectionString) : undefined
  } catch {
    url = undefined
  }
  if (url === undefined || url.host === '') {
    throw new TypeError(
      "the first node's connectionString is not a postgres://user:password@host:port/database URL, so no other server's can be made from it; give host and port as separate settings",
    )
  }
  // An IPv6 address is written in brackets in a URL.
  url.hostname = host.includes(':') ? `[${host}]` : host
  url.port = String(port)
  // libpq-style overrides of the address in the query string would win over the new one.
  url.searchParams.delete('host')
  url.searchParams.delete('hostaddr')
  url.searchParams.delete('port')
  moved.connectionString = url.toString()
  return moved
}

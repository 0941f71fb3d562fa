import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A value of a `postgresql.conf` setting: booleans become `on`/`off`, strings are quoted.
 *
 * ```ts
 * await PgCluster.start({ settings: { max_connections: 200, log_statement: 'all', jit: false } })
 * ```
 */
export type SettingValue = string | number | boolean

/** `key = 'value'` lines, quoted the way PostgreSQL's configuration parser expects. */
export function renderSettings(settings: Readonly<Record<string, SettingValue>>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = ${quote(value)}\n`)
    .join('')
}

/**
 * Sets (or, for `null`, removes) settings in a data directory's `postgresql.auto.conf`, the file
 * `ALTER SYSTEM` writes. Used for what differs between the copies of one data directory (port,
 * upstream server, slot) while the server is down; a running server is changed with
 * `ALTER SYSTEM` instead.
 */
export async function setAutoConf(
  dataDir: string,
  settings: Readonly<Record<string, SettingValue | null>>,
): Promise<void> {
  const file = join(dataDir, 'postgresql.auto.conf')
  let current = ''
  try {
    current = await readFile(file, 'utf8')
  } catch {}
  const keys = new Set(Object.keys(settings).map((key) => key.toLowerCase()))
  const kept = current
    .split('\n')
    .filter((line) => line !== '' && !keys.has(settingKey(line) ?? ''))
    .map((line) => `${line}\n`)
    .join('')
  const added = renderSettings(
    Object.fromEntries(
      Object.entries(settings).filter(
        (entry): entry is [string, SettingValue] => entry[1] !== null,
      ),
    ),
  )
  // writeFile keeps the existing file's owner, which matters when root edits the server's files.
  await writeFile(file, kept + added, { mode: 0o600 })
}

/** A libpq connection string (`host=... port=...`), as `primary_conninfo` takes it. */
export function conninfo(params: Readonly<Record<string, string | number>>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}='${String(value).replace(/[\\']/g, (c) => `\\${c}`)}'`)
    .join(' ')
}

/**
 * A SQL string literal. Only for statements that take no parameters (`ALTER SYSTEM`,
 * `CREATE ROLE ... PASSWORD`).
 */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/** A SQL identifier, quoted. */
export function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

function quote(value: SettingValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off'
  if (typeof value === 'number') return String(value)
  return sqlLiteral(value)
}

function settingKey(line: string): string | undefined {
  return /^\s*([A-Za-z_][\w.]*)\s*=/.exec(line)?.[1]?.toLowerCase()
}

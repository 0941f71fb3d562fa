import type { SettingValue } from '@kysely-replicas/pg-cluster'

/** Where a node keeps its data: the container's own filesystem, gone with the container. */
const DATA_DIR = '/tmp/kysely-replicas/data'

/**
 * The program each container runs, as the `postgres` user, with `sh`. It uses only what the
 * official `postgres` images guarantee (the server binaries on `PATH`, a `postgres` user, `sh`)
 * and none of their entrypoint, so any image built like them works. On the first start it makes
 * the data directory (`initdb` on the primary, `pg_basebackup` from the primary on a replica);
 * on later starts (after `stop`/`kill`) it reuses it. Then the server replaces the shell, so that
 * signals sent to the container reach the postmaster.
 */
export const NODE_SCRIPT = `set -eu
D=${DATA_DIR}
if [ ! -s "$D/PG_VERSION" ]; then
  rm -rf "$D" && mkdir -p "$D" && chmod 700 "$D"
  if [ "$NODE_MODE" = primary ]; then
    printf '%s\\n' "$PGPASSWORD" > "$D.pw"
    initdb -D "$D" -U postgres --pwfile="$D.pw" --auth=scram-sha-256 -E UTF8 --no-sync >/dev/null
    rm -f "$D.pw"
    printf '%s\\n' "$NODE_CONF" >> "$D/postgresql.conf"
    printf '%s\\n' 'host all all all scram-sha-256' 'host replication all all scram-sha-256' > "$D/pg_hba.conf"
  else
    pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U "$PGUSER" -D "$D" -X stream -S "$NODE_SLOT" --checkpoint=fast --no-sync
    printf '%s\\n' "$NODE_CONF" >> "$D/postgresql.auto.conf"
    touch "$D/standby.signal"
  fi
fi
unset PGPASSWORD NODE_CONF
exec postgres -D "$D"
`

/** What every server's log says once it takes connections (read-only ones on a replica). */
export const READY_LOG_LINE = /database system is ready to accept (read-only )?connections/

/** `key = 'value'` lines, quoted the way PostgreSQL's configuration parser expects. */
export function renderSettings(settings: Readonly<Record<string, SettingValue>>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = ${quoteSetting(value)}`)
    .join('\n')
}

/** A libpq connection string (`host=... port=...`), as `primary_conninfo` takes it. */
export function conninfo(params: Readonly<Record<string, string | number>>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}='${String(value).replace(/[\\']/g, (c) => `\\${c}`)}'`)
    .join(' ')
}

/** A SQL string literal, for statements that take no parameters (`ALTER SYSTEM`). */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/** A SQL identifier, quoted. */
export function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

function quoteSetting(value: SettingValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off'
  if (typeof value === 'number') return String(value)
  return sqlLiteral(value)
}

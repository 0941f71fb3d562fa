import type { ConditionalWritingFunction } from '../routing/conditional-writing-function.js'

// PostgreSQL built-in (and a few contrib) functions that send a `select` to the primary. A
// function is listed when one of these holds:
//
// - it fails on a hot standby (it writes data, catalogs or WAL, or needs a transaction id);
// - its effect lives on one server and the writers coordinate through it, so that running it on
//   a replica would succeed silently and mean something else (advisory locks);
// - it pairs with a later call that must reach the same server, and replicas are balanced, so
//   only the primary is a stable target (backup start/stop, replication-origin sessions,
//   `currval` after `nextval`).
//
// Not listed, on purpose:
// - `set_config`, `pg_sleep`, `pg_export_snapshot`, `txid_current_if_assigned`: they work on a
//   standby, and the session state some of them set is the pinning's business, not the router's.
// - `pg_stat_reset*`, `pg_cancel_backend`, `pg_terminate_backend`, `pg_reload_conf`,
//   `pg_rotate_logfile`, `lo_export`: they work on a standby and act on the server they run on;
//   which server is meant is the caller's choice (`onPrimary()` / `onReplica(i)`).
// - `pg_promote`, `pg_wal_replay_pause`, `pg_wal_replay_resume`, `pg_sync_replication_slots`:
//   they only work on a standby.
// - The pre-10 `xlog` names (`pg_switch_xlog`, …): those servers are long out of support.

/** Sequences: `nextval` and `setval` write; `currval` and `lastval` read what `nextval` set in the same session, which ran on the primary. */
const sequences = ['currval', 'lastval', 'nextval', 'setval']

/** Assigning a transaction id is impossible during recovery. */
const transactionIds = ['pg_current_xact_id', 'txid_current']

/** Advisory locks work on a standby, but only lock that server: writers never see them. */
const advisoryLocks = [
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_all',
  'pg_advisory_unlock_shared',
  'pg_advisory_xact_lock',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared',
]

/** `NOTIFY` is refused during recovery. */
const notifications = ['pg_notify']

/** Large objects are table rows (`pg_largeobject`): creating, writing and unlinking them writes. */
const largeObjects = [
  'lo_creat',
  'lo_create',
  'lo_from_bytea',
  'lo_import',
  'lo_put',
  'lo_truncate',
  'lo_truncate64',
  'lo_unlink',
  'lowrite',
]

/** WAL control: these raise "recovery is in progress" on a standby. */
const walControl = [
  'pg_create_restore_point',
  'pg_current_wal_flush_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_lsn',
  'pg_log_standby_snapshot',
  'pg_switch_wal',
  'pg_walfile_name',
  'pg_walfile_name_offset',
]

/**
 * Backup control: the exclusive backups of `pg_start_backup` (before PostgreSQL 15) fail during
 * recovery, and a backup's start and stop must reach the same server.
 */
const backupControl = ['pg_backup_start', 'pg_backup_stop', 'pg_start_backup', 'pg_stop_backup']

/**
 * Replication slots and logical decoding: slots live on the server that created them (the
 * primary, for the slots an application manages), and emitting a message writes WAL.
 */
const replicationSlots = [
  'pg_copy_logical_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_create_physical_replication_slot',
  'pg_drop_replication_slot',
  'pg_logical_emit_message',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_slot_get_changes',
  'pg_logical_slot_peek_binary_changes',
  'pg_logical_slot_peek_changes',
  'pg_replication_slot_advance',
]

/**
 * Replication origins: creating, dropping and advancing them writes a catalog, and a session or
 * transaction set up to replay changes is one that writes.
 */
const replicationOrigins = [
  'pg_replication_origin_advance',
  'pg_replication_origin_create',
  'pg_replication_origin_drop',
  'pg_replication_origin_session_progress',
  'pg_replication_origin_session_reset',
  'pg_replication_origin_session_setup',
  'pg_replication_origin_xact_reset',
  'pg_replication_origin_xact_setup',
]

/** Catalog writes: collations and the planner statistics that `pg_dump` restores (PostgreSQL 18). */
const catalogWrites = [
  'pg_clear_attribute_stats',
  'pg_clear_relation_stats',
  'pg_import_system_collations',
  'pg_restore_attribute_stats',
  'pg_restore_relation_stats',
]

/** Index maintenance writes index pages. */
const indexMaintenance = [
  'brin_desummarize_range',
  'brin_summarize_new_values',
  'brin_summarize_range',
  'gin_clean_pending_list',
]

/**
 * Contrib: `dblink_exec` runs a command on another connection, often a loopback to this very
 * database to write outside the transaction, which a standby cannot take; `pg_surgery` and
 * `pg_visibility` repair functions write pages.
 */
const contrib = [
  'dblink_exec',
  'heap_force_freeze',
  'heap_force_kill',
  'pg_truncate_visibility_map',
]

/**
 * The PostgreSQL functions that make a `select` unsafe on a hot standby, sorted and lower-case.
 * `createClassifyOptions` starts from this list; user functions are added to it.
 *
 * ```ts
 * postgresWritingFunctions.includes('nextval') // true
 * postgresWritingFunctions.includes('set_config') // false: session state, handled by pinning
 * ```
 */
export const postgresWritingFunctions: readonly string[] = Object.freeze(
  [
    ...sequences,
    ...transactionIds,
    ...advisoryLocks,
    ...notifications,
    ...largeObjects,
    ...walControl,
    ...backupControl,
    ...replicationSlots,
    ...replicationOrigins,
    ...catalogWrites,
    ...indexMaintenance,
    ...contrib,
  ].sort(),
)

/** `lo_open`'s mode bit for writing (`INV_WRITE` in `libpq/libpq-fs.h`). */
const INV_WRITE = 0x20000n

/**
 * PostgreSQL functions that write for some argument values only: `lo_open(fd, mode)` opens a
 * large object for writing (and is refused on a hot standby) when `mode` has `INV_WRITE` set. A
 * mode that is not a known integer counts as writing.
 *
 * ```ts
 * postgresConditionalWritingFunctions.get('lo_open')?.writesWith(0x40000) // false: INV_READ
 * postgresConditionalWritingFunctions.get('lo_open')?.writesWith('0x20000') // true
 * ```
 */
export const postgresConditionalWritingFunctions: ReadonlyMap<string, ConditionalWritingFunction> =
  new Map([['lo_open', Object.freeze({ argument: 1, writesWith: opensForWriting })]])

function opensForWriting(mode: unknown): boolean {
  if (mode === null) {
    // `lo_open` is strict: with a null mode it returns null and opens nothing.
    return false
  }
  const value = integerValue(mode)
  return value === undefined || (value & INV_WRITE) !== 0n
}

// What PostgreSQL's integer input accepts (version 16 on): decimal, `0x`, `0o` and `0b` forms,
// underscores between digits, a sign, blanks around.
const INTEGER_INPUT =
  /^\s*([+-]?)(0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[oO][0-7](?:_?[0-7])*|0[bB][01](?:_?[01])*|\d(?:_?\d)*)\s*$/

function integerValue(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') {
    return value
  }
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? BigInt(value) : undefined
  }
  const match = typeof value === 'string' ? INTEGER_INPUT.exec(value) : null
  if (match === null) {
    return undefined
  }
  const magnitude = BigInt((match[2] ?? '').replaceAll('_', ''))
  return match[1] === '-' ? -magnitude : magnitude
}

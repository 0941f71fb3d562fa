import { CompiledQuery, type DatabaseConnection, type QueryResult } from 'kysely'
import type { ReplayedPosition } from '../consistency/known-replay.js'
import type { PositionSource } from '../consistency/position-source.js'
import { formatLsn, parseLsn } from './lsn.js'

// The insert position, not pg_current_wal_lsn() (the write position): after an asynchronous
// commit (synchronous_commit = off) the commit record may not be written out yet, and a replica
// that has replayed the write position would not have the transaction.
const CURRENT = CompiledQuery.raw(
  "select pg_current_wal_insert_lsn()::text as lsn, current_setting('wal_block_size')::int as block",
)
// The sizes of a WAL page header (short, and long at the start of a segment), MAXALIGNed.
const PAGE_HEADERS: ReadonlySet<bigint> = new Set([24n, 40n])
// A node that is no longer in recovery (promoted) has replayed all it has; pg_current_wal_lsn()
// fails during recovery, hence the case. The server is named by its address and start time: two
// servers behind one load-balanced endpoint differ, and a server that restarts (after a rewind,
// say) is a new one.
const REPLAYED_LSN =
  '(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)'
const SERVER = "concat_ws('/', inet_server_addr(), inet_server_port(), pg_postmaster_start_time())"
const REPLAYED = CompiledQuery.raw(`select ${REPLAYED_LSN}::text as lsn, ${SERVER} as server`)
// The server polls its own replay position, every half millisecond, until it reaches the target
// or the time is up: one round trip per waiting read, however long the wait. The read that
// follows is a new statement, whose snapshot has what was replayed by then.
const WAIT_FOR_REPLAY = `with recursive wait(lsn) as (
  select ${REPLAYED_LSN}
  union all
  select ${REPLAYED_LSN} from wait
  where lsn < $1::pg_lsn
    and clock_timestamp() < statement_timestamp() + make_interval(secs => $2::float8 / 1000)
    and pg_sleep(0.0005) is not null
) select max(lsn)::text as lsn, ${SERVER} as server from wait`
const CLUSTER = CompiledQuery.raw('select system_identifier::text as id from pg_control_system()')

/**
 * Positions of PostgreSQL's write-ahead log, for read-your-writes: the primary's
 * `pg_current_wal_insert_lsn()` after a write, a replica's `pg_last_wal_replay_lsn()`, and the
 * cluster's `system_identifier` (shared by a primary and its physical replicas).
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, readYourWrites: { mode: 'position', positions: postgresPositions } })
 * ```
 */
export const postgresPositions: PositionSource = Object.freeze({
  async primaryPosition(connection: DatabaseConnection): Promise<bigint> {
    const { rows } = await connection.executeQuery<{ lsn: string | null; block: number }>(CURRENT)
    const row = rows[0]
    return row?.lsn == null ? 0n : commitEnd(parseLsn(row.lsn), BigInt(row.block))
  },
  async replayedPosition(connection: DatabaseConnection): Promise<ReplayedPosition> {
    return replayedFrom(await connection.executeQuery<ReplayedRow>(REPLAYED))
  },
  async waitForReplay(
    connection: DatabaseConnection,
    position: bigint,
    timeoutMs: number,
  ): Promise<ReplayedPosition> {
    const query = CompiledQuery.raw(WAIT_FOR_REPLAY, [formatLsn(position), timeoutMs])
    return replayedFrom(await connection.executeQuery<ReplayedRow>(query))
  },
  async clusterId(connection: DatabaseConnection): Promise<string> {
    const { rows } = await connection.executeQuery<{ id: string }>(CLUSTER)
    return rows[0]?.id ?? ''
  },
})

/**
 * When the last record ended exactly at a page boundary, the insert position points past the
 * next page's header, where no record ends: a replica that has replayed everything reports the
 * boundary. Lowered to the boundary, the position is one such a replica reaches; otherwise a
 * read would wait for the next WAL record.
 */
interface ReplayedRow {
  readonly lsn: string | null
  readonly server: string
}

function replayedFrom({ rows }: QueryResult<ReplayedRow>): ReplayedPosition {
  const row = rows[0]
  return { position: row?.lsn == null ? 0n : parseLsn(row.lsn), server: row?.server }
}

function commitEnd(insertPosition: bigint, blockSize: bigint): bigint {
  const offset = insertPosition % blockSize
  return PAGE_HEADERS.has(offset) ? insertPosition - offset : insertPosition
}

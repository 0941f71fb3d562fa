import type { CompiledQuery } from 'kysely'
import type pg from 'pg'

/** What a hot standby made of a query. */
export type StandbyVerdict =
  | { readonly kind: 'served' }
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'other-error'; readonly message: string }

// How a standby refuses what only a primary can do:
// - 25006 read_only_sql_transaction: "cannot execute UPDATE in a read-only transaction",
//   "cannot execute nextval() …", "cannot execute lo_open(INV_WRITE) …", "cannot execute NOTIFY
//   during recovery" (PreventCommandIfReadOnly / PreventCommandDuringRecovery);
// - 55000 object_not_in_prerequisite_state: "recovery is in progress" (WAL control functions);
// - XX000 from elog(): "cannot assign TransactionIds during recovery" (txid_current and any
//   transaction id assignment).
const REFUSED_CODES = new Set(['25006'])
const REFUSED_MESSAGE = /recovery is in progress|during recovery|read-only transaction/i

/**
 * Runs a compiled query on a standby inside a read-only transaction that is always rolled back,
 * with a short statement timeout, and says whether the standby served it, refused it as a write
 * or failed it for another reason.
 */
export async function runOnStandby(
  client: pg.Client,
  query: CompiledQuery,
): Promise<StandbyVerdict> {
  await client.query("begin transaction read only; set local statement_timeout = '5s'")
  try {
    await client.query(query.sql, query.parameters as unknown[])
    return { kind: 'served' }
  } catch (error) {
    const { code, message } = error as { code?: string; message: string }
    const refused = (code !== undefined && REFUSED_CODES.has(code)) || REFUSED_MESSAGE.test(message)
    return { kind: refused ? 'refused' : 'other-error', message }
  } finally {
    await client.query('rollback')
  }
}

import { PgClusterError } from './errors.js'
import { parseLsn } from './lsn.js'
import { type PgConnectionConfig, queryRows, type SqlSession, withClient } from './sql-client.js'
import { waitFor } from './wait-for.js'

/**
 * A node that replay control talks to as the superuser, whatever runs it (a local process, a
 * container).
 *
 * ```ts
 * const target: ReplayTarget = cluster.node('replica1')
 * ```
 */
export interface ReplayTarget {
  readonly name: string
  adminConfig(): PgConnectionConfig
}

/**
 * How long a replay operation may wait, and the `application_name` of its connections.
 *
 * ```ts
 * await resumeReplayOn(replica, { timeoutMs: 30_000 })
 * ```
 */
export interface ReplayWaitOptions {
  readonly timeoutMs: number
  /** `'pg-cluster'` by default. */
  readonly applicationName?: string
}

/**
 * How long pausing may wait, and how to make an idle primary write some WAL.
 *
 * ```ts
 * await pauseReplayOn(replica, { timeoutMs: 30_000, nudgePrimary: () => writeSomething() })
 * ```
 */
export interface PauseReplayOptions extends ReplayWaitOptions {
  readonly nudgePrimary: () => Promise<void>
}

/**
 * Pauses WAL replay on a replica (`pg_wal_replay_pause()`) and resolves once it is paused; the
 * engine of `pauseReplay()`.
 *
 * ```ts
 * await pauseReplayOn(cluster.node('replica1'), { timeoutMs: 30_000, nudgePrimary })
 * ```
 */
export async function pauseReplayOn(
  replica: ReplayTarget,
  { timeoutMs, nudgePrimary, applicationName }: PauseReplayOptions,
): Promise<void> {
  await withClient(
    replica.adminConfig(),
    async (client) => {
      await client.query('select pg_wal_replay_pause()')
      const started = Date.now()
      let nudged = 0
      await waitFor(
        `replay to pause on "${replica.name}"`,
        async () => {
          if ((await pauseState(client)) === 'paused') return true
          // Replay only pauses when it reaches the next WAL record; an idle primary writes
          // none for a long time, so give it one.
          if (Date.now() - started > 100 * (nudged + 1)) {
            nudged++
            await nudgePrimary()
          }
          return undefined
        },
        { timeoutMs, intervalMs: 10 },
      )
    },
    { applicationName },
  )
}

/**
 * Resumes WAL replay on a paused replica and resolves once replay runs again; the engine of
 * `resumeReplay()`.
 *
 * ```ts
 * await resumeReplayOn(cluster.node('replica1'), { timeoutMs: 30_000 })
 * ```
 */
export async function resumeReplayOn(
  replica: ReplayTarget,
  { timeoutMs, applicationName }: ReplayWaitOptions,
): Promise<void> {
  await withClient(
    replica.adminConfig(),
    async (client) => {
      await client.query('select pg_wal_replay_resume()')
      await waitFor(
        `replay to resume on "${replica.name}"`,
        async () => ((await pauseState(client)) === 'not paused' ? true : undefined),
        { timeoutMs, intervalMs: 10 },
      )
    },
    { applicationName },
  )
}

/**
 * Throws unless `ms` is a valid `recovery_min_apply_delay` (a whole number of ms >= 0).
 *
 * ```ts
 * assertApplyDelay(1500)
 * ```
 */
export function assertApplyDelay(ms: number): void {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new PgClusterError(`The apply delay must be a whole number of ms >= 0, not ${ms}.`)
  }
}

/**
 * Sets `recovery_min_apply_delay` on a replica and resolves once the server uses the new value;
 * the engine of `setApplyDelay()`.
 *
 * ```ts
 * await setApplyDelayOn(cluster.node('replica2'), 1500, { timeoutMs: 30_000 })
 * ```
 */
export async function setApplyDelayOn(
  replica: ReplayTarget,
  ms: number,
  { timeoutMs, applicationName }: ReplayWaitOptions,
): Promise<void> {
  await withClient(
    replica.adminConfig(),
    async (client) => {
      await client.query(`alter system set recovery_min_apply_delay = '${ms}ms'`)
      await client.query('select pg_reload_conf()')
    },
    { applicationName },
  )
  // A new session sees the value once the postmaster has reloaded, which it does before it
  // signals the startup process that applies WAL.
  await waitFor(
    `"${replica.name}" to use recovery_min_apply_delay = ${ms}ms`,
    async () => {
      const [row] = await queryRows<{ setting: string }>(
        replica.adminConfig(),
        `select setting from pg_settings where name = 'recovery_min_apply_delay'`,
        [],
        { applicationName },
      )
      return row?.setting === String(ms) ? true : undefined
    },
    { timeoutMs, intervalMs: 10 },
  )
}

/**
 * Resolves once every replica given has replayed everything the primary had written when this
 * was called; the engine of `waitForReplay()`.
 *
 * ```ts
 * await waitForReplayOn(cluster.primary, cluster.replicas, { timeoutMs: 5000 })
 * ```
 */
export async function waitForReplayOn(
  primary: ReplayTarget,
  replicas: readonly ReplayTarget[],
  { timeoutMs, applicationName }: ReplayWaitOptions,
): Promise<void> {
  const [row] = await queryRows<{ lsn: string }>(
    primary.adminConfig(),
    'select pg_current_wal_lsn()::text as lsn',
    [],
    { applicationName },
  )
  const lsn = row?.lsn as string
  const target = parseLsn(lsn)
  await Promise.all(
    replicas.map((replica) =>
      withClient(
        replica.adminConfig(),
        (client) =>
          waitFor(
            `"${replica.name}" to replay up to ${lsn} (is its replay paused or delayed?)`,
            async () => {
              const { rows } = await client.query<{ lsn: string | null }>(
                'select pg_last_wal_replay_lsn()::text as lsn',
              )
              const replayed = rows[0]?.lsn
              return replayed != null && parseLsn(replayed) >= target ? true : undefined
            },
            { timeoutMs, intervalMs: 10 },
          ),
        { applicationName },
      ),
    ),
  )
}

async function pauseState(client: SqlSession): Promise<string | undefined> {
  const { rows } = await client.query<{ state: string }>(
    'select pg_get_wal_replay_pause_state() as state',
  )
  return rows[0]?.state
}

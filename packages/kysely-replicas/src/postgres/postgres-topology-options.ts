import { checkOptionNames, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import type { LagBound } from '../topology/lag-gate.js'

/**
 * What happens when more than one node says it is the primary (not in recovery):
 *
 * - `refuse-writes` (default): every one of them keeps the primary role, so writes fail with
 *   `SplitBrainError` until all but one are demoted or stopped. Reads keep going to the
 *   replicas. Nothing is written to a server that may be thrown away.
 * - `prefer-configured`: if the configured primary (the `primary` of the config) is one of
 *   them, it keeps taking writes and the others get no reads (they are shown as lagging);
 *   otherwise writes are refused as with `refuse-writes`. Only for setups where the configured
 *   primary is authoritative, such as a replica promoted by mistake: after a real failover, an
 *   old primary that comes back un-demoted would take the writes again and the rows written to
 *   the promoted node would be missing from it.
 *
 * ```ts
 * postgresTopology({ splitBrain: 'prefer-configured' })
 * ```
 */
export type SplitBrainPolicy = 'refuse-writes' | 'prefer-configured'

/**
 * How far behind the primary a replica may be and still get reads; either bound, or both. A
 * replica beyond a bound is kept out at once, and gets reads again only once it is under
 * `resumeRatio` of every bound, or has stayed within them for `resumeAfterMs`: one that hovers
 * at the bound does not flap in and out with every check.
 *
 * ```ts
 * const bound: MaxReplicationLag = { bytes: 16_000_000, seconds: 5 }
 * const strict: MaxReplicationLag = { seconds: 5, resumeRatio: 0.5, resumeAfterMs: 30_000 }
 * ```
 */
export interface MaxReplicationLag {
  /**
   * WAL bytes the replica has not replayed yet. A large write puts every replica that many bytes
   * behind for a moment; a check that falls then keeps it out until the next check, so set this
   * well above your largest transactions (or bound `seconds` only).
   */
  readonly bytes?: number
  /**
   * Seconds of commits the replica has not replayed yet: 0 when it has replayed everything the
   * primary wrote; else the age of its last replayed commit, capped by the time since it was
   * last seen caught up.
   */
  readonly seconds?: number
  /**
   * A replica kept out gets reads again once its lag is at most this share of every bound, a
   * number in (0, 1]. Default 0.8; 1 lets it back as soon as it is within the bounds.
   */
  readonly resumeRatio?: number
  /**
   * ... or once its lag stayed within the bounds for this long, in ms, so that a replica that
   * settles just under a bound is not kept out for good. Default 5000.
   */
  readonly resumeAfterMs?: number
}

/**
 * The options of {@link postgresTopology}.
 *
 * ```ts
 * const options: PostgresTopologyOptions = {
 *   intervalMs: 1000,
 *   maxReplicationLag: { bytes: 16_000_000, seconds: 5 },
 *   splitBrain: 'refuse-writes',
 * }
 * ```
 */
export interface PostgresTopologyOptions {
  /**
   * Time between two checks of every node, in ms. Default 1000. Each check is one query per
   * node on the monitor's own connection; lower it to notice lag and demotions sooner.
   */
  readonly intervalMs?: number
  /**
   * Time between two checks while no node can take writes (the primary is down, none answers as
   * primary, or a split brain), so that a promotion is followed within this time. Default 250,
   * or `intervalMs` if shorter.
   */
  readonly outageIntervalMs?: number
  /**
   * How long a node may take to answer a check (getting a connection included), in ms. A node
   * that does not answer in time is marked down. Default 2000.
   */
  readonly timeoutMs?: number
  /**
   * Replicas further behind get no reads until they catch up. Default: none are excluded. Set
   * it when reads must not be older than a bound (read-your-writes covers a scope's own writes
   * only).
   */
  readonly maxReplicationLag?: MaxReplicationLag
  /**
   * What to do when several nodes say they are the primary (see {@link SplitBrainPolicy}).
   * Default `refuse-writes`.
   */
  readonly splitBrain?: SplitBrainPolicy
  /**
   * Called when a node answers a check with an error that is not a connection failure (a server
   * that is not PostgreSQL, a missing privilege); the node is left as it was. Default: a
   * `console.warn`, once per node until it answers again.
   */
  readonly onError?: (error: unknown, node: string) => void
}

/** {@link PostgresTopologyOptions} validated, with the defaults filled in. */
export interface TopologyOptions {
  readonly intervalMs: number
  readonly outageIntervalMs: number
  readonly timeoutMs: number
  /** The lag bound and when a replica kept out by it resumes (see {@link MaxReplicationLag}). */
  readonly lag: LagBound
  readonly splitBrain: SplitBrainPolicy
  readonly onError: ((error: unknown, node: string) => void) | undefined
}

const TOPOLOGY_OPTIONS: OptionNames<PostgresTopologyOptions> = Object.freeze({
  intervalMs: true,
  outageIntervalMs: true,
  timeoutMs: true,
  maxReplicationLag: true,
  splitBrain: true,
  onError: true,
})
const LAG_OPTIONS: OptionNames<MaxReplicationLag> = Object.freeze({
  bytes: true,
  seconds: true,
  resumeRatio: true,
  resumeAfterMs: true,
})
const POLICIES: readonly SplitBrainPolicy[] = ['refuse-writes', 'prefer-configured']

/** Validates the options of `postgresTopology()`; throws `InvalidConfigError` naming the option. */
export function normalizeTopologyOptions(
  options: PostgresTopologyOptions | undefined,
): TopologyOptions {
  if (options === undefined) {
    options = {}
  } else if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError(
      'postgresTopology() takes an options object, such as { intervalMs: 1000 }.',
    )
  }
  checkOptionNames(options, TOPOLOGY_OPTIONS, 'postgresTopology()')
  const splitBrain = options.splitBrain ?? 'refuse-writes'
  if (!POLICIES.includes(splitBrain)) {
    throw new InvalidConfigError(
      `postgresTopology(): splitBrain must be ${POLICIES.map((p) => `'${p}'`).join(' or ')}, got ${String(splitBrain)}.`,
    )
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidConfigError(
      'postgresTopology(): onError must be a function (error, node) => void.',
    )
  }
  const lag = options.maxReplicationLag
  if (lag !== undefined) {
    if (typeof lag !== 'object' || lag === null || Array.isArray(lag)) {
      throw new InvalidConfigError(
        'postgresTopology(): maxReplicationLag must be an object such as { bytes, seconds }.',
      )
    }
    checkOptionNames(lag, LAG_OPTIONS, 'postgresTopology(): maxReplicationLag')
    if (lag.bytes === undefined && lag.seconds === undefined) {
      throw new InvalidConfigError(
        'postgresTopology(): maxReplicationLag needs bytes, seconds or both; leave it out to exclude no replica.',
      )
    }
  }
  const intervalMs = positive(options.intervalMs ?? 1000, 'intervalMs', 'milliseconds')
  const outageIntervalMs = positive(
    options.outageIntervalMs ?? 250,
    'outageIntervalMs',
    'milliseconds',
  )
  return Object.freeze({
    intervalMs,
    outageIntervalMs: Math.min(outageIntervalMs, intervalMs),
    timeoutMs: positive(options.timeoutMs ?? 2000, 'timeoutMs', 'milliseconds'),
    lag: Object.freeze({
      maxBytes:
        lag?.bytes === undefined
          ? undefined
          : nonNegative(lag.bytes, 'maxReplicationLag.bytes', 'bytes'),
      maxSeconds:
        lag?.seconds === undefined
          ? undefined
          : nonNegative(lag.seconds, 'maxReplicationLag.seconds', 'seconds'),
      resumeRatio: ratio(lag?.resumeRatio ?? 0.8),
      resumeAfterMs: nonNegative(
        lag?.resumeAfterMs ?? 5000,
        'maxReplicationLag.resumeAfterMs',
        'milliseconds',
      ),
    }),
    splitBrain,
    onError: options.onError,
  })
}

function positive(value: unknown, name: string, unit: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidConfigError(
      `postgresTopology(): ${name} must be a positive number of ${unit}, got ${String(value)}.`,
    )
  }
  return value
}

function ratio(value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new InvalidConfigError(
      `postgresTopology(): maxReplicationLag.resumeRatio must be a number in (0, 1], got ${String(value)}.`,
    )
  }
  return value
}

function nonNegative(value: unknown, name: string, unit: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidConfigError(
      `postgresTopology(): ${name} must be a number of ${unit} >= 0, got ${String(value)}.`,
    )
  }
  return value
}

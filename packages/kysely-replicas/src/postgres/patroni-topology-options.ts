import { checkOptionNames, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import { normalizeTopologyOptions, type TopologyOptions } from './postgres-topology-options.js'

/**
 * The options of {@link patroniTopology}.
 *
 * ```ts
 * const options: PatroniTopologyOptions = {
 *   urls: ['http://10.0.0.1:8008', 'http://10.0.0.2:8008', 'http://10.0.0.3:8008'],
 *   intervalMs: 1000,
 *   maxReplicationLag: { bytes: 16_000_000 },
 * }
 * ```
 */
export interface PatroniTopologyOptions {
  /**
   * Patroni REST APIs to read `GET /cluster` from: any member's answers for the whole cluster, so
   * the next URL is only asked when one does not answer. List several.
   */
  readonly urls: readonly string[]
  /** Time between two reads of `/cluster`, in ms. Default 1000. */
  readonly intervalMs?: number
  /**
   * Time between two reads while no node takes writes (a failover in progress), so that the new
   * leader takes writes within this time (plus the API's answer) of Patroni naming it. Default
   * 100. The SQL checks that stand in while no API answers use `postgresTopology()`'s default
   * (250) unless this is set.
   */
  readonly outageIntervalMs?: number
  /**
   * How long a REST call, and the SQL check that confirms a new leader, may take, in ms. Also
   * the SQL checks' timeout while the API is unreachable. Default 2000.
   */
  readonly timeoutMs?: number
  /**
   * Replicas further behind (Patroni's `lag`, in WAL bytes) get no reads until they catch up.
   * Patroni reports no lag in seconds. Default: none are excluded for lag.
   */
  readonly maxReplicationLag?: {
    /** WAL bytes a replica may be behind and still get reads. */
    readonly bytes: number
    /** As in `postgresTopology()`'s `maxReplicationLag` (share of the bound). Default 0.8. */
    readonly resumeRatio?: number
    /** As in `postgresTopology()`'s `maxReplicationLag`, in ms. Default 5000. */
    readonly resumeAfterMs?: number
  }
}

/** {@link PatroniTopologyOptions} validated, with the defaults filled in. */
export interface PatroniOptions {
  readonly urls: readonly string[]
  readonly intervalMs: number
  readonly outageIntervalMs: number
  readonly timeoutMs: number
  /** The same bounds for the SQL checks that stand in while the API is unreachable. */
  readonly fallback: TopologyOptions
}

// One small HTTP request to any member: cheap to make often while a failover is under way, and
// what stands between Patroni naming a leader and the first write there (the drill measures it).
const OUTAGE_INTERVAL_MS = 100

const OPTIONS: OptionNames<PatroniTopologyOptions> = Object.freeze({
  urls: true,
  intervalMs: true,
  outageIntervalMs: true,
  timeoutMs: true,
  maxReplicationLag: true,
})

/** Validates the options of `patroniTopology()`; throws `InvalidConfigError` naming the option. */
export function normalizePatroniOptions(options: PatroniTopologyOptions): PatroniOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError(
      "patroniTopology() takes an options object: { urls: ['http://127.0.0.1:8008', …] }.",
    )
  }
  checkOptionNames(options, OPTIONS, 'patroniTopology()')
  const { urls, intervalMs, outageIntervalMs, timeoutMs, maxReplicationLag } = options
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every(isHttpUrl)) {
    throw new InvalidConfigError(
      "patroniTopology(): urls must be a non-empty array of Patroni REST API URLs, such as ['http://10.0.0.1:8008'].",
    )
  }
  if (
    maxReplicationLag !== undefined &&
    (typeof maxReplicationLag !== 'object' || maxReplicationLag === null)
  ) {
    throw new InvalidConfigError(
      'patroniTopology(): maxReplicationLag must be { bytes } (Patroni reports lag in bytes only).',
    )
  }
  if (maxReplicationLag !== undefined) {
    checkOptionNames(
      maxReplicationLag,
      { bytes: true, resumeRatio: true, resumeAfterMs: true },
      'patroniTopology(): maxReplicationLag',
    )
  }
  // The SQL monitor's validation covers the shared options, with its messages.
  const fallback = normalizeTopologyOptions({
    intervalMs,
    outageIntervalMs,
    timeoutMs,
    maxReplicationLag,
  })
  return Object.freeze({
    urls: Object.freeze([...urls]),
    intervalMs: fallback.intervalMs,
    outageIntervalMs:
      outageIntervalMs === undefined
        ? Math.min(OUTAGE_INTERVAL_MS, fallback.intervalMs)
        : fallback.outageIntervalMs,
    timeoutMs: fallback.timeoutMs,
    fallback,
  })
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false
  try {
    const { protocol } = new URL(value)
    return protocol === 'http:' || protocol === 'https:'
  } catch {
    return false
  }
}

import { checkOptionNames, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'

/**
 * Where a read goes when its replica fails with a connection-level error, or when no replica is
 * up:
 * - `replicas-then-primary` (default): another healthy replica, then the primary;
 * - `primary`: straight to the primary;
 * - `none`: nowhere; the error reaches the caller (the replica is still marked down).
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, fallback: 'primary' })
 * ```
 */
export type FallbackPolicy = 'replicas-then-primary' | 'primary' | 'none'

/**
 * Where reads go when no replica can take them, and how many of them the primary takes at once.
 * Fallback reads are single reads that run on the primary because no replica is up (or every
 * replica failed them, or their pools were full): they share the primary's pool with the
 * writes, and a replica fleet can send more reads than the primary's pool holds. Beyond
 * `maxConcurrent` such reads at once, a fallback read waits up to `waitMs` for one to end, then
 * fails with `NoReplicaAvailableError`, so that writes always find a connection. Writes,
 * `onPrimary()` reads, blocks, and reads that read-your-writes sends to the primary while a
 * replica is up are never counted nor refused.
 *
 * ```ts
 * // a primary pool of 20 (`max: 20`): fallback reads may use 10 of its connections
 * new ReplicatedDialect({ primary, replicas, fallback: { maxConcurrent: 10 } })
 * new ReplicatedDialect({ primary, replicas, fallback: { policy: 'primary', maxConcurrent: 'unlimited' } })
 * ```
 */
export interface FallbackConfig {
  /** Where a read goes first (see {@link FallbackPolicy}). Default `replicas-then-primary`. */
  readonly policy?: FallbackPolicy
  /**
   * Fallback reads running on the primary at once: a positive integer, `'unlimited'`, or
   * `'never'` (they fail at once with `NoReplicaAvailableError`). Default: half of the smallest
   * `poolSize` of the nodes (any may become the primary); `createPostgresReplicatedDialect`
   * sets each node's from its pool's `max`, and a node without one counts as node-postgres'
   * default pool of 10, so 5.
   */
  readonly maxConcurrent?: number | 'unlimited' | 'never'
  /** How long a fallback read beyond `maxConcurrent` waits for another one to end. Default 100 ms. */
  readonly waitMs?: number
}

/**
 * {@link FallbackConfig} validated: `maxConcurrent` `Infinity` when unlimited, `undefined` when
 * not given (the nodes' pool sizes decide).
 */
export interface FallbackOptions {
  readonly policy: FallbackPolicy
  readonly maxConcurrent: number | undefined
  readonly waitMs: number
}

/** {@link FallbackOptions} once the nodes' pool sizes gave `maxConcurrent` its default. */
export interface ResolvedFallback extends FallbackOptions {
  readonly maxConcurrent: number
}

const POLICIES: readonly FallbackPolicy[] = ['replicas-then-primary', 'primary', 'none']

// An option added to FallbackConfig fails the build here until it is listed.
const FALLBACK_OPTIONS: OptionNames<FallbackConfig> = Object.freeze({
  policy: true,
  maxConcurrent: true,
  waitMs: true,
})

function isFallbackPolicy(value: unknown): value is FallbackPolicy {
  return POLICIES.includes(value as FallbackPolicy)
}

/** Validates the policy or configuration, with every default filled in. */
export function normalizeFallback(
  config: FallbackPolicy | FallbackConfig | undefined,
): FallbackOptions {
  const given: FallbackConfig =
    typeof config === 'object' && config !== null && !Array.isArray(config)
      ? config
      : { policy: config as FallbackPolicy | undefined }
  checkOptionNames(given, FALLBACK_OPTIONS, 'fallback')
  const policy = given.policy ?? 'replicas-then-primary'
  if (!isFallbackPolicy(policy)) {
    const where = given === config ? 'fallback.policy' : 'fallback'
    throw new InvalidConfigError(
      `${where} must be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}${given === config ? '' : ', or an object { policy, maxConcurrent, waitMs }'}; got ${String(policy)}.`,
    )
  }
  const waitMs = given.waitMs ?? 100
  if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0) {
    throw new InvalidConfigError(
      `fallback.waitMs must be a number of milliseconds, 0 or more; got ${String(waitMs)}.`,
    )
  }
  return Object.freeze({ policy, maxConcurrent: maxConcurrentOf(given.maxConcurrent), waitMs })
}

function maxConcurrentOf(value: FallbackConfig['maxConcurrent']): number | undefined {
  if (value === undefined) {
    return undefined
  }
  if (value === 'unlimited') {
    return Number.POSITIVE_INFINITY
  }
  if (value === 'never') {
    return 0
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidConfigError(
      `fallback.maxConcurrent must be a positive integer, 'unlimited' or 'never'; got ${String(value)}.`,
    )
  }
  return value
}

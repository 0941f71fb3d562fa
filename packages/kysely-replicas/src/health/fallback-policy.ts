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

const POLICIES: readonly FallbackPolicy[] = ['replicas-then-primary', 'primary', 'none']

/** Validates the policy, defaulting to `replicas-then-primary`. */
export function normalizeFallback(policy: FallbackPolicy | undefined): FallbackPolicy {
  if (policy === undefined) {
    return 'replicas-then-primary'
  }
  if (!POLICIES.includes(policy)) {
    throw new InvalidConfigError(
      `fallback must be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}; got ${String(policy)}.`,
    )
  }
  return policy
}

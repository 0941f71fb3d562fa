import { checkOptionsObject, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import { isConnectionError, isSaturationError } from './is-connection-error.js'

/**
 * How nodes that fail are detected and probed back.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, health: { probeIntervalMs: 100, maxProbeIntervalMs: 1000 } })
 * ```
 */
export interface HealthConfig {
  /**
   * Delay before the first probe of a node marked down, in ms. Default 100. Lower it to bring
   * a node back sooner after a short blip.
   */
  readonly probeIntervalMs?: number
  /**
   * The probe delay doubles after each failed probe up to this, in ms. Default 1000. Raise it
   * to probe a long-dead node less often.
   */
  readonly maxProbeIntervalMs?: number
  /**
   * A probe that has not answered by then counts as failed, in ms. Default 2000. Raise it for
   * nodes far away or slow to accept connections.
   */
  readonly probeTimeoutMs?: number
  /**
   * Whether an error is the node's fault, so that it is marked down and a read is retried
   * elsewhere (see `isConnectionError`, the default, which knows PostgreSQL and Node.js
   * network errors). Give your own for a driver whose errors it does not know.
   */
  readonly isConnectionError?: (error: unknown) => boolean
  /**
   * Whether an error says the node's pool had no free connection in time (see
   * `isSaturationError`, the default): the read may be retried elsewhere, the node stays up.
   * Checked before `isConnectionError`.
   */
  readonly isSaturationError?: (error: unknown) => boolean
  /**
   * The probe's SQL. Default `select 1`. Change it when a node must prove more than that it
   * answers (a query on a table your app needs).
   */
  readonly probeSql?: string
}

/** {@link HealthConfig} with every default filled in. */
export type HealthOptions = Required<HealthConfig>

// An option added to HealthConfig fails the build here until it is listed.
const HEALTH_OPTIONS: OptionNames<HealthConfig> = Object.freeze({
  probeIntervalMs: true,
  maxProbeIntervalMs: true,
  probeTimeoutMs: true,
  isConnectionError: true,
  isSaturationError: true,
  probeSql: true,
})

/** Validates and completes the health configuration. */
export function normalizeHealth(config: HealthConfig | undefined): HealthOptions {
  if (config !== undefined) {
    checkOptionsObject(
      config,
      HEALTH_OPTIONS,
      'health',
      'an object such as { probeIntervalMs: 100 }',
    )
  }
  const options = {
    probeIntervalMs: config?.probeIntervalMs ?? 100,
    maxProbeIntervalMs: config?.maxProbeIntervalMs ?? 1000,
    probeTimeoutMs: config?.probeTimeoutMs ?? 2000,
    isConnectionError: config?.isConnectionError ?? isConnectionError,
    isSaturationError: config?.isSaturationError ?? isSaturationError,
    probeSql: config?.probeSql ?? 'select 1',
  }
  for (const key of ['probeIntervalMs', 'maxProbeIntervalMs', 'probeTimeoutMs'] as const) {
    const value = options[key]
    // Number.isFinite() is false for anything but a finite number: '100' and NaN included.
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidConfigError(
        `health.${key} must be a positive number of milliseconds, got ${String(value)}.`,
      )
    }
  }
  if (options.maxProbeIntervalMs < options.probeIntervalMs) {
    throw new InvalidConfigError(
      'health.maxProbeIntervalMs must not be less than health.probeIntervalMs.',
    )
  }
  for (const key of ['isConnectionError', 'isSaturationError'] as const) {
    if (typeof options[key] !== 'function') {
      throw new InvalidConfigError(`health.${key} must be a function (error) => boolean.`)
    }
  }
  if (typeof options.probeSql !== 'string' || options.probeSql.trim() === '') {
    throw new InvalidConfigError('health.probeSql must be a non-empty SQL string.')
  }
  return Object.freeze(options)
}

import { checkOptionNames, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import type { PositionSource } from './position-source.js'

/**
 * Read-your-writes: after a write, reads of the same scope see it.
 *
 * - `mode: 'position'` (the default when positions are known, as with PostgreSQL): a write
 *   records the primary's position after it commits; a later read of its scope goes to a replica
 *   that has replayed that position (known from a monitor, or asked), waits for one up to
 *   `maxWaitMs`, then goes to the primary (or throws, per `onTimeout`). Reads of a scope that
 *   wrote nothing pay nothing.
 * - `mode: 'sticky'` (any database): reads of a scope go to the primary for `windowMs` after its
 *   last write.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, readYourWrites: { maxWaitMs: 100, tokenSecret: process.env.RYW_SECRET } })
 * new ReplicatedDialect({ primary, replicas, readYourWrites: { mode: 'sticky', windowMs: 2000 } })
 * new ReplicatedDialect({ primary, replicas, readYourWrites: false }) // off
 * ```
 */
export interface ReadYourWritesConfig {
  /**
   * `position` (the default when `positions` is known: a PostgreSQL primary, or `positions`
   * given) or `sticky` (the default otherwise). Set `sticky` where WAL positions do not describe
   * a replica (Aurora, Neon: replicas on shared storage; see docs/deployment.md).
   */
  readonly mode?: 'position' | 'sticky'
  /**
   * How positions are read; `postgresPositions` by default with a PostgreSQL primary. Give your
   * own for another engine, or to read positions differently.
   */
  readonly positions?: PositionSource
  /**
   * Sticky mode: how long after a write its scope reads from the primary, in ms. Default 2000.
   * Set it above your replicas' usual lag; the longer, the more reads the primary serves.
   */
  readonly windowMs?: number
  /**
   * Position mode: how long a read waits for a replica to replay its scope's last write, in ms,
   * before `onTimeout` applies. Default 100. Raise it to keep more reads off the primary when
   * replicas often lag a little; 0 sends such reads to the primary (or fails them) at once.
   */
  readonly maxWaitMs?: number
  /**
   * Position mode: what a read does when no replica caught up within `maxWaitMs`: `primary`
   * (the default) reads from the primary; `error` throws a `StaleReadError` (retryable), for
   * when the primary must be kept free of reads.
   */
  readonly onTimeout?: 'primary' | 'error'
  /**
   * Signs tokens (HMAC-SHA256) so that forged or altered ones are refused; at least 16
   * characters (a shorter one is an `InvalidConfigError`). Unset (the default): tokens are not
   * signed. Set it whenever tokens travel through clients (cookies, headers), with the same
   * secret on every server that reads them.
   */
  readonly tokenSecret?: string
  /**
   * Whether each request that a node:http (or node:https) server of this process receives, and
   * each stream of a node:http2 server (Node 22 and 24), gets a scope of its own, before any of
   * its handlers runs: a write made while handling a request holds up that request's reads
   * only. Default `true`. A scope of yours (`runInScope()`, the recipes' middleware with a token)
   * takes precedence. `false`: requests share the dialect's scope, as all code outside a scope
   * does. Writes in a request are the dialect's too, so code outside requests (a job, a script)
   * still reads them.
   */
  readonly requestScopes?: boolean
}

/** {@link ReadYourWritesConfig} with defaults, for a given position source. */
export interface ReadYourWritesOptions {
  readonly mode: 'position' | 'sticky'
  /** Set in position mode only: sticky mode reads no position. */
  readonly positions: PositionSource | undefined
  readonly windowMs: number
  readonly maxWaitMs: number
  readonly onTimeout: 'primary' | 'error'
  readonly tokenSecret: string | undefined
  readonly requestScopes: boolean
}

const READ_YOUR_WRITES_OPTIONS: OptionNames<ReadYourWritesConfig> = Object.freeze({
  mode: true,
  positions: true,
  windowMs: true,
  maxWaitMs: true,
  onTimeout: true,
  tokenSecret: true,
  requestScopes: true,
})

/** Validates the option; `undefined` means the default (on), `false` off. */
export function normalizeReadYourWrites(
  config: ReadYourWritesConfig | false | undefined,
  defaultPositions: PositionSource | undefined,
): ReadYourWritesOptions | undefined {
  if (config === false) {
    return undefined
  }
  if (
    config !== undefined &&
    (typeof config !== 'object' || config === null || Array.isArray(config))
  ) {
    throw new InvalidConfigError(
      `readYourWrites must be false or an object such as { maxWaitMs: 100 }, got ${String(config)}.`,
    )
  }
  checkOptionNames(config ?? {}, READ_YOUR_WRITES_OPTIONS, 'readYourWrites')
  if (config?.positions !== undefined && !isPositionSource(config.positions)) {
    throw new InvalidConfigError(
      'readYourWrites.positions must be a PositionSource ({ primaryPosition, replayedPosition, clusterId }), such as postgresPositions.',
    )
  }
  const positions = config?.positions ?? defaultPositions
  const mode = config?.mode ?? (positions === undefined ? 'sticky' : 'position')
  if (mode !== 'position' && mode !== 'sticky') {
    throw new InvalidConfigError(
      `readYourWrites.mode must be 'position' or 'sticky', got ${String(mode)}.`,
    )
  }
  if (mode === 'position' && positions === undefined) {
    throw new InvalidConfigError(
      "readYourWrites.mode 'position' needs readYourWrites.positions (postgresPositions for PostgreSQL); use mode 'sticky' for other databases.",
    )
  }
  const options = {
    mode,
    positions: mode === 'position' ? positions : undefined,
    windowMs: config?.windowMs ?? 2000,
    maxWaitMs: config?.maxWaitMs ?? 100,
    onTimeout: config?.onTimeout ?? 'primary',
    tokenSecret: config?.tokenSecret,
    requestScopes: config?.requestScopes ?? true,
  } as const
  for (const key of ['windowMs', 'maxWaitMs'] as const) {
    // Number.isFinite() is false for anything but a finite number: '100' and NaN included.
    if (!Number.isFinite(options[key]) || options[key] < 0) {
      throw new InvalidConfigError(`readYourWrites.${key} must be a number of milliseconds ≥ 0.`)
    }
  }
  if (options.onTimeout !== 'primary' && options.onTimeout !== 'error') {
    throw new InvalidConfigError("readYourWrites.onTimeout must be 'primary' or 'error'.")
  }
  if (typeof options.requestScopes !== 'boolean') {
    throw new InvalidConfigError(
      `readYourWrites.requestScopes must be true or false, got ${String(options.requestScopes)}.`,
    )
  }
  if (
    options.tokenSecret !== undefined &&
    (typeof options.tokenSecret !== 'string' || options.tokenSecret.length < 16)
  ) {
    throw new InvalidConfigError(
      'readYourWrites.tokenSecret must be a string of at least 16 characters.',
    )
  }
  return Object.freeze(options)
}

function isPositionSource(value: unknown): value is PositionSource {
  if (typeof value !== 'object' || value === null) {
    return false
  }
  const source = value as Partial<Record<keyof PositionSource, unknown>>
  return (
    typeof source.primaryPosition === 'function' &&
    typeof source.replayedPosition === 'function' &&
    typeof source.clusterId === 'function'
  )
}

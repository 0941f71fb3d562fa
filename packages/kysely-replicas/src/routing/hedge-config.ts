import { checkOptionsObject, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'

/**
 * Hedged reads ("The Tail at Scale", Dean and Barroso): a single read on a replica that has not
 * answered after the recent p95 latency of replica reads is also sent to another replica; the
 * first answer wins. The other copy is left to finish and its connection released then (it is
 * slow, not stuck), unless its replica also missed the read deadline (`readDeadline`): then its
 * connection is destroyed. A budget keeps the extra reads under `budget` of all reads, so that
 * hedging never turns a slow cluster into an overloaded one.
 * Hedges go to replicas only, never to the primary; writes, blocks and `onReplica(index)` are
 * never hedged. Off by default (each replica read then costs a timer); `{}` turns it on.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, hedge: {} })
 * new ReplicatedDialect({ primary, replicas, hedge: { budget: 0.02, minDelayMs: 5 } })
 * ```
 */
export interface HedgeConfig {
  /** Extra reads hedging may add, as a share of all replica reads. Default 0.05 (5%). */
  readonly budget?: number
  /** The shortest wait before a hedge, in ms, whatever the p95. Default 2. */
  readonly minDelayMs?: number
  /** Which latency quantile of recent replica reads a read waits for before it is hedged. Default 0.95. */
  readonly percentile?: number
}

/** {@link HedgeConfig} with every default filled in. */
export type HedgeOptions = Required<HedgeConfig>

// An option added to HedgeConfig fails the build here until it is listed.
const HEDGE_OPTIONS: OptionNames<HedgeConfig> = Object.freeze({
  budget: true,
  minDelayMs: true,
  percentile: true,
})

/** Validates and completes the hedging configuration; `undefined` when off (the default). */
export function normalizeHedge(config: HedgeConfig | false | undefined): HedgeOptions | undefined {
  if (config === false || config === undefined) {
    return undefined
  }
  checkOptionsObject(config, HEDGE_OPTIONS, 'hedge', 'false or an object such as { budget: 0.05 }')
  const options = {
    budget: config.budget ?? 0.05,
    minDelayMs: config.minDelayMs ?? 2,
    percentile: config.percentile ?? 0.95,
  }
  if (!(typeof options.budget === 'number' && options.budget > 0 && options.budget <= 1)) {
    throw new InvalidConfigError(
      `hedge.budget must be a share of the reads in (0, 1], such as 0.05; got ${String(options.budget)}.`,
    )
  }
  if (
    !(
      typeof options.minDelayMs === 'number' &&
      Number.isFinite(options.minDelayMs) &&
      options.minDelayMs >= 0
    )
  ) {
    throw new InvalidConfigError(
      `hedge.minDelayMs must be a number of milliseconds, 0 or more; got ${String(options.minDelayMs)}.`,
    )
  }
  if (
    !(typeof options.percentile === 'number' && options.percentile > 0 && options.percentile < 1)
  ) {
    throw new InvalidConfigError(
      `hedge.percentile must be a quantile in (0, 1), such as 0.95; got ${String(options.percentile)}.`,
    )
  }
  return Object.freeze(options)
}

import { checkOptionsObject, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import type { NodeStats } from '../nodes/node-stats.js'

/**
 * How long a single read waits for a replica that stopped answering (a partition, a host that
 * drops packets) before it is also sent to another node. The deadline follows the replica's
 * recent latency (`latencyFactor` times it), within `minMs` and `maxMs`. When it passes and the
 * replica answered nothing meanwhile, the replica is suspect: it gets no new reads until a probe
 * answers, and the read goes to another node too; the first answer wins and the other
 * connection is destroyed, never reused. A read still running on a replica that keeps answering
 * other queries is slow, not stuck: it goes on. Writes, blocks and `onReplica(i)` never move.
 * Off by default for now (it costs CPU on every replica read: measured about 10% of point-read
 * throughput on a CPU-bound machine); `{}` turns it on with its defaults.
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, readDeadline: {} })
 * new ReplicatedDialect({ primary, replicas, readDeadline: { minMs: 100, maxMs: 500 } })
 * ```
 */
export interface ReadDeadlineConfig {
  /** The shortest deadline, in ms. Default 200. */
  readonly minMs?: number
  /** The longest deadline, in ms. Default 800. */
  readonly maxMs?: number
  /** The deadline as a multiple of the replica's recent latency. Default 8. */
  readonly latencyFactor?: number
}

/** {@link ReadDeadlineConfig} with every default filled in. */
export type ReadDeadlineOptions = Required<ReadDeadlineConfig>

// An option added to ReadDeadlineConfig fails the build here until it is listed.
const READ_DEADLINE_OPTIONS: OptionNames<ReadDeadlineConfig> = Object.freeze({
  minMs: true,
  maxMs: true,
  latencyFactor: true,
})

/** Validates and completes the deadline configuration; `undefined` when off (the default). */
export function normalizeReadDeadline(
  config: ReadDeadlineConfig | false | undefined,
): ReadDeadlineOptions | undefined {
  if (config === false || config === undefined) {
    return undefined
  }
  checkOptionsObject(
    config,
    READ_DEADLINE_OPTIONS,
    'readDeadline',
    'false or an object such as { maxMs: 500 }',
  )
  const options = {
    minMs: config.minMs ?? 200,
    maxMs: config.maxMs ?? 800,
    latencyFactor: config.latencyFactor ?? 8,
  }
  for (const key of ['minMs', 'maxMs', 'latencyFactor'] as const) {
    const value = options[key]
    // Number.isFinite() is false for anything but a finite number: '100' and NaN included.
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidConfigError(
        `readDeadline.${key} must be a positive number, got ${String(value)}.`,
      )
    }
  }
  if (options.maxMs < options.minMs) {
    throw new InvalidConfigError('readDeadline.maxMs must not be less than readDeadline.minMs.')
  }
  return Object.freeze(options)
}

/** The deadline of a read on a node, from the node's recent latency. */
export function deadlineMs(options: ReadDeadlineOptions, stats: NodeStats): number {
  return Math.min(Math.max(options.latencyFactor * stats.latencyMs, options.minMs), options.maxMs)
}

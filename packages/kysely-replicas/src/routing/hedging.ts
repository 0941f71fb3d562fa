import type { HedgeOptions } from './hedge-config.js'

/** Recent replica reads kept to estimate the hedge delay. */
const WINDOW = 128
/** The delay is recomputed after this many new samples. */
const RECOMPUTE_EVERY = 32
/** Reads beyond this many tokens of budget are not saved up: a burst of hedges stays short. */
const MAX_TOKENS = 5

/**
 * When a replica read is hedged, and whether the budget allows it: the delay is a quantile of
 * the latency of recent replica reads (as first sent, hedged or not, so that hedging does not
 * hide the tail it reacts to), at least `minDelayMs`; the budget is a token bucket that every
 * read fills by `budget` and every hedge empties by 1, so that extra reads stay under that share.
 * No hedge until enough reads were seen to know the quantile.
 *
 * ```ts
 * const hedging = new Hedging({ budget: 0.05, minDelayMs: 2, percentile: 0.95 })
 * hedging.noteRead()
 * const delay = hedging.delayMs() // undefined until 32 reads were sampled
 * if (delay !== undefined && hedging.take()) { … }
 * ```
 */
export class Hedging {
  readonly #options: HedgeOptions
  readonly #samples = new Float64Array(WINDOW)
  #count = 0
  #delayMs: number | undefined
  #tokens = 0

  constructor(options: HedgeOptions) {
    this.#options = options
  }

  /** A replica read starts: the budget grows by its share. */
  noteRead(): void {
    this.#tokens = Math.min(MAX_TOKENS, this.#tokens + this.#options.budget)
  }

  /** How long a read waits before it is hedged; `undefined` while too few reads were seen. */
  delayMs(): number | undefined {
    return this.#delayMs
  }

  /** Takes the budget of one hedge; `false` when it is spent. */
  take(): boolean {
    if (this.#tokens < 1) {
      return false
    }
    this.#tokens--
    return true
  }

  /** The latency of a replica read as first sent, in ms (or how long it ran before it was given up). */
  sample(ms: number): void {
    this.#samples[this.#count % WINDOW] = ms
    this.#count++
    if (this.#count % RECOMPUTE_EVERY === 0) {
      const recent = this.#samples.slice(0, Math.min(this.#count, WINDOW)).sort()
      const at = Math.min(recent.length - 1, Math.floor(this.#options.percentile * recent.length))
      this.#delayMs = Math.max(this.#options.minDelayMs, recent[at] ?? 0)
    }
  }
}

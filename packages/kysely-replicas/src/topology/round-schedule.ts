/** Rounds asked for out of turn (a primary failure, a node back up) are at least this far apart. */
const IMMEDIATE_ROUND_SPACING_MS = 100

/** What a {@link RoundSchedule} runs, how often, and what it logs when a round fails. */
export interface RoundScheduleOptions {
  /** One round of the monitor: reads the topology and applies it. */
  readonly round: () => Promise<void>
  /** Milliseconds from the end of a round to the next; read after each round. */
  readonly intervalMs: () => number
  /** Logged with the error when a round throws. */
  readonly errorMessage: string
}

/**
 * When a monitor's next round runs: one round at a time, the next `intervalMs()` after the last
 * ends, or soon after the last started when asked out of turn; nothing once closed. Its timers
 * never keep the process alive.
 *
 * ```ts
 * const rounds = new RoundSchedule({
 *   round: () => readTopology(),
 *   intervalMs: () => (writable ? 2000 : 500),
 *   errorMessage: 'kysely-replicas: the topology check failed',
 * })
 * await rounds.run() // the first round, then the timer
 * rounds.request() // a primary failed: another round soon
 * rounds.close()
 * await rounds.running
 * ```
 */
export class RoundSchedule {
  readonly #options: RoundScheduleOptions
  #running: Promise<void> | undefined
  #again = false
  #lastStart = Number.NEGATIVE_INFINITY
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt = 0
  #closed = false

  constructor(options: RoundScheduleOptions) {
    this.#options = Object.freeze({ ...options })
  }

  /** The round under way, if any. */
  get running(): Promise<void> | undefined {
    return this.#running
  }

  /** When the last round started (epoch ms). */
  get lastStart(): number {
    return this.#lastStart
  }

  /** Whether {@link close} was called: rounds under way should stop applying what they read. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Runs a round now; if one is under way, runs another right after it. Resolves when the round
   * under way (or started) ends.
   */
  run(): Promise<void> {
    if (this.#closed) {
      return Promise.resolve()
    }
    if (this.#running !== undefined) {
      this.#again = true
      return this.#running
    }
    this.#clearTimer()
    this.#lastStart = Date.now()
    const running = this.#options
      .round()
      .catch((error: unknown) => console.error(this.#options.errorMessage, error))
      .finally(() => {
        this.#running = undefined
        if (this.#closed) {
          return
        }
        const again = this.#again
        this.#again = false
        this.#schedule(
          again
            ? this.#lastStart + IMMEDIATE_ROUND_SPACING_MS
            : Date.now() + this.#options.intervalMs(),
        )
      })
    this.#running = running
    return running
  }

  /** Asks for a round out of turn: soon after the last started, or after the one under way. */
  request(): void {
    if (this.#closed) {
      return
    }
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#schedule(this.#lastStart + IMMEDIATE_ROUND_SPACING_MS)
  }

  /** Stops the timer; no round starts after this. A round under way is left to end. */
  close(): void {
    this.#closed = true
    this.#clearTimer()
  }

  /** Runs a round at `at` (epoch ms), unless one is already due no later. */
  #schedule(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) {
      return
    }
    this.#clearTimer()
    this.#timerAt = at
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        void this.run()
      },
      Math.max(0, at - Date.now()),
    )
    this.#timer.unref?.()
  }

  #clearTimer(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

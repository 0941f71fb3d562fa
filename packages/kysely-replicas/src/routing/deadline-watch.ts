/** Something with a deadline, told once it passed. */
export interface Watched {
  expire(): void
}

/**
 * One timer for the deadlines of every read in flight, instead of one timer per read: a read
 * registers and unregisters (two map operations), and a tick every `tickMs` tells those whose
 * deadline passed. A deadline fires up to one tick late. The timer runs while reads are
 * watched, stops on the first tick that finds none, and never keeps the process alive.
 */
export class DeadlineWatch {
  readonly #tickMs: number
  readonly #due = new Map<Watched, number>()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(tickMs: number) {
    this.#tickMs = tickMs
  }

  /** Tells `watched` once `ms` have passed, unless it was removed before. */
  add(watched: Watched, ms: number): void {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#tickMs)
      this.#timer.unref?.()
    }
    // From now, not from the last tick: a deadline may fire late, never early.
    this.#due.set(watched, performance.now() + ms)
  }

  delete(watched: Watched): void {
    this.#due.delete(watched)
  }

  #tick(): void {
    if (this.#due.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
      return
    }
    const now = performance.now()
    for (const [watched, due] of this.#due) {
      if (due <= now) {
        this.#due.delete(watched)
        watched.expire()
      }
    }
  }
}

/** A fallback read waiting for a slot. */
interface Waiter {
  readonly resolve: () => void
  readonly timer: ReturnType<typeof setTimeout>
}

/**
 * How many fallback reads may run on the primary at once (see `FallbackConfig`): a counter of
 * slots and a first-come queue of reads waiting for one, each for at most `waitMs`. A slot is
 * handed straight to the first waiter when given back, so a read arriving meanwhile cannot take
 * it over a read that waited.
 *
 * ```ts
 * const budget = new FallbackBudget(5, 100, () => new NoReplicaAvailableError(['replica-0'], 5))
 * await budget.take() // undefined when a slot was free: no promise to wait for
 * try { … } finally { budget.give() }
 * ```
 */
export class FallbackBudget {
  readonly maxConcurrent: number
  readonly #waitMs: number
  readonly #refusal: () => Error
  readonly #waiting: Waiter[] = []
  #inUse = 0
  #refused = 0

  /** `refusal` makes the error of a read that found no slot in time. */
  constructor(maxConcurrent: number, waitMs: number, refusal: () => Error) {
    this.maxConcurrent = maxConcurrent
    this.#waitMs = waitMs
    this.#refusal = refusal
  }

  /** Fallback reads running now. */
  get inUse(): number {
    return this.#inUse
  }

  /** Fallback reads that found no slot in time. */
  get refused(): number {
    return this.#refused
  }

  /** Takes a slot if one is free now; never waits. */
  tryTake(): boolean {
    if (this.#inUse < this.maxConcurrent) {
      this.#inUse++
      return true
    }
    return false
  }

  /**
   * Takes a slot: `undefined` when one was free, else a promise that resolves once one is handed
   * over, or rejects with the refusal after `waitMs` (at once with no slot at all).
   */
  take(): Promise<void> | undefined {
    if (this.tryTake()) {
      return undefined
    }
    if (this.maxConcurrent === 0 || this.#waitMs === 0) {
      return Promise.reject(this.#refuse())
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1)
        reject(this.#refuse())
      }, this.#waitMs)
      timer.unref?.()
      const waiter: Waiter = { resolve, timer }
      this.#waiting.push(waiter)
    })
  }

  #refuse(): Error {
    this.#refused++
    return this.#refusal()
  }

  /** Gives a slot back, to the first waiting read if any. */
  give(): void {
    const next = this.#waiting.shift()
    if (next === undefined) {
      this.#inUse--
      return
    }
    clearTimeout(next.timer)
    next.resolve()
  }
}

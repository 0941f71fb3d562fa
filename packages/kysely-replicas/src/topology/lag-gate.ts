import type { DatabaseNode } from '../nodes/database-node.js'

/** A lag bound and how a replica kept out by it gets reads back. */
export interface LagBound {
  /** WAL bytes beyond which a replica is kept out; `undefined`: no bound in bytes. */
  readonly maxBytes: number | undefined
  /** Seconds beyond which a replica is kept out; `undefined`: no bound in seconds. */
  readonly maxSeconds: number | undefined
  /** A replica kept out gets reads again once under this share of every bound. */
  readonly resumeRatio: number
  /** ... or once it stayed within the bounds for this long, in ms. */
  readonly resumeAfterMs: number
}

/**
 * Keeps replicas beyond a lag bound out of rotation, with hysteresis so that a replica hovering
 * at the bound does not flap in and out with every check: it is kept out as soon as a
 * measurement is beyond the bound, and let back in only once a measurement is under
 * `resumeRatio` of it, or after its measurements stayed within the bound for `resumeAfterMs`
 * (a replica that settles just under the bound is not kept out for good). Monitors of any
 * engine feed it their measurements.
 *
 * ```ts
 * const gate = new LagGate({ maxBytes: 1000, maxSeconds: undefined, resumeRatio: 0.8, resumeAfterMs: 5000 })
 * gate.excludes(node, 1200, 0) // true: beyond the bound
 * gate.excludes(node, 900, 0) // true: within it, but not under 800 and not for 5 s yet
 * gate.excludes(node, 700, 0) // false: under 80% of the bound
 * ```
 */
export class LagGate {
  readonly #bound: LagBound
  // The replicas kept out for lag, and since when (ms) each has been within the bound.
  readonly #out = new WeakMap<DatabaseNode, number | undefined>()

  constructor(bound: LagBound) {
    this.#bound = bound
  }

  /** Whether the node gets no reads for this measurement, given the ones before it. */
  excludes(node: DatabaseNode, bytes: number, seconds: number, now = Date.now()): boolean {
    const { maxBytes, maxSeconds, resumeRatio, resumeAfterMs } = this.#bound
    if (beyond(bytes, maxBytes, 1) || beyond(seconds, maxSeconds, 1)) {
      this.#out.set(node, undefined)
      return true
    }
    if (!this.#out.has(node)) {
      return false
    }
    const within = this.#out.get(node) ?? now
    if (
      (!beyond(bytes, maxBytes, resumeRatio) && !beyond(seconds, maxSeconds, resumeRatio)) ||
      now - within >= resumeAfterMs
    ) {
      this.#out.delete(node)
      return false
    }
    this.#out.set(node, within)
    return true
  }

  /** Forgets the node's past: after a role change its lag starts anew. */
  forget(node: DatabaseNode): void {
    this.#out.delete(node)
  }
}

function beyond(value: number, bound: number | undefined, share: number): boolean {
  return bound !== undefined && value > bound * share
}

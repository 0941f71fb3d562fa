import { CompiledQuery, type Driver } from 'kysely'
import { describeError } from '../events/describe-error.js'
import type { ReplicasEvents } from '../events/replicas-events.js'
import type { HealthOptions } from './health-options.js'

/**
 * Whose fault a failure was: the node's (down, unreachable, shutting down: it is marked down),
 * its pool's (`saturated`: every connection busy, none free in time; the node stays up), or the
 * query's (an SQL error). What {@link NodeHealth.failureKind} answers, from the `health` options'
 * `isSaturationError` and `isConnectionError`.
 *
 * ```ts
 * if (node.health.failureKind(error) === 'node') node.health.markDown(error)
 * ```
 */
export type FailureKind = 'node' | 'saturated' | 'query'

/** What a probe got: an answer, a pool with no free connection in time, or nothing. */
type ProbeOutcome = 'answered' | 'saturated' | 'failed'

/**
 * The circuit breaker of one node: up until a connection-level failure, then down and probed in
 * the background, with backoff, until a probe answers. A node that stopped answering (a read
 * passed its deadline) is suspect: out of rotation while one probe decides between up and down.
 * One probe at a time; none after `close()`; timers never keep the process alive. Every
 * {@link DatabaseNode} has one (`node.health`); a {@link NodeMonitor} reads it and may mark a node
 * down or have its probes run on the monitor's own connections.
 *
 * ```ts
 * const down = replicas.filter((node) => !node.health.isUp).map((node) => node.name)
 * ```
 */
export class NodeHealth {
  readonly #name: string
  readonly #driver: Driver
  readonly #options: HealthOptions
  readonly #events: ReplicasEvents
  readonly #probe: CompiledQuery
  readonly #onChange: () => void
  #confirm: (() => Promise<void>) | undefined
  #probeOn: ((sql: string) => Promise<void>) | undefined
  #downSince: number | undefined
  #lastError: string | undefined
  #delay = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #closed = false
  #suspect = false
  // A probe passed its timeout and has not settled yet (a connect that hangs).
  #hanging = false

  /** @internal The dialect makes one per node. */
  constructor(
    name: string,
    driver: Driver,
    options: HealthOptions,
    events: ReplicasEvents,
    onChange: () => void,
  ) {
    this.#name = name
    this.#driver = driver
    this.#options = options
    this.#events = events
    this.#probe = CompiledQuery.raw(options.probeSql)
    this.#onChange = onChange
  }

  /** Whether the node is in rotation: not marked down (it may still be suspect). */
  get isUp(): boolean {
    return this.#downSince === undefined
  }

  /** Whether the node stopped answering and is being probed; it gets no new reads meanwhile. */
  get isSuspect(): boolean {
    return this.#suspect
  }

  /** When the node went down (epoch ms), if it is down. */
  get downSince(): number | undefined {
    return this.#downSince
  }

  /** The last connection-level error, masked. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  /**
   * Whose fault the error was; saturation is asked first, a pool timeout being no dead node.
   * Once closed (the node left the cluster, its driver is being destroyed), anything that fails
   * on it is the node's: a query that picked it just before it left goes elsewhere.
   */
  failureKind(error: unknown): FailureKind {
    if (this.#closed) {
      return 'node'
    }
    if (this.#options.isSaturationError(error)) {
      return 'saturated'
    }
    return this.#options.isConnectionError(error) ? 'node' : 'query'
  }

  /** Whether the error is the node's fault (not its pool's, not the query's). */
  isNodeFailure(error: unknown): boolean {
    return this.failureKind(error) === 'node'
  }

  /** Takes the node out of rotation after a connection-level failure and starts probing it. */
  markDown(error: unknown): void {
    this.#lastError = describeError(error)
    if (this.#downSince !== undefined || this.#closed) {
      return
    }
    this.#downSince = Date.now()
    this.#delay = this.#options.probeIntervalMs
    this.#onChange()
    this.#events.emit('node-down', { node: this.#name, error: this.#lastError })
    this.#schedule()
  }

  /**
   * The node answered nothing for a read's deadline: out of rotation at once, and probed. It is
   * back when a probe answers, down (`error`) when one fails or times out; a pool with no free
   * connection is no answer either way, so the probe is tried again after `probeIntervalMs`.
   */
  /** @internal Called by a read whose deadline passed. */
  suspect(error: unknown): void {
    if (this.#suspect || this.#downSince !== undefined || this.#closed) {
      return
    }
    this.#suspect = true
    this.#onChange()
    void this.#probeSuspect(error)
  }

  async #probeSuspect(error: unknown): Promise<void> {
    let outcome = await this.#probeOnce()
    while (outcome === 'saturated' && !this.#closed) {
      await delay(this.#options.probeIntervalMs)
      outcome = await this.#probeOnce()
    }
    this.#suspect = false
    if (this.#closed || this.#downSince !== undefined) {
      return
    }
    if (outcome === 'answered') {
      this.#onChange()
    } else {
      this.markDown(error)
    }
  }

  /**
   * @internal Has `confirm` run after a probe answers and before the node is marked up (the
   * dialect wires {@link NodeMonitor.confirm} here).
   */
  confirmWith(confirm: () => Promise<void>): void {
    this.#confirm = confirm
  }

  /**
   * Has probes run by `probe` (given the probe's SQL) instead of on a connection of the node's
   * pool, which may be busy with user queries: a monitor with connections of its own.
   */
  probeWith(probe: (sql: string) => Promise<void>): void {
    this.#probeOn = probe
  }

  /** @internal Stops probing for good: the node left, or the driver's `destroy()` was called. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  // Called only while open: markDown() and #runProbe() check #closed first.
  #schedule(): void {
    this.#timer = setTimeout(() => void this.#runProbe(), this.#delay)
    this.#timer.unref?.()
  }

  async #runProbe(): Promise<void> {
    this.#timer = undefined
    const answered = (await this.#probeOnce()) === 'answered' && (await this.#confirmed())
    if (this.#closed) {
      return
    }
    if (!answered) {
      this.#delay = Math.min(this.#delay * 2, this.#options.maxProbeIntervalMs)
      this.#schedule()
      return
    }
    const downSince = this.#downSince ?? Date.now()
    this.#downSince = undefined
    this.#onChange()
    this.#events.emit('node-up', { node: this.#name, downForMs: Date.now() - downSince })
  }

  async #confirmed(): Promise<boolean> {
    try {
      await this.#confirm?.()
      return true
    } catch (error) {
      this.#lastError = describeError(error)
      return false
    }
  }

  // A hard deadline: a probe that has not answered within the timeout fails then, even if its
  // connect hangs for longer. While it hangs, later probes fail at once rather than pile up.
  async #probeOnce(): Promise<ProbeOutcome> {
    if (this.#hanging) {
      return 'failed'
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#options.probeTimeoutMs)
      timer.unref?.()
    })
    const probe = this.#query().then(
      (): ProbeOutcome => 'answered',
      (error: unknown): ProbeOutcome => {
        this.#lastError = describeError(error)
        return this.failureKind(error) === 'saturated' ? 'saturated' : 'failed'
      },
    )
    try {
      const outcome = await Promise.race([probe, timeout])
      if (outcome !== 'timeout') {
        return outcome
      }
      this.#hanging = true
      void probe.then(() => {
        this.#hanging = false
      })
      this.#lastError = `the probe had no answer within ${this.#options.probeTimeoutMs} ms`
      return 'failed'
    } finally {
      clearTimeout(timer)
    }
  }

  async #query(): Promise<void> {
    if (this.#probeOn !== undefined) {
      return this.#probeOn(this.#probe.sql)
    }
    const connection = await this.#driver.acquireConnection()
    try {
      await connection.executeQuery(this.#probe)
    } finally {
      await this.#driver.releaseConnection(connection)
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.())
}

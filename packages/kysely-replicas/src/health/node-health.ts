import { CompiledQuery, type Driver } from 'kysely'
import { describeError } from '../events/describe-error.js'
import type { ReplicasEvents } from '../events/replicas-events.js'
import type { HealthOptions } from './health-options.js'

/**
 * Whose fault a failure was: the node's (down, unreachable, shutting down: it is marked down),
 * its pool's (`saturated`: every connection busy, none free in time; the node stays up), or the
 * query's (an SQL error).
 */
export type FailureKind = 'node' | 'saturated' | 'query'

/**
 * The circuit breaker of one node: up until a connection-level failure, then down and probed in
 * the background, with backoff, until a probe answers. One probe at a time; none after `close()`;
 * timers never keep the process alive.
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

  get isUp(): boolean {
    return this.#downSince === undefined
  }

  /** When the node went down (epoch ms), if it is down. */
  get downSince(): number | undefined {
    return this.#downSince
  }

  /** The last connection-level error, masked. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  /** Whose fault the error was; saturation is asked first, a pool timeout being no dead node. */
  failureKind(error: unknown): FailureKind {
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

  /** Has `confirm` run after a probe answers and before the node is marked up (see NodeMonitor). */
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

  /** Stops probing for good. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(): void {
    if (this.#closed) {
      return
    }
    this.#timer = setTimeout(() => void this.#runProbe(), this.#delay)
    this.#timer.unref?.()
  }

  async #runProbe(): Promise<void> {
    this.#timer = undefined
    const answered = (await this.#probeOnce()) && (await this.#confirmed())
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

  // The next probe is scheduled only once this one settled, so a hanging server cannot make
  // probes pile up; the timeout only decides how long this one may take to count as an answer.
  async #probeOnce(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#options.probeTimeoutMs)
      timer.unref?.()
    })
    const probe = this.#query().then(
      () => true,
      (error: unknown) => {
        this.#lastError = describeError(error)
        return false
      },
    )
    try {
      const answered = await Promise.race([probe, timeout])
      await probe
      return answered
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

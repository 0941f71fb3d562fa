import { type ErrorEmittingPool, handlePoolErrors } from './handle-pool-errors.js'
import type { CheckPath } from './topology-check.js'

/** The part of a node-postgres pool the monitor's own connections need (no type on `pg`). */
export interface CheckPool extends ErrorEmittingPool {
  connect(): Promise<{
    query(sql: string): Promise<{ readonly rows: readonly unknown[] }>
    /** `true` destroys the connection instead of keeping it. */
    release(destroy?: boolean): void
  }>
  end(): Promise<void>
}

/** A {@link CheckPath} that can be closed. */
export interface OwnCheckPath extends CheckPath {
  close(): Promise<void>
}

/**
 * Settings for the monitor's own pool to a node: at most two connections (one check round and
 * one health probe at a time), connecting and answering within the check's timeout, and never
 * keeping the process alive while idle.
 */
export function checkPoolSettings(settings: object, timeoutMs: number): object {
  return {
    ...settings,
    max: 2,
    min: 0,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    allowExitOnIdle: true,
  }
}

/**
 * The monitor's own connections to one node, apart from the pool user queries wait in: a check
 * or a probe never queues behind user work, so a busy pool is never taken for a dead server. A
 * connection whose statement failed is destroyed, so that the next check gets a fresh one.
 */
export function ownCheckPath(pool: CheckPool, onError: (error: Error) => void): OwnCheckPath {
  handlePoolErrors(pool, onError)
  return {
    shared: false,
    async run(sql, connected) {
      const client = await pool.connect()
      connected()
      try {
        const { rows } = await client.query(sql)
        client.release()
        return rows
      } catch (error) {
        client.release(true)
        throw error
      }
    },
    close: () => pool.end(),
  }
}

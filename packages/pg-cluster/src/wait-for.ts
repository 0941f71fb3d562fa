import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterTimeoutError } from './errors.js'

/**
 * How long to wait, and how often to look.
 *
 * ```ts
 * const options: WaitOptions = { timeoutMs: 30_000, intervalMs: 10 }
 * ```
 */
export interface WaitOptions {
  readonly timeoutMs: number
  readonly intervalMs?: number
}

/**
 * Calls `probe` until it returns something other than `undefined`, and returns that. An error
 * thrown by `probe` counts as "not yet" (a server that is starting refuses connections) and
 * becomes the `cause` of the timeout error if nothing better came.
 *
 * ```ts
 * await waitFor('the server to accept connections', () => ping(), { timeoutMs: 30_000 })
 * ```
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs, intervalMs = 25 }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      throw new ClusterTimeoutError(
        `Timed out after ${timeoutMs} ms waiting for ${what}.`,
        lastError === undefined ? undefined : { cause: lastError },
      )
    }
    await sleep(intervalMs)
  }
}

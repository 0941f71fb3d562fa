import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterTimeoutError } from '@kysely-replicas/pg-cluster'

/**
 * Calls `probe` until it returns something other than `undefined`. An error thrown by `probe`
 * counts as "not yet" (a server that is starting refuses connections) and becomes the `cause` of
 * the timeout error.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs, intervalMs = 25 }: { readonly timeoutMs: number; readonly intervalMs?: number },
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

import { type ChildProcess, spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import { CLEANUP_SCRIPT, type CleanupState } from './cleanup-script.js'

/**
 * A small detached Node.js process that kills the clusters of this process when this process
 * dies without running its exit handlers (SIGKILL, an out-of-memory kill, a test runner killing
 * a worker). It learns the current state through its stdin and acts when stdin closes; see
 * `CLEANUP_SCRIPT`.
 */
export class OrphanWatchdog {
  #child: ChildProcess | undefined

  /** Tells the watchdog what to clean up, starting it if needed. */
  update(state: CleanupState): void {
    const child = this.#child ?? this.#spawn()
    child?.stdin?.write(`${JSON.stringify(state)}\n`)
  }

  /** Ends the watchdog after telling it there is nothing left to do. */
  close(): void {
    const child = this.#child
    this.#child = undefined
    if (child?.stdin === null || child === undefined) return
    child.stdin.end(`${JSON.stringify({ clusters: [] } satisfies CleanupState)}\n`)
  }

  #spawn(): ChildProcess | undefined {
    let child: ChildProcess
    try {
      child = spawn(process.execPath, ['-e', CLEANUP_SCRIPT], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
        // No NODE_OPTIONS: a test runner's loaders have no business in this process.
        env: { PATH: process.env.PATH ?? '' },
      })
    } catch {
      return undefined
    }
    // Neither the watchdog nor the pipe to it may keep this process alive.
    child.on('error', () => {})
    child.stdin?.on('error', () => {})
    child.unref()
    ;(child.stdin as Socket | null)?.unref()
    this.#child = child
    return child
  }
}

import { spawnSync } from 'node:child_process'
import { CLEANUP_SCRIPT, type CleanupState } from './cleanup-script.js'
import { OrphanWatchdog } from './orphan-watchdog.js'

/** A running cluster as the exit handlers see it. */
export interface CleanupTarget {
  readonly dataDirs: readonly string[]
  readonly removeDir: string | undefined
  /** The orderly stop, used on signals. */
  stop(): Promise<void>
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const SIGNAL_STOP_TIMEOUT_MS = 15_000

const targets = new Set<CleanupTarget>()
const watchdog = new OrphanWatchdog()
let exitHandlerInstalled = false

/**
 * Makes sure a cluster does not outlive this process, whichever way it ends:
 *
 * - on SIGINT, SIGTERM or SIGHUP the clusters are stopped in order, and the signal is raised
 *   again if nobody else listens for it, so the process still ends the way it would have;
 * - on `'exit'` (including `process.exit()`) their servers are SIGKILLed and their directories
 *   removed, synchronously, since nothing asynchronous runs any more;
 * - on a death that runs no handler at all, the orphan watchdog does the same.
 */
export function registerForCleanup(target: CleanupTarget): void {
  targets.add(target)
  if (!exitHandlerInstalled) {
    process.on('exit', cleanUpSynchronously)
    exitHandlerInstalled = true
  }
  if (targets.size === 1) for (const name of SIGNALS) process.on(name, onSignal)
  watchdog.update(snapshot())
}

/**
 * Tells the exit handlers and the watchdog that a registered cluster's data directories changed
 * (a member joined or left); a cluster that is not registered (attached, detached) stays so.
 */
export function updateCleanup(target: CleanupTarget): void {
  if (targets.has(target)) watchdog.update(snapshot())
}

/** Forgets a cluster: it was stopped, or it was detached to outlive this process. */
export function unregisterFromCleanup(target: CleanupTarget): void {
  if (!targets.delete(target)) return
  if (targets.size > 0) {
    watchdog.update(snapshot())
    return
  }
  watchdog.close()
  for (const name of SIGNALS) process.off(name, onSignal)
}

function snapshot(): CleanupState {
  return {
    clusters: [...targets].map(({ dataDirs, removeDir }) => ({ dataDirs, removeDir })),
  }
}

function cleanUpSynchronously(): void {
  if (targets.size === 0) return
  spawnSync(process.execPath, ['-e', CLEANUP_SCRIPT], {
    input: `${JSON.stringify(snapshot())}\n`,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH ?? '' },
    timeout: 10_000,
  })
  targets.clear()
}

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  // Decided now: whoever else listens removes its listener on its own schedule.
  const othersListen = process.listenerCount(signal) > 1
  const stopping = Promise.allSettled([...targets].map((target) => target.stop()))
  const timer = new Promise((resolve) => setTimeout(resolve, SIGNAL_STOP_TIMEOUT_MS).unref())
  await Promise.race([stopping, timer])
  // Stopped clusters have unregistered themselves, and with them this listener, unless one
  // timed out: then the exit handler kills what is left.
  for (const name of SIGNALS) process.off(name, onSignal)
  if (!othersListen) process.kill(process.pid, signal)
}

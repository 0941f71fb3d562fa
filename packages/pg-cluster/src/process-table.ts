import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Whether a process is alive. A zombie counts as dead: a postmaster started by another process
 * is re-parented to PID 1 when that process exits, and some PID 1s (container init shims) reap
 * late, so `process.kill(pid, 0)` alone would report a dead server as running for seconds.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  if (process.platform !== 'linux') return true
  const stat = readProcStat(pid)
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X'
}

/** Sends a signal to a process that may already be gone. */
export function signalProcess(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {}
}

/** Whether the process exited within `timeoutMs` (polled: it need not be our child). */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false
    await sleep(20)
  }
  return true
}

/**
 * The PIDs of the live children of `pid`. A postmaster's children outlive it for a moment when it
 * is killed; collecting them first lets `kill()` wait for them, since a new postmaster refuses
 * to start while old backends still hold the shared memory.
 */
export function childPids(pid: number): number[] {
  if (process.platform === 'linux') {
    const children: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const stat = readProcStat(Number(entry))
      if (stat?.ppid === pid && stat.state !== 'Z') children.push(Number(entry))
    }
    return children
  }
  try {
    const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    return table
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .filter(([child, parent]) => parent === pid && child !== undefined && child > 0)
      .map(([child]) => child as number)
  } catch {
    return []
  }
}

function readProcStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name in parentheses may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', ppid: Number(fields[1]) }
  } catch {
    return undefined
  }
}

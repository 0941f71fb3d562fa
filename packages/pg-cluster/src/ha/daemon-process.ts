import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ClusterTimeoutError } from '../errors.js'
import type { OsUser } from '../os-user.js'
import { isProcessAlive, signalProcess, waitForExit } from '../process-table.js'
import { serverEnv, userIds } from '../run-command.js'

/** What one long-running program of an HA cluster is and where it lives. */
export interface DaemonConfig {
  /** For messages: `etcd`, `patroni on node2`. */
  readonly what: string
  readonly command: string
  readonly args: readonly string[]
  /**
   * Its own directory, its working directory: the exit handlers find the program by it, and a
   * PID read back from `daemon.pid` is believed only while the process still runs there.
   */
  readonly dir: string
  readonly logFile: string
  readonly user: OsUser | undefined
}

const PID_FILE = 'daemon.pid'

/**
 * A long-running program (etcd, Patroni) spawned detached in its own directory, as the OS user
 * that runs PostgreSQL. Its PID is kept in `daemon.pid` so that another process (the CLI after
 * `up --detach`) can stop or kill it.
 */
export class DaemonProcess {
  readonly #config: DaemonConfig
  #child: ChildProcess | undefined

  constructor(config: DaemonConfig) {
    this.#config = Object.freeze({ ...config })
  }

  /** The PID while it runs, whoever started it. */
  pid(): number | undefined {
    const child = this.#child
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      return child.pid
    }
    let pid: number
    try {
      pid = Number(readFileSync(join(this.#config.dir, PID_FILE), 'utf8'))
    } catch {
      return undefined
    }
    return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) && this.#runsHere(pid)
      ? pid
      : undefined
  }

  /** Spawns the program unless it runs; it may outlive this process (unref'd, own session). */
  async start(): Promise<void> {
    if (this.pid() !== undefined) return
    const { command, args, dir, logFile, user } = this.#config
    const logFd = openSync(logFile, 'a', 0o600)
    let child: ChildProcess
    try {
      child = spawn(command, args, {
        cwd: dir,
        detached: true,
        env: serverEnv(),
        stdio: ['ignore', logFd, logFd],
        ...userIds(user),
      })
    } finally {
      closeSync(logFd)
    }
    child.unref()
    child.once('error', () => {})
    this.#child = child
    await writeFile(join(dir, PID_FILE), String(child.pid), { mode: 0o644 })
  }

  /** SIGTERM, then SIGKILL if it is still there after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    const pid = this.pid()
    if (pid === undefined) return
    signalProcess(pid, 'SIGTERM')
    if (await waitForExit(pid, timeoutMs)) return
    await this.kill(5000)
  }

  /** SIGKILL, and waits until it is gone. */
  async kill(timeoutMs: number): Promise<void> {
    const pid = this.pid()
    if (pid === undefined) return
    signalProcess(pid, 'SIGKILL')
    if (!(await waitForExit(pid, timeoutMs))) {
      throw new ClusterTimeoutError(
        `${this.#config.what} (PID ${pid}) survived SIGKILL for ${timeoutMs} ms.`,
      )
    }
  }

  /** Guards against a recycled PID. */
  #runsHere(pid: number): boolean {
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(this.#config.dir)
    } catch {
      return false
    }
  }
}

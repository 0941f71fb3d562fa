import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, fstatSync, openSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
import { readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterTimeoutError, NodeStartError, PortInUseError } from './errors.js'
import type { OsUser } from './os-user.js'
import { childPids, isProcessAlive, signalProcess, waitForExit } from './process-table.js'
import { serverEnv, userIds } from './run-command.js'

/** Where one server's files are and how it is run. */
export interface NodeProcessConfig {
  /** The node's name, for messages. */
  readonly name: string
  readonly dataDir: string
  readonly logFile: string
  readonly binDir: string
  readonly user: OsUser | undefined
}

/**
 * One PostgreSQL server process (the postmaster) on a data directory: starting it, stopping it
 * cleanly, killing it. The postmaster is spawned directly rather than through `pg_ctl`, so that
 * when this process started it, this process is its parent and reaps it: a dead server is then
 * gone at once, not a zombie waiting for PID 1.
 */
export class NodeProcess {
  readonly #config: NodeProcessConfig
  #child: ChildProcess | undefined
  #exited: Promise<void> | undefined

  constructor(config: NodeProcessConfig) {
    this.#config = Object.freeze({ ...config })
  }

  /** The postmaster's PID while it runs, whoever started it. */
  pid(): number | undefined {
    const child = this.#child
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      return child.pid
    }
    const pid = readPostmasterFile(this.#config.dataDir)?.pid
    return pid !== undefined && isProcessAlive(pid) && this.#runsHere(pid) ? pid : undefined
  }

  /**
   * Starts the server and resolves with its PID once it accepts connections: `ready` for a
   * primary, `standby` for a hot standby that has reached a consistent state. The process is
   * detached (its own session, so a Ctrl-C meant for the terminal does not reach it) and unref'd
   * (so it can outlive this process when a cluster is detached).
   */
  async start(port: number, timeoutMs: number): Promise<number> {
    const running = this.pid()
    if (running !== undefined) return running
    const { name, dataDir, logFile, binDir, user } = this.#config
    await this.#removeStaleLockFile()

    const logFd = openSync(logFile, 'a', 0o600)
    const logStart = fstatSync(logFd).size
    let child: ChildProcess
    try {
      child = spawn(join(binDir, 'postgres'), ['-D', dataDir], {
        cwd: dataDir,
        detached: true,
        env: serverEnv(),
        stdio: ['ignore', logFd, logFd],
        ...userIds(user),
      })
    } finally {
      closeSync(logFd)
    }
    child.unref()
    let spawnError: Error | undefined
    child.once('error', (error) => {
      spawnError = error
    })
    this.#child = child
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))

    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (spawnError !== undefined) {
        throw new NodeStartError(name, spawnError.message, '', logFile)
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = await logTail(logFile, logStart)
        if (/could not bind|address already in use/i.test(log)) {
          throw new PortInUseError(port, { cause: new NodeStartError(name, 'bind', log, logFile) })
        }
        const how = child.signalCode ?? `exit code ${child.exitCode}`
        throw new NodeStartError(name, `postgres ended (${how})`, log, logFile)
      }
      const status = readPostmasterFile(dataDir)
      if (
        status !== undefined &&
        status.pid === child.pid &&
        (status.state === 'ready' || status.state === 'standby')
      ) {
        return status.pid
      }
      if (Date.now() >= deadline) {
        await this.kill(5000)
        const log = await logTail(logFile, logStart)
        throw new NodeStartError(name, `not ready after ${timeoutMs} ms`, log, logFile)
      }
      await sleep(20)
    }
  }

  /**
   * A fast shutdown: SIGINT, what `pg_ctl stop -m fast` sends. Open sessions are ended, a
   * shutdown checkpoint is written and a primary first sends its remaining WAL to connected
   * standbys. Falls back to an immediate shutdown, then SIGKILL, if it takes too long.
   */
  async stop(timeoutMs: number): Promise<void> {
    const pid = this.pid()
    if (pid === undefined) return
    signalProcess(pid, 'SIGINT')
    if (await this.#waitGone(pid, timeoutMs)) return
    signalProcess(pid, 'SIGQUIT')
    if (await this.#waitGone(pid, 5000)) return
    await this.kill(5000)
  }

  /**
   * SIGKILL to the postmaster: a crash. Its children (backends, WAL sender or receiver) notice
   * the postmaster's death and exit on their own; they are waited for, and killed if they
   * linger, because a new postmaster will not start while they hold the old shared memory.
   */
  async kill(timeoutMs: number): Promise<void> {
    const pid = this.pid()
    if (pid === undefined) return
    const children = childPids(pid)
    signalProcess(pid, 'SIGKILL')
    if (!(await this.#waitGone(pid, timeoutMs))) {
      throw new ClusterTimeoutError(
        `Node "${this.#config.name}": its postmaster (PID ${pid}) survived SIGKILL for ${timeoutMs} ms.`,
      )
    }
    const deadline = Date.now() + 3000
    while (children.some(isProcessAlive) && Date.now() < deadline) await sleep(20)
    for (const child of children.filter(isProcessAlive)) signalProcess(child, 'SIGKILL')
    while (children.some(isProcessAlive)) await sleep(20)
  }

  async #waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    if (this.#child?.pid === pid && this.#exited !== undefined) {
      // The child is unref'd: this timer is what keeps the event loop alive meanwhile, and it
      // is cancelled so that it does not hold the process open once the server is gone.
      const timer = new AbortController()
      try {
        return await Promise.race([
          this.#exited.then(() => true),
          sleep(timeoutMs, false, { signal: timer.signal }),
        ])
      } finally {
        timer.abort()
      }
    }
    return waitForExit(pid, timeoutMs)
  }

  /**
   * A killed server leaves its `postmaster.pid`. PostgreSQL removes a stale one itself, except
   * when the recorded PID still exists as a zombie, which it takes for a live server.
   */
  async #removeStaleLockFile(): Promise<void> {
    const status = readPostmasterFile(this.#config.dataDir)
    if (status === undefined || isProcessAlive(status.pid)) return
    await unlink(join(this.#config.dataDir, 'postmaster.pid')).catch(() => {})
  }

  /** Guards against a recycled PID: a postmaster's working directory is its data directory. */
  #runsHere(pid: number): boolean {
    if (process.platform !== 'linux') return true
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(this.#config.dataDir)
    } catch {
      return true
    }
  }
}

interface PostmasterFile {
  readonly pid: number
  /** `starting`, `stopping`, `ready` or `standby` (PostgreSQL 10 and later). */
  readonly state: string | undefined
}

function readPostmasterFile(dataDir: string): PostmasterFile | undefined {
  try {
    const lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')
    const pid = Number(lines[0])
    return Number.isInteger(pid) && pid > 0 ? { pid, state: lines[7]?.trim() } : undefined
  } catch {
    return undefined
  }
}

async function logTail(logFile: string, from: number): Promise<string> {
  try {
    const text = (await readFile(logFile)).subarray(from).toString('utf8')
    return text.trimEnd().split('\n').slice(-20).join('\n')
  } catch {
    return ''
  }
}

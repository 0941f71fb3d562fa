import { spawn } from 'node:child_process'
import type { OsUser } from './os-user.js'

/** What a finished command left behind. */
export interface CommandResult {
  readonly code: number | null
  readonly output: string
}

/** Where and as whom a command runs. */
export interface RunOptions {
  /** Run as this user instead of the current one (needs root). */
  readonly user?: OsUser | undefined
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  readonly timeoutMs?: number
}

/**
 * Runs a command to its end and returns its exit code with stdout and stderr interleaved. A
 * command that cannot be spawned at all (`ENOENT`, `EACCES`) resolves with code `null` and the
 * reason as output, because callers turn both kinds of failure into one clear error.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? '/',
      env: options.env ?? serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...userIds(options.user),
    })
    // Not spawn's own `timeout` option: its timer is cleared on 'exit' only, which a child
    // that failed to spawn never emits, and it would hold the process open for a minute.
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    const finish = (result: CommandResult) => {
      clearTimeout(timer)
      resolve(result)
    }
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    child.once('error', (error) => finish({ code: null, output: error.message }))
    child.once('close', (code) => finish({ code, output }))
  })
}

/** The `uid`/`gid` spawn options that run a child as `user`, or none. */
export function userIds(user: OsUser | undefined): { uid?: number; gid?: number } {
  return user === undefined ? {} : { uid: user.uid, gid: user.gid }
}

/**
 * The environment PostgreSQL's programs run with: the caller's `PG*` variables (`PGDATA`,
 * `PGPORT`, …) must not leak into the servers, and the C locale makes initdb independent of the
 * locales installed on the machine.
 */
export function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
  }
  if (process.env.TZ !== undefined) env.TZ = process.env.TZ
  return env
}

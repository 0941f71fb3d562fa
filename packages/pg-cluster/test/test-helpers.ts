import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { main } from '../src/cli/main.js'

/** The package's directory: the working directory of spawned Node.js processes. */
export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))

/**
 * The live (non-zombie) postgres processes whose working directory is inside `dir`: a postmaster
 * and every one of its children run in their data directory. Linux only; elsewhere empty.
 */
export function postgresProcessesIn(dir: string): number[] {
  if (process.platform !== 'linux') return []
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue
      const cwd = readlinkSync(`/proc/${entry}/cwd`)
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** Whether `process.kill(pid, 0)` still finds the process. */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls `check` until it is true, or fails after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A Node.js process running a TypeScript file of this package through tsx. */
export function spawnTs(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Resolves with everything a stream printed once `pattern` shows up in it. */
export function waitForOutput(
  stream: NodeJS.ReadableStream,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(
      () => reject(new Error(`No ${pattern} in output within ${timeoutMs} ms:\n${text}`)),
      timeoutMs,
    )
    stream.on('data', (chunk) => {
      text += chunk
      if (pattern.test(text)) {
        clearTimeout(timer)
        resolve(text)
      }
    })
  })
}

/** Parses dotenv lines (`KEY=value`). */
export function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_0-9]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
}

/**
 * Skips the running test when `missing` names what the machine lacks, and prints why; fails
 * instead when the environment variable `required` is `1` (CI sets it where the test must run).
 */
export function skipIfMissing(
  context: { readonly task: { readonly name: string }; skip(note?: string): never },
  missing: string | undefined,
  required: string,
): void {
  if (missing === undefined) return
  if (process.env[required] === '1') throw new Error(`${required}=1 but ${missing}.`)
  console.warn(`skipped "${context.task.name}": ${missing} (${required}=1 makes this fail)`)
  context.skip(missing)
}

/** Runs the CLI in this process and collects what it prints. */
export async function runCli(...argv: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  })
  return { code, stdout, stderr }
}

/** `pg_is_in_recovery()` of the server at `url`: whether it is a standby. */
export async function inRecovery(url: string | undefined): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ standby: boolean }>(
      'select pg_is_in_recovery() as standby',
    )
    return rows[0]?.standby === true
  } finally {
    await client.end()
  }
}

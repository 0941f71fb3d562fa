import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { main } from '../src/cli/main.js'
import { parseEnv, spawnTs, waitForOutput } from './test-helpers.js'

/** Runs the CLI in this process and collects what it prints. */
async function run(...argv: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  })
  return { code, stdout, stderr }
}

const scratch = mkdtempSync(join(tmpdir(), 'pg-cluster-cli-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('a detached cluster', () => {
  // Not inside `scratch` (mode 700): as root, PostgreSQL runs as another user, who must reach it.
  const dir = join(tmpdir(), `pg-cluster-cli-test-${randomBytes(4).toString('hex')}`)

  afterAll(async () => {
    if (existsSync(dir)) await run('down', '--dir', dir)
  })

  test('up --detach prints dotenv URLs and leaves the cluster running', async () => {
    const { code, stdout, stderr } = await run('up', '--replicas', '1', '--dir', dir, '--detach')
    expect(stderr).toMatch(/up in .* s, detached/)
    expect(code).toBe(0)
    const env = parseEnv(stdout)
    expect(Object.keys(env)).toEqual([
      'PG_CLUSTER_DIR',
      'DATABASE_URL_PRIMARY',
      'DATABASE_URL_REPLICA_1',
    ])
    expect(env.PG_CLUSTER_DIR).toBe(dir)
    const client = new pg.Client({ connectionString: env.DATABASE_URL_REPLICA_1 })
    await client.connect()
    const { rows } = await client.query('select pg_is_in_recovery() as standby')
    await client.end()
    expect(rows).toEqual([{ standby: true }])
  })

  test('status, kill and start act on it through its directory', async () => {
    let status = await run('status', '--dir', dir)
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^replica1\s+replica\s+\d+\s+up\s.*streaming$/m)

    expect((await run('kill', 'replica1', '--dir', dir)).code).toBe(0)
    status = await run('status', '--dir', dir, '--json')
    expect(JSON.parse(status.stdout)[1]).toMatchObject({ name: 'replica1', up: false })

    expect((await run('start', 'replica1', '--dir', dir)).code).toBe(0)
    expect((await run('pause', 'replica1', '--dir', dir)).code).toBe(0)
    status = await run('status', '--dir', dir, '--json')
    expect(JSON.parse(status.stdout)[1]).toMatchObject({ up: true, replayPaused: true })
    expect((await run('resume', 'replica1', '--dir', dir)).code).toBe(0)
    expect((await run('delay', 'replica1', '0', '--dir', dir)).code).toBe(0)
  })

  test('down stops it and removes its directory', async () => {
    const { code } = await run('down', '--dir', dir)
    expect(code).toBe(0)
    expect(existsSync(dir)).toBe(false)
    const again = await run('status', '--dir', dir)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/No cluster state/)
  })
})

test('up without --detach runs until Ctrl-C, then stops and cleans up', async () => {
  const child = spawnTs(['src/cli.ts', 'up', '--replicas', '0'])
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const env = parseEnv(await waitForOutput(child.stdout, /DATABASE_URL_PRIMARY=.*\n/))
  await waitForOutput(child.stderr, /Ctrl-C stops them/)
  const dir = env.PG_CLUSTER_DIR as string
  expect(existsSync(dir)).toBe(true)
  child.kill('SIGINT')
  expect(await exited).toBe(0)
  expect(existsSync(dir)).toBe(false)
})

describe('usage', () => {
  test.each([
    'up',
    'down',
    'status',
    'env',
    'promote',
    'kill',
    'stop',
    'start',
    'pause',
    'resume',
    'delay',
    'rejoin',
  ])('%s --help explains the command', async (command) => {
    const { code, stdout } = await run(command, '--help')
    expect(code).toBe(0)
    expect(stdout).toMatch(new RegExp(`^Usage: pg-cluster ${command}`))
  })

  test('--help lists the commands', async () => {
    const { code, stdout } = await run('--help')
    expect(code).toBe(0)
    expect(stdout).toMatch(/promote <node>/)
  })

  test('wrong usage exits with 2 and says why', async () => {
    expect(await run('launch')).toMatchObject({ code: 2, stderr: /Unknown command "launch"/ })
    expect(await run('up', '--replicas', 'two')).toMatchObject({
      code: 2,
      stderr: /--replicas must be a whole number/,
    })
    expect(await run('up', '--bogus')).toMatchObject({ code: 2, stderr: /bogus/ })
    const previous = process.env.PG_CLUSTER_DIR
    delete process.env.PG_CLUSTER_DIR
    try {
      expect(await run('kill', 'replica1')).toMatchObject({ code: 2, stderr: /--dir/ })
    } finally {
      if (previous !== undefined) process.env.PG_CLUSTER_DIR = previous
    }
    expect(await run('kill', '--dir', scratch)).toMatchObject({ code: 2, stderr: /node name/ })
  })
})

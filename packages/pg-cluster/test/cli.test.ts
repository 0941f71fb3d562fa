import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { inRecovery, parseEnv, runCli, spawnTs, waitForOutput } from './test-helpers.js'

const run = runCli

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

  test('switchover swaps the primary and a replica and prints the URLs again', async () => {
    const before = parseEnv((await run('env', '--dir', dir)).stdout)
    const { code, stdout, stderr } = await run('switchover', '--dir', dir)
    expect(stderr).toMatch(/switchover: primary -> replica1/)
    expect(code).toBe(0)
    const env = parseEnv(stdout)
    // replica1 takes writes at its own URL; the old primary is its replica, at its own.
    expect(env.DATABASE_URL_PRIMARY).toBe(before.DATABASE_URL_REPLICA_1)
    expect(env.DATABASE_URL_REPLICA_PRIMARY).toBe(before.DATABASE_URL_PRIMARY)
    expect(await inRecovery(env.DATABASE_URL_PRIMARY)).toBe(false)
    expect(await inRecovery(env.DATABASE_URL_REPLICA_PRIMARY)).toBe(true)
    const status = await run('status', '--dir', dir)
    expect(status.stdout).toMatch(/^primary\s+replica\s+\d+\s+up\s.*streaming$/m)
    // And back, naming the node this time.
    const back = await run('switchover', 'primary', '--dir', dir)
    expect(back.code).toBe(0)
    expect(parseEnv(back.stdout)).toEqual(before)
  })

  test('add-member adds a streaming replica and remove-member takes it out, URLs printed', async () => {
    const before = parseEnv((await run('env', '--dir', dir)).stdout)
    const added = await run('add-member', '--dir', dir)
    expect(added.stderr).toMatch(/add-member: replica2 joined on port \d+/)
    expect(added.code).toBe(0)
    const env = parseEnv(added.stdout)
    expect(env).toMatchObject(before)
    expect(Object.keys(env).filter((key) => !(key in before))).toEqual(['DATABASE_URL_REPLICA_2'])
    expect(await inRecovery(env.DATABASE_URL_REPLICA_2)).toBe(true)
    expect((await run('status', '--dir', dir)).stdout).toMatch(
      /^replica2\s+replica\s+\d+\s+up\s.*streaming$/m,
    )

    expect(await run('remove-member', 'replica2', '--drain-ms', '100', '--dir', dir)).toMatchObject(
      { code: 2, stderr: /--drain-ms is an option of HA clusters/ },
    )
    expect(await run('remove-member', 'primary', '--dir', dir)).toMatchObject({
      code: 1,
      stderr: /"primary" is the primary and cannot be removed; promote another node first/,
    })
    const removed = await run('remove-member', 'replica2', '--dir', dir)
    expect(removed.stderr).toMatch(/remove-member replica2: done/)
    expect(removed.code).toBe(0)
    expect(parseEnv(removed.stdout)).toEqual(before)
    expect(existsSync(join(dir, 'replica2'))).toBe(false)
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
    'switchover',
    'add-member',
    'remove-member',
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
    expect(await run('remove-member', '--dir', scratch)).toMatchObject({
      code: 2,
      stderr: /remove-member takes one node name/,
    })
    expect(await run('switchover', 'a', 'b', '--dir', scratch)).toMatchObject({
      code: 2,
      stderr: /at most one node name/,
    })
    expect(
      await run('remove-member', 'node2', '--drain-ms', 'soon', '--dir', scratch),
    ).toMatchObject({ code: 2, stderr: /--drain-ms must be a whole number/ })
  })
})

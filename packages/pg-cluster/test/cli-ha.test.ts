import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { findHaTools } from '../src/ha/ha-tools.js'
import { inRecovery, parseEnv, runCli, skipIfMissing } from './test-helpers.js'

// The membership commands on an HA cluster started by the CLI itself, as a user would run them
// one after the other: each command is a process of its own that finds the cluster by --dir.
// Skipped where Patroni and etcd are not installed (REQUIRE_HA=1 makes that fail).
const missing = await findHaTools().then(
  () => undefined,
  (error: Error) => error.message,
)

describe('membership commands on an HA cluster', () => {
  // Not inside a mode-700 scratch directory: as root, PostgreSQL runs as another user.
  const dir = join(tmpdir(), `pg-cluster-cli-ha-test-${randomBytes(4).toString('hex')}`)
  let before: Record<string, string> = {}

  beforeAll(async () => {
    if (missing !== undefined) return
    const up = await runCli('up', '--ha', '--replicas', '1', '--dir', dir, '--detach')
    expect(up.stderr).toMatch(/detached/)
    expect(up.code).toBe(0)
    before = parseEnv(up.stdout)
  }, 180_000)

  afterAll(async () => {
    if (existsSync(dir)) await runCli('down', '--dir', dir)
  }, 120_000)

  test('add-member: node3 joins as a streaming replica, its URLs printed', async (context) => {
    skipIfMissing(context, missing, 'REQUIRE_HA')
    const { code, stdout, stderr } = await runCli('add-member', '--dir', dir)
    expect(stderr).toMatch(/add-member: node3 joined on port \d+/)
    expect(code).toBe(0)
    const env = parseEnv(stdout)
    expect(env).toMatchObject(before)
    expect(Object.keys(env).filter((key) => !(key in before))).toEqual([
      'DATABASE_URL_REPLICA_3',
      'PATRONI_URL_3',
    ])
    expect(await inRecovery(env.DATABASE_URL_REPLICA_3)).toBe(true)
    const status = await runCli('status', '--dir', dir, '--json')
    expect(
      JSON.parse(status.stdout).map((node: { name: string; up: boolean }) => [node.name, node.up]),
    ).toEqual([
      ['node1', true],
      ['node2', true],
      ['node3', true],
    ])
  }, 180_000)

  test('switchover <node>: the member named takes the writes, the URLs say so', async (context) => {
    skipIfMissing(context, missing, 'REQUIRE_HA')
    const { code, stdout, stderr } = await runCli('switchover', 'node3', '--dir', dir)
    expect(stderr).toMatch(/switchover: node1 -> node3/)
    expect(code).toBe(0)
    const env = parseEnv(stdout)
    expect(env.DATABASE_URL_PRIMARY).toBe(parseEnv(await envOf(dir)).DATABASE_URL_PRIMARY)
    expect(env.DATABASE_URL_REPLICA_1).toBe(before.DATABASE_URL_PRIMARY)
    expect(await inRecovery(env.DATABASE_URL_PRIMARY)).toBe(false)
    expect(await inRecovery(env.DATABASE_URL_REPLICA_1)).toBe(true)
    expect(env.DATABASE_URL_REPLICA_3).toBeUndefined()
  }, 180_000)

  test('remove-member: the former leader leaves, its URLs are gone', async (context) => {
    skipIfMissing(context, missing, 'REQUIRE_HA')
    const { code, stdout, stderr } = await runCli('remove-member', 'node1', '--dir', dir)
    expect(stderr).toMatch(/remove-member node1: done/)
    expect(code).toBe(0)
    const env = parseEnv(stdout)
    expect(Object.keys(env).sort()).toEqual([
      'DATABASE_URL_PRIMARY',
      'DATABASE_URL_REPLICA_2',
      'PATRONI_URL_2',
      'PATRONI_URL_3',
      'PG_CLUSTER_DIR',
    ])
    expect(await inRecovery(env.DATABASE_URL_PRIMARY)).toBe(false)
    expect(existsSync(join(dir, 'node1'))).toBe(false)
    expect((await runCli('kill', 'node1', '--dir', dir)).stderr).toMatch(/node1/)
  }, 180_000)

  test('promote is refused on it: switchover is the way', async (context) => {
    skipIfMissing(context, missing, 'REQUIRE_HA')
    expect(await runCli('promote', 'node2', '--dir', dir)).toMatchObject({
      code: 2,
      stderr: /Patroni manages roles/,
    })
  })
})

async function envOf(dir: string): Promise<string> {
  return (await runCli('env', '--dir', dir)).stdout
}

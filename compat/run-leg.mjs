#!/usr/bin/env node
// Runs the test suite (or part of it) on one Kysely and one Node.js: a CI leg.
//
//   node compat/run-leg.mjs --kysely 0.29 --node 22 [--typecheck] [-- <vitest arguments>]
//
// --kysely: 0.28 (the workspace's own), 0.29 (compat/kysely-0.29), or a Kysely package folder.
// --node: system (the node running this script), 22 or 24 (compat/runtimes, from npm).
// --typecheck: first typecheck the library and its unit tests against that Kysely.
// Prints what ran (versions, where Kysely came from) and a summary line; exits non-zero on a
// failure.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = realpathSync(new URL('..', import.meta.url))
const KYSELY = {
  0.28: 'test/node_modules/kysely',
  0.29: 'compat/kysely-0.29/node_modules/kysely',
}
const NODE = {
  22: 'compat/runtimes/node_modules/node22/bin/node',
  24: 'compat/runtimes/node_modules/node24/bin/node',
}

const { values, positionals } = parseArgs({
  options: {
    kysely: { type: 'string', default: '0.28' },
    node: { type: 'string', default: 'system' },
    typecheck: { type: 'boolean', default: false },
  },
  allowPositionals: true,
})

const kyselyDir = realpathSync(resolve(root, KYSELY[values.kysely] ?? values.kysely))
const kyselyVersion = readJson(join(kyselyDir, 'package.json')).version
const node = values.node === 'system' ? process.execPath : join(root, NODE[values.node] ?? '')
const nodeVersion = run(node, ['--version'], { capture: true }).stdout.trim()
const leg = `kysely ${kyselyVersion} on node ${nodeVersion}`

console.log(`\nrunning the leg ${leg}\n    kysely from ${kyselyDir}\n    node from ${node}`)
const started = performance.now()
const typecheck = values.typecheck ? typecheckAgainst(kyselyDir) : undefined
const tests = runTests()
const seconds = ((performance.now() - started) / 1000).toFixed(0)
const verdicts = [
  typecheck === undefined ? undefined : `typecheck ${typecheck ? 'passed' : 'FAILED'}`,
  tests.summary,
].filter((verdict) => verdict !== undefined)
console.log(`--- leg: ${leg}: ${verdicts.join(', ')} in ${seconds} s\n`)
process.exit(typecheck === false || !tests.ok ? 1 : 0)

/** The library's sources and unit tests, typechecked with `kysely` mapped to `dir`. */
function typecheckAgainst(dir) {
  const temp = mkdtempSync(join(tmpdir(), 'kysely-leg-'))
  try {
    const config = join(temp, 'tsconfig.json')
    const library = join(root, 'packages/kysely-replicas')
    writeFileSync(
      config,
      JSON.stringify({
        extends: join(library, 'tsconfig.json'),
        compilerOptions: {
          // Type roots are looked up from the config's folder, a temporary one here.
          typeRoots: [join(root, 'node_modules/@types')],
          paths: {
            kysely: [dir],
            'kysely-replicas': [join(library, 'src/index.ts')],
            'kysely-replicas/postgres': [join(library, 'src/postgres/index.ts')],
          },
        },
        include: [join(library, 'src'), join(library, 'test')],
      }),
    )
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    return run(process.execPath, [tsc, '--noEmit', '-p', config]).status === 0
  } finally {
    rmSync(temp, { recursive: true, force: true })
  }
}

/** Vitest on the chosen node, `kysely` aliased to the chosen copy; counts from its JSON report. */
function runTests() {
  const temp = mkdtempSync(join(tmpdir(), 'kysely-leg-'))
  try {
    const report = join(temp, 'report.json')
    const vitest = join(root, 'node_modules/vitest/vitest.mjs')
    const { status } = run(
      node,
      [
        vitest,
        'run',
        '--config',
        join(root, 'compat/vitest.leg.config.mjs'),
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${report}`,
        ...positionals,
      ],
      { env: { KYSELY_DIR: kyselyDir, KYSELY_LEG_VERSION: kyselyVersion } },
    )
    let counts = 'no test report'
    try {
      const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = readJson(report)
      counts = `tests ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped`
    } catch {
      // Vitest failed before writing its report: its own output says why.
    }
    return { ok: status === 0, summary: status === 0 ? counts : `${counts} (FAILED)` }
  } finally {
    rmSync(temp, { recursive: true, force: true })
  }
}

function run(command, args, { capture = false, env = {} } = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: capture ? 'pipe' : 'inherit',
    encoding: 'utf8',
    env: { ...process.env, ...env },
  })
  if (result.error !== undefined) {
    throw new Error(`${command}: ${result.error.message} (was \`pnpm install\` run?)`)
  }
  return result
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'))
}

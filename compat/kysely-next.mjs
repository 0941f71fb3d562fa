#!/usr/bin/env node
// A watch on the next Kysely: typechecks the library and its unit tests against the newest
// 0.30 prerelease on npm (else the `next` dist-tag) and runs the unit tests on it, then says what
// broke, so that the peer range can follow. It reports; it never fails (exit 0), except when npm
// itself cannot be asked.
//
//   node compat/kysely-next.mjs
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const LINE = /^0\.30\.0-/

const version = newestPrerelease()
if (version === undefined) {
  console.log('kysely-next watch: npm has no 0.30 prerelease and no `next` tag; nothing to watch')
  process.exit(0)
}
const temp = mkdtempSync(join(tmpdir(), 'kysely-next-'))
try {
  npm([
    'install',
    '--prefix',
    temp,
    '--no-save',
    '--no-package-lock',
    '--no-audit',
    '--no-fund',
    `kysely@${version}`,
  ])
  const leg = spawnSync(
    process.execPath,
    [
      join(root, 'compat/run-leg.mjs'),
      '--kysely',
      join(temp, 'node_modules/kysely'),
      '--node',
      '24',
      '--typecheck',
      '--',
      '--project',
      'kysely-replicas',
    ],
    { cwd: root, encoding: 'utf8' },
  )
  const output = `${leg.stdout}${leg.stderr}`
  const typeErrors = output.split('\n').filter((line) => /error TS\d+/.test(line))
  const failedTests = output.split('\n').filter((line) => /^\s*(FAIL|×)\s/.test(stripColors(line)))
  console.log(`--- kysely-next watch: kysely ${version} (reported, not enforced)`)
  console.log(`type errors: ${typeErrors.length}`)
  for (const line of typeErrors) console.log(`  ${line}`)
  console.log(`failed tests: ${failedTests.length}`)
  for (const line of failedTests) console.log(`  ${stripColors(line).trim()}`)
  const summary = output.split('\n').findLast((line) => line.startsWith('--- leg:'))
  console.log(summary ?? `the leg did not finish:\n${output.slice(-2000)}`)
} finally {
  rmSync(temp, { recursive: true, force: true })
}

/** The newest 0.30.0 prerelease (by its number: beta.10 after beta.9), else `next`. */
function newestPrerelease() {
  const { versions, 'dist-tags': tags } = JSON.parse(
    npm(['view', 'kysely', 'versions', 'dist-tags', '--json']),
  )
  const candidates = versions.filter((each) => LINE.test(each))
  const key = (each) => each.split(/[.-]/).map((part) => (/^\d+$/.test(part) ? Number(part) : part))
  candidates.sort((a, b) => compareParts(key(a), key(b)))
  return candidates.at(-1) ?? tags.next
}

function compareParts(a, b) {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    if (a[index] === b[index]) continue
    if (a[index] === undefined) return -1
    if (b[index] === undefined) return 1
    return typeof a[index] === 'number' && typeof b[index] === 'number'
      ? a[index] - b[index]
      : String(a[index]).localeCompare(String(b[index]))
  }
  return 0
}

function npm(args) {
  const result = spawnSync('npm', args, { cwd: root, encoding: 'utf8' })
  if (result.status !== 0) {
    throw new Error(`npm ${args.join(' ')} failed: ${result.stderr}`)
  }
  return result.stdout
}

function stripColors(text) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI color codes.
  return text.replace(/\u001b\[[0-9;]*m/g, '')
}

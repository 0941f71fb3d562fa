import type { Dirent } from 'node:fs'
import { copyFile, mkdir, readdir, readlink, symlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Which files of a data directory a copy leaves out:
 *
 * - `stopped`: the source server was shut down cleanly; everything is copied but its lock file
 *   and its replication slots (slots belong to one server; the replica gets its own upstream);
 * - `online`: the source runs, between `pg_backup_start()` and `pg_backup_stop()`; the WAL is
 *   left out too (the replica streams it through its slot), as are runtime files.
 */
export type CopyMode = 'stopped' | 'online'

const ALWAYS_SKIPPED = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'standby.signal',
  'recovery.signal',
  'backup_label',
  'tablespace_map',
])

/**
 * Copies a data directory. Files that vanish while being copied (a server that runs drops
 * temporary files) are skipped rather than failing the copy.
 */
export async function copyDataDir(from: string, to: string, mode: CopyMode): Promise<void> {
  await copyTree(from, to, '', (path, entry) => {
    if (ALWAYS_SKIPPED.has(path)) return true
    if (path.startsWith('pg_replslot/')) return true
    if (mode === 'online') {
      if (path.startsWith('pg_wal/') && !entry.isDirectory()) return true
      if (path.startsWith('pg_stat_tmp/')) return true
    }
    return false
  })
}

async function copyTree(
  from: string,
  to: string,
  path: string,
  skip: (path: string, entry: Dirent) => boolean,
): Promise<void> {
  let entries: Dirent[]
  try {
    entries = await readdir(from, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  // PostgreSQL refuses a data directory that others can read.
  await mkdir(to, { mode: 0o700 })
  await Promise.all(
    entries.map(async (entry) => {
      const child = path === '' ? entry.name : `${path}/${entry.name}`
      if (skip(child, entry)) return
      const source = join(from, entry.name)
      const target = join(to, entry.name)
      try {
        if (entry.isDirectory()) await copyTree(source, target, child, skip)
        else if (entry.isSymbolicLink()) await symlink(await readlink(source), target)
        else if (entry.isFile()) await copyFile(source, target)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }),
  )
}

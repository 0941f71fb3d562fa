import { access, constants, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { BinariesNotFoundError } from '../errors.js'

const DEBIAN_ROOT = '/usr/lib/postgresql'
const REQUIRED = ['initdb', 'postgres', 'pg_ctl', 'pg_basebackup', 'pg_rewind'] as const

/**
 * The `bin` directory Patroni runs PostgreSQL from: `binDir`, else `PG_BIN`, else the newest
 * `/usr/lib/postgresql/<v>/bin` (Debian's layout). The npm binaries are not used: Patroni
 * needs `pg_basebackup` and `pg_rewind`, which they lack.
 */
export async function findSystemBinaries(binDir: string | undefined): Promise<string> {
  const given = binDir ?? (process.env.PG_BIN === '' ? undefined : process.env.PG_BIN)
  const dir = given === undefined ? await newestDebianBin() : resolve(given)
  for (const program of REQUIRED) {
    try {
      await access(join(dir, program), constants.X_OK)
    } catch (error) {
      throw new BinariesNotFoundError(
        `No executable ${program} in ${dir}. The HA mode runs PostgreSQL from a system ` +
          'installation: install postgresql (apt-get install postgresql) or point PG_BIN at a ' +
          'bin directory holding initdb, postgres, pg_ctl, pg_basebackup and pg_rewind.',
        { cause: error },
      )
    }
  }
  return dir
}

async function newestDebianBin(): Promise<string> {
  let versions: string[] = []
  try {
    versions = (await readdir(DEBIAN_ROOT)).filter((name) => /^\d+$/.test(name))
  } catch {}
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (newest === undefined) {
    throw new BinariesNotFoundError(
      `No PostgreSQL under ${DEBIAN_ROOT}. The HA mode runs PostgreSQL from a system ` +
        'installation: install postgresql (apt-get install postgresql), or set PG_BIN.',
    )
  }
  return join(DEBIAN_ROOT, newest, 'bin')
}

import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { HaToolsNotFoundError } from '../errors.js'

/** The programs an HA cluster runs besides PostgreSQL. */
export interface HaTools {
  readonly patroni: string
  readonly etcd: string
}

/** The one command that installs what the HA mode needs, as the errors and the tests say it. */
export const HA_INSTALL_HINT =
  'run scripts/install-ha.sh as root (apt-get install patroni etcd-server)'

/**
 * Finds `patroni` and `etcd` on the `PATH`; throws `HaToolsNotFoundError` naming what is
 * missing and how to install it.
 */
export async function findHaTools(): Promise<HaTools> {
  const [patroni, etcd] = await Promise.all([onPath('patroni'), onPath('etcd')])
  const missing = [
    patroni === undefined ? 'patroni (Debian package patroni)' : undefined,
    etcd === undefined ? 'etcd (Debian package etcd-server)' : undefined,
  ].filter((name) => name !== undefined)
  if (patroni === undefined || etcd === undefined) {
    throw new HaToolsNotFoundError(
      `The HA mode needs ${missing.join(' and ')} on the PATH: ${HA_INSTALL_HINT}.`,
    )
  }
  return Object.freeze({ patroni, etcd })
}

async function onPath(program: string): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)
  for (const dir of dirs) {
    const path = join(dir, program)
    try {
      await access(path, constants.X_OK)
      return path
    } catch {}
  }
  return undefined
}

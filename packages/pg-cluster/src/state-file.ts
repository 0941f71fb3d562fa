import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeRole } from './cluster-node.js'
import { StateFileError } from './errors.js'
import type { OsUser } from './os-user.js'

/**
 * Login name and password of a PostgreSQL role.
 *
 * ```ts
 * const { user, password } = cluster.superuser
 * ```
 */
export interface Credentials {
  readonly user: string
  readonly password: string
}

/** One node as the state file records it. */
export interface NodeState {
  readonly name: string
  readonly port: number
  readonly role: NodeRole
  /** The postmaster's PID when the file was written; informative only. */
  readonly pid: number | null
}

/**
 * Everything needed to act on a running cluster from another process: `cluster.json` in the
 * cluster's directory, mode 600 since it holds the passwords.
 */
export interface ClusterState {
  readonly version: 1
  readonly dir: string
  readonly removeDirOnStop: boolean
  readonly binDir: string
  readonly osUser: OsUser | null
  readonly database: string
  readonly superuser: Credentials
  readonly replication: Credentials
  readonly timeoutMs: number
  readonly nodes: readonly NodeState[]
}

const FILE_NAME = 'cluster.json'

/** Writes the state file; atomically, so that a reader never sees half of it. */
export async function writeStateFile(state: ClusterState): Promise<void> {
  const file = join(state.dir, FILE_NAME)
  const staging = `${file}.${process.pid}.tmp`
  await writeFile(staging, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  await rename(staging, file)
}

/** Reads the state file of the cluster in `dir`. */
export async function readStateFile(dir: string): Promise<ClusterState> {
  const file = join(dir, FILE_NAME)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new StateFileError(
      `No cluster state in ${dir} (${FILE_NAME} cannot be read): no cluster was started with ` +
        'this directory, or it was stopped.',
      { cause: error },
    )
  }
  try {
    const state = JSON.parse(text) as ClusterState
    if (state.version !== 1 || !Array.isArray(state.nodes)) throw new Error('unknown format')
    return state
  } catch (error) {
    throw new StateFileError(`${file} is not a pg-cluster state file.`, { cause: error })
  }
}

import { lchown, lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { UnprivilegedUserError } from './errors.js'
import { runCommand } from './run-command.js'

/** The OS user that PostgreSQL runs as when pg-cluster runs as root. */
export interface OsUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

const CREATED_USER = 'pgcluster'

/** Whether this process runs as root, where PostgreSQL refuses to run. */
export function isRoot(): boolean {
  return process.getuid?.() === 0
}

/**
 * The user to run PostgreSQL as, or `undefined` when the process is not root and PostgreSQL
 * simply runs as the current user. As root: `requested` (the `osUser` option), else
 * `PG_CLUSTER_USER`, else an existing `postgres` user, else a `pgcluster` system user that is
 * created for the purpose.
 */
export async function resolveOsUser(requested: string | undefined): Promise<OsUser | undefined> {
  if (!isRoot()) return undefined
  const explicit = requested ?? nonEmpty(process.env.PG_CLUSTER_USER)
  if (explicit !== undefined) {
    const user = await lookUpUser(explicit)
    if (user === undefined) {
      throw new UnprivilegedUserError(
        `The OS user "${explicit}" (from ${requested === undefined ? 'PG_CLUSTER_USER' : 'the osUser option'}) ` +
          'does not exist. PostgreSQL cannot run as root, so pg-cluster runs it as that user: ' +
          'create it or name another one.',
      )
    }
    return assertUnprivileged(user)
  }
  const existing = (await lookUpUser('postgres')) ?? (await lookUpUser(CREATED_USER))
  if (existing !== undefined) return assertUnprivileged(existing)
  return assertUnprivileged(await createSystemUser())
}

/**
 * Hands a file tree to `user`: files that root copied or created belong to root, and the
 * server refuses a data directory it does not own.
 */
export async function chownTree(path: string, user: OsUser | undefined): Promise<void> {
  if (user === undefined) return
  await lchown(path, user.uid, user.gid)
  if (!(await lstat(path)).isDirectory()) return
  const entries = await readdir(path)
  await Promise.all(entries.map((entry) => chownTree(join(path, entry), user)))
}

async function lookUpUser(name: string): Promise<OsUser | undefined> {
  const [uid, gid] = await Promise.all([
    runCommand('id', ['-u', name]),
    runCommand('id', ['-g', name]),
  ])
  if (uid.code !== 0 || gid.code !== 0) return undefined
  return { name, uid: Number(uid.output.trim()), gid: Number(gid.output.trim()) }
}

async function createSystemUser(): Promise<OsUser> {
  const attempts: Array<[string, string[]]> = [
    ['useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', CREATED_USER]],
    // BusyBox (Alpine) has adduser only.
    ['adduser', ['-S', '-D', '-H', '-s', '/sbin/nologin', CREATED_USER]],
  ]
  const failures: string[] = []
  for (const [command, args] of attempts) {
    const result = await runCommand(command, args)
    // Another process may have created the user at the same moment: look it up either way.
    const user = await lookUpUser(CREATED_USER)
    if (user !== undefined) return user
    failures.push(`${command}: ${result.output.trim() || `exit code ${result.code}`}`)
  }
  throw new UnprivilegedUserError(
    'PostgreSQL cannot run as root, and there is no "postgres" OS user to run it as; creating ' +
      `a "${CREATED_USER}" system user failed (${failures.join('; ')}). Create an unprivileged ` +
      'user and name it with PG_CLUSTER_USER or the osUser option.',
  )
}

function assertUnprivileged(user: OsUser): OsUser {
  if (user.uid === 0) {
    throw new UnprivilegedUserError(
      `The OS user "${user.name}" has uid 0; PostgreSQL refuses to run as root. Name an ` +
        'unprivileged user with PG_CLUSTER_USER or the osUser option.',
    )
  }
  return Object.freeze(user)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

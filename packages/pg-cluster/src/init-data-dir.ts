import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PgClusterError } from './errors.js'
import { chownTree, type OsUser } from './os-user.js'
import { renderSettings, type SettingValue } from './postgres-conf.js'
import { runCommand } from './run-command.js'
import type { Credentials } from './state-file.js'

/** What the primary's data directory is made from. */
export interface InitDataDirOptions {
  readonly binDir: string
  readonly dataDir: string
  /** A directory the OS user owns, for initdb's password file. */
  readonly workDir: string
  readonly user: OsUser | undefined
  readonly superuser: Credentials
  readonly replicationUser: string
  readonly hotStandbyFeedback: boolean
  readonly settings: Readonly<Record<string, SettingValue>>
}

/**
 * Runs initdb and writes the configuration every node shares (replicas are copies of this
 * directory): loopback TCP only, no Unix socket (its default directory, `/var/run/postgresql`,
 * is often missing or not writable), WAL and slots for streaming replication, hot standby, and
 * `fsync = off`, which makes a test cluster much faster and loses data only if the machine
 * itself crashes.
 */
export async function initDataDir(options: InitDataDirOptions): Promise<void> {
  const { binDir, dataDir, workDir, user, superuser } = options
  const passwordFile = join(workDir, '.initdb-password')
  await writeFile(passwordFile, `${superuser.password}\n`, { mode: 0o600 })
  await chownTree(passwordFile, user)
  let result: Awaited<ReturnType<typeof runCommand>>
  try {
    result = await runCommand(
      join(binDir, 'initdb'),
      [
        `--pgdata=${dataDir}`,
        `--username=${superuser.user}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { user, cwd: workDir },
    )
  } finally {
    await rm(passwordFile, { force: true })
  }
  if (result.code !== 0) {
    throw new PgClusterError(`initdb failed (exit code ${result.code}):\n${result.output.trim()}`)
  }

  const conf = renderSettings({
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    wal_level: 'replica',
    max_wal_senders: 20,
    max_replication_slots: 20,
    hot_standby: true,
    hot_standby_feedback: options.hotStandbyFeedback,
    // Replicas report their position every second (default 10 s), so lag reads are fresh.
    wal_receiver_status_interval: '1s',
    // A replica retries a lost primary after 0.5 s (default 5 s): restarts and promotions in
    // tests do not stall.
    wal_retrieve_retry_interval: '500ms',
    fsync: false,
    ...options.settings,
  })
  await writeFile(join(dataDir, 'postgresql.conf'), `\n# Added by pg-cluster\n${conf}`, {
    flag: 'a',
  })
  await writeFile(
    join(dataDir, 'pg_hba.conf'),
    '# Written by pg-cluster: password logins over loopback TCP only.\n' +
      '# TYPE  DATABASE     USER  ADDRESS       METHOD\n' +
      'host    all          all   127.0.0.1/32  scram-sha-256\n' +
      `host    replication  ${options.replicationUser}  127.0.0.1/32  scram-sha-256\n`,
  )
}

import type { SettingValue } from '../postgres-conf.js'
import type { Credentials } from '../state-file.js'

/** What differs between the Patroni configurations of one cluster's nodes. */
export interface PatroniNodeConfig {
  readonly name: string
  readonly port: number
  readonly apiPort: number
  /** The node's directory: Patroni's working directory, the socket and the password file. */
  readonly dir: string
  readonly dataDir: string
}

/** What the nodes of one cluster share. */
export interface PatroniClusterConfig {
  /** Patroni's `scope`: the cluster's name in etcd. */
  readonly scope: string
  readonly etcdPort: number
  readonly binDir: string
  readonly superuser: Credentials
  readonly replication: Credentials
  readonly synchronousMode: boolean
  readonly ttl: number
  readonly loopWait: number
  readonly retryTimeout: number
  readonly settings: Readonly<Record<string, SettingValue>>
}

const HOST = '127.0.0.1'

/**
 * One node's Patroni configuration, as JSON (which YAML parsers read). The `bootstrap` section
 * only counts on the node that initializes the cluster; the rest copy it with `pg_basebackup`.
 * Checksums let `pg_rewind` turn a former leader into a replica of the new one, and a data
 * directory that cannot be rewound is rebuilt, so a killed leader always comes back.
 */
export function renderPatroniConfig(
  cluster: PatroniClusterConfig,
  node: PatroniNodeConfig,
): string {
  const config = {
    scope: cluster.scope,
    name: node.name,
    log: { level: 'INFO' },
    restapi: { listen: `${HOST}:${node.apiPort}`, connect_address: `${HOST}:${node.apiPort}` },
    etcd3: { host: `${HOST}:${cluster.etcdPort}` },
    bootstrap: {
      dcs: {
        ttl: cluster.ttl,
        loop_wait: cluster.loopWait,
        retry_timeout: cluster.retryTimeout,
        maximum_lag_on_failover: 1_048_576,
        synchronous_mode: cluster.synchronousMode,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_level: 'replica',
            hot_standby: 'on',
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '128MB',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
    },
    postgresql: {
      listen: `${HOST}:${node.port}`,
      connect_address: `${HOST}:${node.port}`,
      data_dir: node.dataDir,
      bin_dir: cluster.binDir,
      pgpass: `${node.dir}/pgpass`,
      authentication: {
        superuser: { username: cluster.superuser.user, password: cluster.superuser.password },
        replication: { username: cluster.replication.user, password: cluster.replication.password },
      },
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
      parameters: {
        unix_socket_directories: node.dir,
        // PostgreSQL's own log next to Patroni's, in the node's directory.
        logging_collector: 'on',
        log_directory: node.dir,
        log_filename: 'postgresql.log',
        ...cluster.settings,
      },
      pg_hba: [
        'local all all trust',
        `host all all ${HOST}/32 scram-sha-256`,
        `host replication ${cluster.replication.user} ${HOST}/32 scram-sha-256`,
      ],
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  }
  return `${JSON.stringify(config, null, 2)}\n`
}

/** The etcd command line: one member, on 127.0.0.1 only. */
export function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://${HOST}:${clientPort}`
  const peer = `http://${HOST}:${peerPort}`
  return [
    '--name=etcd',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=etcd=${peer}`,
    '--initial-cluster-state=new',
    '--enable-v2=true',
  ]
}

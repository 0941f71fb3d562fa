import { chmod, lchown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { findBinaries } from './binaries/find-binaries.js'
import {
  type CleanupTarget,
  registerForCleanup,
  unregisterFromCleanup,
  updateCleanup,
} from './cleanup-on-exit.js'
import { ClusterNode, type NodeRole, type PgClusterNode } from './cluster-node.js'
import { copyDataDir } from './copy-data-dir.js'
import {
  ClusterTimeoutError,
  DirectoryNotEmptyError,
  NodeNotFoundError,
  NodeStateError,
  PgClusterError,
  PortInUseError,
  UnprivilegedUserError,
} from './errors.js'
import { PatroniCluster } from './ha/patroni-cluster.js'
import type { PatroniClusterOptions } from './ha/patroni-cluster-options.js'
import { initDataDir } from './init-data-dir.js'
import { NodeProcess } from './node-process.js'
import { type NodeStatus, readStatus } from './node-status.js'
import { chownTree, type OsUser, resolveOsUser } from './os-user.js'
import type { PgClusterOptions, WaitForReplayOptions } from './pg-cluster-options.js'
import { assertPortsFree, findFreePorts } from './ports.js'
import { conninfo, setAutoConf, sqlIdentifier, sqlLiteral } from './postgres-conf.js'
import {
  assertApplyDelay,
  pauseReplayOn,
  resumeReplayOn,
  setApplyDelayOn,
  waitForReplayOn,
} from './replay-control.js'
import type { ReplicatedCluster } from './replicated-cluster.js'
import { runCommand } from './run-command.js'
import { generatePassword } from './secrets.js'
import { queryRows, type Row, type SqlSession, withClient } from './sql-client.js'
import { type ClusterState, type Credentials, readStateFile, writeStateFile } from './state-file.js'
import { waitFor } from './wait-for.js'

/**
 * A node, or its name: every method that acts on a node takes either.
 *
 * ```ts
 * await cluster.kill('replica1')
 * await cluster.start(cluster.node('replica1'))
 * ```
 */
export type NodeRef = PgClusterNode | string

interface ClusterConfig {
  readonly dir: string
  readonly removeDirOnStop: boolean
  readonly binDir: string
  readonly osUser: OsUser | undefined
  readonly database: string
  readonly superuser: Credentials
  readonly replication: Credentials
  readonly timeoutMs: number
  /** Ports were chosen by pg-cluster, so a port taken meanwhile may be swapped for another. */
  readonly autoPorts: boolean
}

const DEFAULT_REPLICAS = 2
const DEFAULT_TIMEOUT_MS = 60_000
const REPLICATION_USER = 'replicator'

/**
 * A PostgreSQL primary with hot-standby replicas fed by physical streaming replication, on
 * 127.0.0.1, for tests and demos. Each replica streams through its own replication slot, so the
 * primary keeps the WAL a stopped replica still needs.
 *
 * Start one with `PgCluster.start()`; act on one that another process started (the CLI's
 * `up --detach`) with `PgCluster.attach(dir)`. A started cluster is stopped and its files removed
 * when the process ends, however it ends, unless it was `detach()`ed.
 *
 * Methods that take a node accept the node object or its name (`'primary'`, `'replica1'`, …).
 * Run one operation at a time per cluster: they are not meant to overlap.
 *
 * ```ts
 * import { PgCluster } from '@kysely-replicas/pg-cluster'
 * import pg from 'pg'
 *
 * const cluster = await PgCluster.start({ replicas: 2 })
 * try {
 *   const primary = new pg.Pool(cluster.primary.poolConfig())
 *   await primary.query('create table t (id int)')
 *   await primary.query('insert into t values (1)')
 *   await cluster.waitForReplay()
 *   console.log(await cluster.query('replica1', 'select * from t')) // [{ id: 1 }]
 *   await primary.end()
 * } finally {
 *   await cluster.stop()
 * }
 * ```
 */
export class PgCluster implements ReplicatedCluster<PgClusterNode> {
  readonly #config: ClusterConfig
  readonly #cleanup: CleanupTarget
  // Replaced, never changed in place: addMember() and removeMember() change the membership, and
  // a caller holding `nodes` keeps the list it was given.
  #nodes: readonly ClusterNode[]
  #stopped: Promise<void> | undefined

  private constructor(config: ClusterConfig, nodes: readonly ClusterNode[]) {
    this.#config = Object.freeze({ ...config })
    this.#nodes = Object.freeze([...nodes])
    const cluster = this
    this.#cleanup = Object.freeze({
      // Read when the exit handlers run or the watchdog is told (updateCleanup), so members
      // that joined are covered too.
      get dataDirs() {
        return cluster.#nodes.map((node) => node.dataDir)
      },
      removeDir: this.#config.removeDirOnStop ? this.#config.dir : undefined,
      stop: () => this.stop(),
    })
  }

  /**
   * Builds and starts a cluster: initdb for the primary, a copy of its data directory for each
   * replica, then every server. Resolves once every replica streams from the primary and
   * accepts read-only connections.
   *
   * ```ts
   * const cluster = await PgCluster.start() // a primary and 2 replicas on free ports
   * const small = await PgCluster.start({ replicas: 1, port: 55432, database: 'app' })
   * ```
   */
  static start(options?: PgClusterOptions): Promise<PgCluster>
  /**
   * With `ha: 'patroni'`: a cluster whose failovers Patroni decides (etcd and one Patroni per
   * node, PostgreSQL from the system's binaries); see `PatroniCluster`.
   *
   * ```ts
   * const cluster = await PgCluster.start({ ha: 'patroni', replicas: 2, synchronousMode: true })
   * ```
   */
  static start(options: PatroniClusterOptions): Promise<PatroniCluster>
  static async start(
    options: PgClusterOptions | PatroniClusterOptions = {},
  ): Promise<PgCluster | PatroniCluster> {
    if ('ha' in options) return PatroniCluster.start(options)
    const replicas = options.replicas ?? DEFAULT_REPLICAS
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 16) {
      throw new PgClusterError(`replicas must be an integer from 0 to 16, not ${replicas}.`)
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const count = replicas + 1
    const osUser = await resolveOsUser(options.osUser)
    const [binaries, ports] = await Promise.all([
      findBinaries(options.binDir, osUser),
      options.port === undefined
        ? findFreePorts(count)
        : assertPortsFree(portRange(options.port, count)).then(() =>
            portRange(options.port as number, count),
          ),
    ])
    const dir = await prepareDir(options.dir, osUser)

    const config: ClusterConfig = {
      dir,
      removeDirOnStop: options.keep !== true,
      binDir: binaries.binDir,
      osUser,
      database: options.database ?? 'postgres',
      superuser: Object.freeze({ user: 'postgres', password: generatePassword() }),
      replication: Object.freeze({ user: REPLICATION_USER, password: generatePassword() }),
      timeoutMs,
      autoPorts: options.port === undefined,
    }
    const roles: NodeRole[] = ['primary', ...Array<NodeRole>(replicas).fill('replica')]
    const names = roles.map((_, index) => (index === 0 ? 'primary' : `replica${index}`))
    const cluster = new PgCluster(
      config,
      names.map((name, index) =>
        createNode(config, name, ports[index] as number, roles[index] as NodeRole),
      ),
    )
    // Before anything runs, so that a failure or a Ctrl-C halfway leaves nothing behind.
    registerForCleanup(cluster.#cleanup)
    try {
      await cluster.#bootstrap(options)
    } catch (error) {
      await cluster.stop().catch(() => {})
      throw error
    }
    return cluster
  }

  /**
   * The cluster whose files are in `dir`, started by another process (the CLI's
   * `pg-cluster up --detach`) or earlier by this one. Its servers are left as they are; the
   * attached cluster is not stopped when this process exits.
   *
   * ```ts
   * const cluster = await PgCluster.attach('.pg-cluster')
   * console.table(await cluster.status())
   * await cluster.stop() // stops the servers and removes .pg-cluster
   * ```
   */
  static async attach(dir: string): Promise<PgCluster> {
    const state = await readStateFile(resolve(dir))
    const config: ClusterConfig = {
      dir: state.dir,
      removeDirOnStop: state.removeDirOnStop,
      binDir: state.binDir,
      osUser: state.osUser ?? undefined,
      database: state.database,
      superuser: Object.freeze({ ...state.superuser }),
      replication: Object.freeze({ ...state.replication }),
      timeoutMs: state.timeoutMs,
      autoPorts: false,
    }
    return new PgCluster(
      config,
      state.nodes.map((node) => createNode(config, node.name, node.port, node.role)),
    )
  }

  /**
   * The directory holding the data directories, the logs and `cluster.json`.
   *
   * ```ts
   * console.log(`logs in ${cluster.dir}/primary.log`)
   * ```
   */
  get dir(): string {
    return this.#config.dir
  }

  /**
   * Every node: the first primary, then `replica1`, `replica2`, … in creation order.
   *
   * ```ts
   * for (const node of cluster.nodes) console.log(node.name, node.role, node.port)
   * ```
   */
  get nodes(): readonly PgClusterNode[] {
    return this.#nodes
  }

  /**
   * The node that is the primary now (after `promote()`, the promoted one).
   *
   * ```ts
   * const pool = new pg.Pool(cluster.primary.poolConfig())
   * ```
   */
  get primary(): PgClusterNode {
    return this.#primary()
  }

  /**
   * The nodes that are replicas now.
   *
   * ```ts
   * const readers = cluster.replicas.map((node) => new pg.Pool(node.poolConfig()))
   * ```
   */
  get replicas(): readonly PgClusterNode[] {
    return this.#nodes.filter((node) => node.role === 'replica')
  }

  /**
   * The superuser login: `postgres` and a password generated for this cluster.
   *
   * ```ts
   * const { user, password } = cluster.superuser
   * ```
   */
  get superuser(): Credentials {
    return this.#config.superuser
  }

  /**
   * The database that connection strings and `poolConfig()` point at.
   *
   * ```ts
   * const cluster = await PgCluster.start({ database: 'app' })
   * cluster.database // 'app'
   * ```
   */
  get database(): string {
    return this.#config.database
  }

  /**
   * The node with that name; throws `NodeNotFoundError` for an unknown one.
   *
   * ```ts
   * const replica = cluster.node('replica1')
   * ```
   */
  node(name: string): PgClusterNode {
    return this.#node(name)
  }

  /**
   * Starts a node that was stopped or killed, and resolves when it accepts connections; for a
   * replica, once it streams again, for a primary, once the running replicas stream from it
   * again. A killed primary goes through crash recovery. Starting a running node does nothing.
   * A retired former primary cannot be started (it would be a second primary): use
   * `rejoinAsReplica()`.
   *
   * ```ts
   * await cluster.kill('replica1')
   * await cluster.start('replica1')
   * ```
   */
  async start(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    if (node.role === 'retired') {
      throw new NodeStateError(
        node.name,
        `"${node.name}" is a former primary; starting it would make a second primary. Use ` +
          'rejoinAsReplica() to bring it back as a replica.',
      )
    }
    if (node.pid !== undefined) return
    const primary = this.#primary()
    if (node.role === 'replica') {
      await this.#configureStoppedReplica(node)
      const primaryUp = primary.pid !== undefined
      if (primaryUp) await this.#ensureSlot(primary, node.name)
      await this.#startProcess(node)
      if (primaryUp) await this.#waitStreaming(node)
    } else {
      const port = node.port
      await this.#startProcess(node)
      const running = this.#runningReplicas()
      if (node.port !== port) await Promise.all(running.map((replica) => this.#follow(replica)))
      else await Promise.all(running.map((replica) => this.#waitStreaming(replica)))
    }
    await this.#writeState()
  }

  /**
   * Without a node: stops every server (fast shutdown), removes the cluster's directory (unless
   * it was started with `keep: true`) and releases the exit handlers. Safe to call more than
   * once. With a node: a fast shutdown of that server only (`pg_ctl stop -m fast`); start it
   * again with `start(node)`.
   *
   * ```ts
   * await cluster.stop('replica2') // one server
   * await cluster.stop() // everything
   * ```
   */
  async stop(ref?: NodeRef): Promise<void> {
    if (ref === undefined) {
      this.#stopped ??= this.#stopAll()
      return this.#stopped
    }
    this.#assertOpen()
    await this.#node(ref).process.stop(this.#config.timeoutMs)
    await this.#writeState()
  }

  /**
   * Crashes a node: SIGKILL to its postmaster, then waits until the postmaster and its children
   * are gone. Clients connected to it see their connections drop. `start(node)` brings it back
   * (a primary through crash recovery, a replica resuming from its slot).
   *
   * ```ts
   * await cluster.kill('primary')
   * console.log((await cluster.status())[0].up) // false
   * ```
   */
  async kill(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    await this.#node(ref).process.kill(this.#config.timeoutMs)
    await this.#writeState()
  }

  /**
   * Makes a replica the primary (`pg_promote()`), then has the other running replicas follow it
   * on its new timeline: their `primary_conninfo` is repointed (`ALTER SYSTEM` + reload), a slot
   * is made for each on the new primary, and this resolves once they stream from it. A replica
   * that is down follows when it is started.
   *
   * The old primary becomes `retired` and stays down: if it still runs, it is stopped first
   * (fenced), which also hands its last WAL to the replicas. A replica that had replayed more
   * than the promoted one cannot follow it; `rejoinAsReplica()` rebuilds such a node.
   *
   * ```ts
   * await cluster.promote('replica1')
   * cluster.primary.name // 'replica1'
   * cluster.node('primary').role // 'retired'
   * ```
   */
  async promote(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    const target = this.#node(ref)
    if (target.role !== 'replica') {
      throw new NodeStateError(
        target.name,
        `"${target.name}" is ${target.role === 'primary' ? 'already the primary' : 'a retired former primary'}; only a replica can be promoted.`,
      )
    }
    this.#assertRunning(target, 'be promoted')
    const old = this.#primary()
    if (old.pid !== undefined) await old.process.stop(this.#config.timeoutMs)

    const timeoutSeconds = Math.max(1, Math.ceil(this.#config.timeoutMs / 1000))
    await withClient(
      target.adminConfig(),
      async (client) => {
        const { rows } = await client.query<{ promoted: boolean }>(
          'select pg_promote(true, $1) as promoted',
          [timeoutSeconds],
        )
        if (rows[0]?.promoted !== true) {
          throw new ClusterTimeoutError(
            `"${target.name}" was not promoted within ${timeoutSeconds} s.`,
          )
        }
        // Upstream settings mean nothing on a primary; cleared so the files say what it is.
        await client.query('alter system reset primary_conninfo')
        await client.query('alter system reset primary_slot_name')
        await client.query('select pg_reload_conf()')
      },
      { queryMs: this.#config.timeoutMs + 5000 },
    )
    old.role = 'retired'
    target.role = 'primary'
    await this.#writeState()
    await Promise.all(this.#runningReplicas().map((replica) => this.#follow(replica)))
  }

  /**
   * Turns a retired former primary (or a replica that cannot follow any more) into a fresh
   * replica of the current primary: its data directory is replaced by an online copy of the
   * primary's (`pg_backup_start()` / `pg_backup_stop()`, no `pg_basebackup` needed), then it is
   * started and this resolves once it streams.
   *
   * ```ts
   * await cluster.promote('replica1')
   * await cluster.rejoinAsReplica('primary')
   * cluster.node('primary').role // 'replica'
   * ```
   */
  async rejoinAsReplica(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    if (node.role === 'primary') {
      throw new NodeStateError(node.name, `"${node.name}" is the primary; it cannot rejoin.`)
    }
    this.#assertRunning(this.#primary(), 'serve as the source of a new replica')
    await node.process.stop(this.#config.timeoutMs)
    await rm(node.dataDir, { recursive: true, force: true })
    await this.#copyFromPrimary(node)
    node.role = 'replica'
    await setAutoConf(node.dataDir, { recovery_min_apply_delay: null })
    await this.#configureStoppedReplica(node)
    await this.#startProcess(node)
    await this.#waitStreaming(node)
    await this.#writeState()
  }

  /**
   * Adds a replica to the running cluster: `replica<n>` (the next free number) on a free port,
   * an online copy of the current primary's data directory with a replication slot of its own.
   * Resolves with the node once it streams and takes read-only connections.
   *
   * ```ts
   * const node = await cluster.addMember()
   * console.log(node.name, node.port) // replica3 …
   * ```
   */
  async addMember(): Promise<PgClusterNode> {
    this.#assertOpen()
    this.#assertRunning(this.#primary(), 'serve as the source of a new replica')
    const taken = new Set(this.#nodes.map((each) => each.name))
    let number = this.#nodes.length
    while (taken.has(`replica${number}`)) number++
    const [port] = (await findFreePorts(1)) as [number]
    const node = createNode(this.#config, `replica${number}`, port, 'replica')
    // Listed before anything runs: a failure or an exit halfway leaves no server behind.
    this.#nodes = Object.freeze([...this.#nodes, node])
    updateCleanup(this.#cleanup)
    try {
      await this.#copyFromPrimary(node)
      await this.#configureStoppedReplica(node)
      await this.#startProcess(node)
      await this.#waitStreaming(node)
    } catch (error) {
      await this.#forget(node).catch(() => {})
      throw error
    }
    await this.#writeState()
    return node
  }

  /**
   * Takes a replica (or a retired former primary) out of the cluster for good: its server is
   * stopped, its replication slot dropped on the primary, its files removed. The primary cannot
   * be removed: promote another node first (`promote()`, then `rejoinAsReplica()` if the old
   * primary should stay).
   *
   * ```ts
   * await cluster.removeMember('replica2')
   * cluster.replicas.map((node) => node.name) // ['replica1']
   * ```
   */
  async removeMember(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    if (node.role === 'primary') {
      throw new NodeStateError(
        node.name,
        `"${node.name}" is the primary and cannot be removed; promote another node first (pg-cluster switchover).`,
      )
    }
    await this.#forget(node)
  }

  /** Drops a member: stops its server, then its slot on the primary (if up), files and entry. */
  async #forget(node: ClusterNode): Promise<void> {
    await node.process.stop(this.#config.timeoutMs)
    const primary = this.#primary()
    if (primary.pid !== undefined) {
      await queryRows(
        primary.adminConfig(),
        'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
        [node.name],
      )
    }
    this.#nodes = Object.freeze(this.#nodes.filter((each) => each !== node))
    updateCleanup(this.#cleanup)
    await this.#writeState()
    await rm(node.dataDir, { recursive: true, force: true, maxRetries: 3 })
    await rm(node.logFile, { force: true })
  }

  /**
   * Pauses WAL replay on a replica (`pg_wal_replay_pause()`) and resolves once it is paused. The
   * replica still receives WAL but shows no new data until `resumeReplay()`.
   *
   * ```ts
   * await cluster.pauseReplay('replica1')
   * // writes on the primary are not visible on replica1 now
   * await cluster.resumeReplay('replica1')
   * ```
   */
  async pauseReplay(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    const replica = this.#runningReplica(ref, 'pause replay')
    await pauseReplayOn(replica, {
      timeoutMs: this.#config.timeoutMs,
      nudgePrimary: () => this.#nudgePrimary(),
    })
  }

  /**
   * Resumes WAL replay on a paused replica and resolves once replay runs again.
   *
   * ```ts
   * await cluster.resumeReplay('replica1')
   * await cluster.waitForReplay('replica1')
   * ```
   */
  async resumeReplay(ref: NodeRef): Promise<void> {
    this.#assertOpen()
    const replica = this.#runningReplica(ref, 'resume replay')
    await resumeReplayOn(replica, { timeoutMs: this.#config.timeoutMs })
  }

  /**
   * Makes a replica apply each transaction `ms` milliseconds after it committed on the primary
   * (`recovery_min_apply_delay`); 0 removes the delay. Resolves once the server uses the new
   * value.
   *
   * ```ts
   * await cluster.setApplyDelay('replica2', 1500) // replica2 lags 1.5 s behind
   * await cluster.setApplyDelay('replica2', 0)
   * ```
   */
  async setApplyDelay(ref: NodeRef, ms: number): Promise<void> {
    this.#assertOpen()
    assertApplyDelay(ms)
    const replica = this.#runningReplica(ref, 'delay replay')
    await setApplyDelayOn(replica, ms, { timeoutMs: this.#config.timeoutMs })
  }

  /**
   * Resolves once a replica (or every running replica) has replayed everything the primary had
   * written when this was called (`pg_last_wal_replay_lsn() >= pg_current_wal_lsn()`). On a
   * paused replica it waits until replay resumes, up to the timeout.
   *
   * ```ts
   * await primaryPool.query('insert into t values (2)')
   * await cluster.waitForReplay() // every running replica has the row now
   * await cluster.waitForReplay('replica1', { timeoutMs: 5000 })
   * ```
   */
  async waitForReplay(ref?: NodeRef, options: WaitForReplayOptions = {}): Promise<void> {
    this.#assertOpen()
    const primary = this.#primary()
    this.#assertRunning(primary, 'be waited for')
    const replicas =
      ref === undefined ? this.#runningReplicas() : [this.#runningReplica(ref, 'replay')]
    await waitForReplayOn(primary, replicas, {
      timeoutMs: options.timeoutMs ?? this.#config.timeoutMs,
    })
  }

  /**
   * The state of every node, read from the servers; a node that is down shows `up: false`
   * within about 1.5 s. See `NodeStatus`.
   *
   * ```ts
   * console.table(await cluster.status())
   * ```
   */
  async status(): Promise<NodeStatus[]> {
    this.#assertOpen()
    return readStatus(this.#nodes)
  }

  /**
   * Runs one statement on a node, on a fresh connection, and returns the rows. For quick checks
   * in tests and scripts; use a `pg.Pool` with `node.poolConfig()` for real work.
   *
   * ```ts
   * const rows = await cluster.query('replica1', 'select count(*)::int as n from t')
   * ```
   */
  async query<R extends Row = Row>(
    ref: NodeRef,
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    this.#assertOpen()
    return queryRows<R>(this.#node(ref).poolConfig(), sql, params)
  }

  /**
   * Lets the cluster outlive this process: the exit handlers no longer stop it. Act on it later
   * with `PgCluster.attach(cluster.dir)`; the CLI's `up --detach` does this.
   *
   * ```ts
   * const cluster = await PgCluster.start({ dir: '.pg-cluster' })
   * cluster.detach()
   * // later, anywhere: await (await PgCluster.attach('.pg-cluster')).stop()
   * ```
   */
  detach(): void {
    unregisterFromCleanup(this.#cleanup)
  }

  async #bootstrap(options: PgClusterOptions): Promise<void> {
    const { binDir, dir, osUser, superuser, replication, database } = this.#config
    const [primary, ...replicas] = this.#nodes as [ClusterNode, ...ClusterNode[]]
    await initDataDir({
      binDir,
      dataDir: primary.dataDir,
      workDir: dir,
      user: osUser,
      superuser,
      replicationUser: replication.user,
      hotStandbyFeedback: options.hotStandbyFeedback ?? false,
      settings: options.settings ?? {},
    })
    await setAutoConf(primary.dataDir, { port: primary.port })
    await this.#startProcess(primary)
    await withClient(primary.adminConfig(), async (client) => {
      // If a statement failed, the server would log it, password included.
      await client.query(`set log_min_error_statement = 'panic'`)
      await client.query(
        `create role ${sqlIdentifier(replication.user)} with login replication password ${sqlLiteral(replication.password)}`,
      )
      if (database !== 'postgres') await client.query(`create database ${sqlIdentifier(database)}`)
      for (const replica of replicas) {
        await client.query('select pg_create_physical_replication_slot($1, true)', [replica.name])
      }
    })
    // A clean shutdown leaves a consistent directory that can be copied as it is.
    await primary.process.stop(this.#config.timeoutMs)
    await Promise.all(
      replicas.map(async (replica) => {
        await copyDataDir(primary.dataDir, replica.dataDir, 'stopped')
        await this.#configureStoppedReplica(replica)
      }),
    )
    await this.#writeState()
    await this.#startProcess(primary)
    await Promise.all(replicas.map((replica) => this.#startProcess(replica)))
    await Promise.all(replicas.map((replica) => this.#waitStreaming(replica)))
    await this.#writeState()
  }

  /** Points a replica that is down at the current primary, through its own slot. */
  async #configureStoppedReplica(node: ClusterNode): Promise<void> {
    await setAutoConf(node.dataDir, {
      port: node.port,
      primary_conninfo: this.#primaryConninfo(node),
      primary_slot_name: node.name,
    })
    await writeFile(join(node.dataDir, 'standby.signal'), '')
    await chownTree(node.dataDir, this.#config.osUser)
  }

  /**
   * Fills a node's empty data directory with an online copy of the primary's (`pg_backup_start()`
   * / `pg_backup_stop()`, no `pg_basebackup` needed).
   */
  async #copyFromPrimary(node: ClusterNode): Promise<void> {
    const primary = this.#primary()
    // Before the backup starts, so the slot holds every WAL segment the copy will need.
    await this.#ensureSlot(primary, node.name)
    await withClient(
      primary.adminConfig(),
      async (client) => {
        const version = await serverVersionNumber(client)
        await client.query(
          version >= 150_000
            ? `select pg_backup_start('pg-cluster', true)`
            : `select pg_start_backup('pg-cluster', true, false)`,
        )
        await copyDataDir(primary.dataDir, node.dataDir, 'online')
        const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
          version >= 150_000
            ? 'select labelfile, spcmapfile from pg_backup_stop(false)'
            : 'select labelfile, spcmapfile from pg_stop_backup(false, false)',
        )
        const row = rows[0]
        if (row === undefined) throw new PgClusterError('pg_backup_stop() returned nothing.')
        await writeFile(join(node.dataDir, 'backup_label'), row.labelfile, { mode: 0o600 })
        if (row.spcmapfile) {
          await writeFile(join(node.dataDir, 'tablespace_map'), row.spcmapfile, { mode: 0o600 })
        }
      },
      { queryMs: this.#config.timeoutMs },
    )
  }

  /** Repoints a running replica at the current primary and waits until it streams from it. */
  async #follow(replica: ClusterNode): Promise<void> {
    await this.#ensureSlot(this.#primary(), replica.name)
    await withClient(replica.adminConfig(), async (client) => {
      await client.query(`set log_min_error_statement = 'panic'`)
      await client.query(
        `alter system set primary_conninfo = ${sqlLiteral(this.#primaryConninfo(replica))}`,
      )
      await client.query(`alter system set primary_slot_name = ${sqlLiteral(replica.name)}`)
      // Since PostgreSQL 13 a reload restarts the WAL receiver with the new settings.
      await client.query('select pg_reload_conf()')
    })
    await this.#waitStreaming(replica)
  }

  #primaryConninfo(replica: ClusterNode): string {
    const { user, password } = this.#config.replication
    return conninfo({
      host: '127.0.0.1',
      port: this.#primary().port,
      user,
      password,
      application_name: replica.name,
    })
  }

  async #ensureSlot(primary: ClusterNode, slot: string): Promise<void> {
    await queryRows(
      primary.adminConfig(),
      `select pg_create_physical_replication_slot($1, true)
       where not exists (select from pg_replication_slots where slot_name = $1)`,
      [slot],
    )
  }

  /** Until the primary lists the replica as streaming and the replica takes queries. */
  async #waitStreaming(replica: ClusterNode): Promise<void> {
    const primary = this.#primary()
    await withClient(primary.adminConfig(), (client) =>
      waitFor(
        `"${replica.name}" to stream from "${primary.name}"`,
        async () => {
          const { rows } = await client.query(
            `select from pg_stat_replication where application_name = $1 and state = 'streaming'`,
            [replica.name],
          )
          return rows.length > 0 ? true : undefined
        },
        { timeoutMs: this.#config.timeoutMs, intervalMs: 20 },
      ),
    )
    const [row] = await queryRows<{ in_recovery: boolean }>(
      replica.adminConfig(),
      'select pg_is_in_recovery() as in_recovery',
    )
    if (row?.in_recovery !== true) {
      throw new NodeStateError(replica.name, `"${replica.name}" is not in recovery.`)
    }
  }

  /**
   * Starts a node's server. When pg-cluster chose the port and something took it meanwhile, the
   * node moves to another free port.
   */
  async #startProcess(node: ClusterNode): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await node.process.start(node.port, this.#config.timeoutMs)
        return
      } catch (error) {
        if (!(error instanceof PortInUseError) || !this.#config.autoPorts || attempt >= 3) {
          throw error
        }
        node.port = (await findFreePorts(1))[0] as number
        await setAutoConf(node.dataDir, { port: node.port })
      }
    }
  }

  async #nudgePrimary(): Promise<void> {
    const primary = this.#primary()
    if (primary.pid === undefined) return
    await queryRows(primary.adminConfig(), 'select txid_current()').catch(() => {})
  }

  async #stopAll(): Promise<void> {
    const results = await Promise.allSettled(
      this.#nodes.map((node) => node.process.stop(this.#config.timeoutMs)),
    )
    const failures = results.flatMap((result, index) =>
      result.status === 'rejected' ? [{ node: this.#nodes[index], error: result.reason }] : [],
    )
    // A server that would not stop must not outlive the cluster either.
    await Promise.allSettled(failures.map(({ node }) => node?.process.kill(10_000)))
    if (this.#config.removeDirOnStop) {
      await rm(this.#config.dir, { recursive: true, force: true, maxRetries: 3 })
    } else {
      await this.#writeState().catch(() => {})
    }
    unregisterFromCleanup(this.#cleanup)
    if (failures.length > 0) {
      throw new AggregateError(
        failures.map(({ error }) => error),
        `Stopping the cluster failed on ${failures.map(({ node }) => node?.name).join(', ')}; ` +
          'those servers were killed instead.',
      )
    }
  }

  async #writeState(): Promise<void> {
    const { dir, removeDirOnStop, binDir, osUser, database, superuser, replication, timeoutMs } =
      this.#config
    const state: ClusterState = {
      version: 1,
      dir,
      removeDirOnStop,
      binDir,
      osUser: osUser ?? null,
      database,
      superuser,
      replication,
      timeoutMs,
      nodes: this.#nodes.map((node) => ({
        name: node.name,
        port: node.port,
        role: node.role,
        pid: node.pid ?? null,
      })),
    }
    await writeStateFile(state)
  }

  #node(ref: NodeRef): ClusterNode {
    const name = typeof ref === 'string' ? ref : ref.name
    const node = this.#nodes.find((candidate) => candidate.name === name)
    if (node === undefined) {
      throw new NodeNotFoundError(
        name,
        this.#nodes.map((candidate) => candidate.name),
      )
    }
    return node
  }

  #primary(): ClusterNode {
    const primary = this.#nodes.find((node) => node.role === 'primary')
    if (primary === undefined) throw new PgClusterError('The cluster has no primary.')
    return primary
  }

  #runningReplicas(): ClusterNode[] {
    return this.#nodes.filter((node) => node.role === 'replica' && node.pid !== undefined)
  }

  #runningReplica(ref: NodeRef, action: string): ClusterNode {
    const node = this.#node(ref)
    if (node.role !== 'replica') {
      throw new NodeStateError(
        node.name,
        `Cannot ${action} on "${node.name}": it is ${node.role === 'primary' ? 'the primary' : 'a retired former primary'}, not a replica.`,
      )
    }
    this.#assertRunning(node, action)
    return node
  }

  #assertRunning(node: ClusterNode, action: string): void {
    if (node.pid === undefined) {
      throw new NodeStateError(
        node.name,
        `"${node.name}" is down and cannot ${action}; start it first.`,
      )
    }
  }

  #assertOpen(): void {
    if (this.#stopped !== undefined) {
      throw new PgClusterError('This cluster was stopped; start a new one.')
    }
  }
}

function createNode(config: ClusterConfig, name: string, port: number, role: NodeRole) {
  const dataDir = join(config.dir, name)
  const logFile = join(config.dir, `${name}.log`)
  const process = new NodeProcess({
    name,
    dataDir,
    logFile,
    binDir: config.binDir,
    user: config.osUser,
  })
  return new ClusterNode({ name, port, role, dataDir, logFile }, process, config)
}

function portRange(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => first + index)
}

/** A new temporary directory, or the given one, which must be empty. */
export async function prepareDir(
  dir: string | undefined,
  user: OsUser | undefined,
): Promise<string> {
  let path: string
  if (dir === undefined) {
    path = await mkdtemp(join(tmpdir(), 'pg-cluster-'))
  } else {
    path = resolve(dir)
    let entries: string[] | undefined
    try {
      entries = await readdir(path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOTDIR') throw new DirectoryNotEmptyError(path)
      if (code !== 'ENOENT') throw error
    }
    if (entries !== undefined && entries.length > 0) throw new DirectoryNotEmptyError(path)
    await mkdir(path, { recursive: true, mode: 0o700 })
    await chmod(path, 0o700)
  }
  if (user !== undefined) {
    await lchown(path, user.uid, user.gid)
    const probe = await runCommand('/bin/sh', ['-c', 'test -w "$1" && test -x "$1"', 'sh', path], {
      user,
    })
    if (probe.code !== 0) {
      await rm(path, { recursive: true, force: true })
      throw new UnprivilegedUserError(
        `The OS user "${user.name}" that runs PostgreSQL cannot reach ${path}: a directory ` +
          'above it is not searchable by other users (like /root, mode 700). Use a directory ' +
          'under /tmp, or leave dir out.',
      )
    }
  }
  return path
}

async function serverVersionNumber(client: SqlSession): Promise<number> {
  const { rows } = await client.query<{ server_version_num: string }>('show server_version_num')
  return Number(rows[0]?.server_version_num)
}

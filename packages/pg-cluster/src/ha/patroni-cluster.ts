import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import {
  type CleanupTarget,
  registerForCleanup,
  unregisterFromCleanup,
} from '../cleanup-on-exit.js'
import { NodeNotFoundError, PgClusterError, StateFileError } from '../errors.js'
import { NodeProcess } from '../node-process.js'
import { chownTree, type OsUser, resolveOsUser } from '../os-user.js'
import { prepareDir } from '../pg-cluster.js'
import { findFreePorts } from '../ports.js'
import { type SettingValue, sqlIdentifier } from '../postgres-conf.js'
import { generatePassword } from '../secrets.js'
import { queryRows, type Row } from '../sql-client.js'
import type { Credentials } from '../state-file.js'
import { waitFor } from '../wait-for.js'
import { DaemonProcess } from './daemon-process.js'
import { findHaTools, type HaTools } from './ha-tools.js'
import { type PatroniMember, readPatroniMembers } from './patroni-api.js'
import type { PatroniClusterOptions } from './patroni-cluster-options.js'
import { etcdArgs, renderPatroniConfig } from './patroni-config.js'
import { type PatroniClusterNode, PatroniNode } from './patroni-node.js'
import { findSystemBinaries } from './system-binaries.js'

/**
 * One node as `status()` reports it: Patroni's view (`GET /cluster` on any node that answers)
 * and whether the node's own Patroni answers.
 *
 * ```ts
 * console.table(await cluster.status())
 * ```
 */
export interface PatroniNodeStatus {
  readonly name: string
  readonly port: number
  readonly patroniUrl: string
  /** Whether the node's Patroni answers its REST API. */
  readonly up: boolean
  /** Patroni's role: `leader`, `replica`, `sync_standby`; `undefined` when not a member now. */
  readonly patroniRole: string | undefined
  /** Patroni's state: `running`, `streaming`, `starting`, … */
  readonly state: string | undefined
  readonly timeline: number | undefined
  /** Replicas: WAL bytes behind the leader. */
  readonly lagBytes: number | undefined
}

/** Options of the waits on a Patroni cluster. */
export interface PatroniWaitOptions {
  /** Default: the cluster's `timeoutMs`. */
  readonly timeoutMs?: number
}

interface HaConfig {
  readonly dir: string
  readonly removeDirOnStop: boolean
  readonly binDir: string
  readonly tools: HaTools
  readonly osUser: OsUser | undefined
  readonly database: string
  readonly superuser: Credentials
  readonly replication: Credentials
  readonly timeoutMs: number
  readonly scope: string
  readonly etcdPort: number
  readonly etcdPeerPort: number
  readonly synchronousMode: boolean
  readonly ttl: number
  readonly loopWait: number
  readonly retryTimeout: number
  /** More `postgresql.conf` settings, for the members added later too. */
  readonly settings?: Readonly<Record<string, SettingValue>>
}

interface HaState {
  readonly version: 1
  readonly config: HaConfig
  readonly nodes: ReadonlyArray<{ name: string; port: number; apiPort: number }>
}

const STATE_FILE = 'ha-cluster.json'
const DEFAULT_TIMEOUT_MS = 90_000
const STOP_TIMEOUT_MS = 30_000

/**
 * A PostgreSQL cluster whose failovers Patroni decides, on 127.0.0.1: one etcd and one Patroni
 * per node, each Patroni running its PostgreSQL from the system's binaries. Nobody calls
 * `promote`: kill the leader's host (`kill(node)`) and Patroni elects another after `ttl`, or ask
 * Patroni for a planned `switchover()`; hosts join and leave with `addMember()` and
 * `removeMember()`. Started by `PgCluster.start({ ha: 'patroni' })`; stopped, with its files
 * removed, when the process ends, unless `detach()`ed. It is not a `ReplicatedCluster`: Patroni
 * owns the roles that contract lets a test script (`promote`, `rejoinAsReplica`, stopping one
 * server); the package README says why.
 *
 * ```ts
 * const cluster = await PgCluster.start({ ha: 'patroni', replicas: 2, synchronousMode: true })
 * try {
 *   const old = cluster.primary
 *   await cluster.kill(old)
 *   const leader = await cluster.waitForLeader({ not: old })
 *   await cluster.start(old) // back as a replica of the new leader
 * } finally {
 *   await cluster.stop()
 * }
 * ```
 */
export class PatroniCluster {
  readonly #config: HaConfig
  readonly #etcd: DaemonProcess
  #nodes: readonly PatroniNode[]
  readonly #cleanup: CleanupTarget
  #stopped: Promise<void> | undefined

  private constructor(config: HaConfig, nodes: HaState['nodes']) {
    this.#config = Object.freeze({ ...config })
    const etcdDir = join(config.dir, 'etcd')
    this.#etcd = new DaemonProcess({
      what: 'etcd',
      command: config.tools.etcd,
      args: etcdArgs(join(etcdDir, 'data'), config.etcdPort, config.etcdPeerPort),
      dir: etcdDir,
      logFile: join(config.dir, 'etcd.log'),
      user: config.osUser,
    })
    this.#nodes = Object.freeze(
      nodes.map((node, index) =>
        createNode(this.#config, node, index === 0 ? 'primary' : 'replica'),
      ),
    )
    // Patroni, etcd and PostgreSQL all run inside the cluster's directory, where the exit
    // handlers look for them.
    this.#cleanup = Object.freeze({
      dataDirs: [config.dir],
      removeDir: config.removeDirOnStop ? config.dir : undefined,
      stop: () => this.stop(),
    })
  }

  /**
   * Starts etcd, then the first node's Patroni (which initializes the cluster and becomes its
   * leader), then the others (which copy it with `pg_basebackup`). Resolves once every replica
   * streams from the leader.
   *
   * ```ts
   * const cluster = await PatroniCluster.start({ ha: 'patroni', replicas: 2 })
   * ```
   */
  static async start(options: PatroniClusterOptions): Promise<PatroniCluster> {
    const replicas = options.replicas ?? 2
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 8) {
      throw new PgClusterError(`replicas must be an integer from 0 to 8, not ${replicas}.`)
    }
    const ttl = options.timings?.ttl ?? 10
    const loopWait = options.timings?.loopWait ?? 1
    const retryTimeout = options.timings?.retryTimeout ?? 4
    if (loopWait + 2 * retryTimeout > ttl) {
      throw new PgClusterError(
        `Patroni needs loopWait + 2 * retryTimeout <= ttl; got ${loopWait} + 2 * ${retryTimeout} > ${ttl}.`,
      )
    }
    const [tools, binDir, osUser] = await Promise.all([
      findHaTools(),
      findSystemBinaries(options.binDir),
      resolveOsUser(options.osUser),
    ])
    const count = replicas + 1
    const ports = await findFreePorts(2 * count + 2)
    const dir = await prepareDir(options.dir, osUser)
    const config: HaConfig = {
      dir,
      removeDirOnStop: options.keep !== true,
      binDir,
      tools,
      osUser,
      database: options.database ?? 'postgres',
      superuser: Object.freeze({ user: 'postgres', password: generatePassword() }),
      replication: Object.freeze({ user: 'replicator', password: generatePassword() }),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      scope: `pg-cluster-${randomBytes(4).toString('hex')}`,
      etcdPort: ports[0] as number,
      etcdPeerPort: ports[1] as number,
      synchronousMode: options.synchronousMode ?? false,
      ttl,
      loopWait,
      retryTimeout,
      settings: options.settings ?? {},
    }
    const nodes = Array.from({ length: count }, (_, index) => ({
      name: `node${index + 1}`,
      port: ports[2 + 2 * index] as number,
      apiPort: ports[3 + 2 * index] as number,
    }))
    const cluster = new PatroniCluster(config, nodes)
    registerForCleanup(cluster.#cleanup)
    try {
      await cluster.#bootstrap()
    } catch (error) {
      await cluster.stop().catch(() => {})
      throw error
    }
    return cluster
  }

  /**
   * The HA cluster whose files are in `dir`, started by another process (`pg-cluster up --ha
   * --detach`). It is not stopped when this process exits.
   *
   * ```ts
   * const cluster = await PatroniCluster.attach('.pg-cluster')
   * await cluster.refresh()
   * ```
   */
  static async attach(dir: string): Promise<PatroniCluster> {
    const state = await readHaState(resolve(dir))
    if (state === undefined) {
      throw new StateFileError(`No HA cluster state in ${dir} (${STATE_FILE} cannot be read).`)
    }
    const cluster = new PatroniCluster(state.config, state.nodes)
    unregisterFromCleanup(cluster.#cleanup)
    await cluster.refresh().catch(() => {})
    return cluster
  }

  /** Whether `dir` holds an HA cluster (for the CLI, which serves both kinds). */
  static async isHaDir(dir: string): Promise<boolean> {
    return (await readHaState(resolve(dir))) !== undefined
  }

  /** The directory with etcd's and each node's files and logs. */
  get dir(): string {
    return this.#config.dir
  }

  /** Every node, `node1` first. */
  get nodes(): readonly PatroniClusterNode[] {
    return this.#nodes
  }

  /** The leader as last seen (`refresh()`, `waitForLeader()`, `status()` update it). */
  get primary(): PatroniClusterNode {
    const leader = this.#nodes.find((node) => node.role === 'primary')
    if (leader === undefined) throw new PgClusterError('The cluster has no known leader.')
    return leader
  }

  /** The nodes that are not the leader, as last seen. */
  get replicas(): readonly PatroniClusterNode[] {
    return this.#nodes.filter((node) => node.role !== 'primary')
  }

  /** The superuser login of every node. */
  get superuser(): Credentials {
    return this.#config.superuser
  }

  /** The database that connection settings point at. */
  get database(): string {
    return this.#config.database
  }

  /** Whether Patroni's `synchronous_mode` is on. */
  get synchronousMode(): boolean {
    return this.#config.synchronousMode
  }

  /** The node with that name; `NodeNotFoundError` for an unknown one. */
  node(name: string): PatroniClusterNode {
    return this.#node(name)
  }

  /**
   * Kills a whole "host": SIGKILL to the node's Patroni, then to its PostgreSQL. Its leader key
   * (if it led) lives on until `ttl` expires; then Patroni promotes a replica.
   *
   * ```ts
   * await cluster.kill(cluster.primary)
   * ```
   */
  async kill(ref: PatroniClusterNode | string): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    // Patroni first: alive, it would restart the server it lost.
    await node.patroni.kill(this.#config.timeoutMs)
    await node.postgres.kill(this.#config.timeoutMs)
  }

  /**
   * Starts a node's Patroni again and resolves once it serves: as a replica streaming from the
   * leader (a former leader is rewound, or rebuilt, first), or as the leader.
   *
   * ```ts
   * await cluster.start('node1')
   * ```
   */
  async start(ref: PatroniClusterNode | string): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    await node.patroni.start()
    await this.waitForMembers([node])
  }

  /**
   * A planned change of leader through Patroni's REST API (`POST /switchover` on the leader):
   * Patroni demotes the leader, promotes `candidate` (default: the replica it prefers; in
   * synchronous mode only the synchronous standby can be chosen) and the old leader follows it
   * as a replica. Resolves with the new leader once it takes writes and every member serves.
   * Patroni's refusal (a candidate it cannot promote) is a `PgClusterError` with its reason.
   *
   * ```ts
   * const old = cluster.primary
   * const leader = await cluster.switchover()
   * console.log(`${old.name} -> ${leader.name}`)
   * ```
   */
  async switchover(
    candidate?: PatroniClusterNode | string,
    options: PatroniWaitOptions = {},
  ): Promise<PatroniClusterNode> {
    this.#assertOpen()
    const leader = await this.waitForLeader(options)
    const target = candidate === undefined ? undefined : this.#node(candidate)
    if (target === leader) {
      throw new PgClusterError(`"${leader.name}" is already the leader.`)
    }
    const response = await fetch(new URL('/switchover', leader.patroniUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: leader.name, candidate: target?.name }),
      signal: AbortSignal.timeout(options.timeoutMs ?? this.#config.timeoutMs),
    })
    if (!response.ok) {
      throw new PgClusterError(
        `Patroni refused the switchover from "${leader.name}": ${(await response.text()).trim()}`,
      )
    }
    const next = await this.waitForLeader({ ...options, not: leader })
    await this.waitForMembers(this.#nodes, options)
    return next
  }

  /**
   * Adds a member to the running cluster, as a new host would join it: a Patroni of its own
   * (`node4`, `node5`, … on free ports), whose PostgreSQL is copied from the leader with
   * `pg_basebackup`. Resolves with the node once the leader lists it as streaming.
   *
   * ```ts
   * const node = await cluster.addMember()
   * console.log(node.name, node.port) // node4 …
   * ```
   */
  async addMember(options: PatroniWaitOptions = {}): Promise<PatroniClusterNode> {
    this.#assertOpen()
    const [port, apiPort] = (await findFreePorts(2)) as [number, number]
    const taken = new Set(this.#nodes.map((node) => node.name))
    let number = this.#nodes.length + 1
    while (taken.has(`node${number}`)) number++
    const node = createNode(this.#config, { name: `node${number}`, port, apiPort }, 'replica')
    await this.#writeNodeConfig(node)
    await chownTree(node.dir, this.#config.osUser)
    this.#nodes = Object.freeze([...this.#nodes, node])
    await this.#writeState()
    await node.patroni.start()
    await this.waitForMembers([node], options)
    return node
  }

  /**
   * Takes a member out of the cluster for good, in the order that lets clients drain it: its
   * Patroni is killed (so that it neither stops nor restarts its server), Patroni drops it from
   * `/cluster` once its member key expires (up to `ttl`), then after `drainMs` its PostgreSQL
   * is stopped and its files are removed. Removing the leader is a failover.
   *
   * ```ts
   * await cluster.removeMember('node4', { drainMs: 2000 })
   * ```
   */
  async removeMember(
    ref: PatroniClusterNode | string,
    options: PatroniWaitOptions & { drainMs?: number } = {},
  ): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    if (this.#nodes.length === 1) {
      throw new PgClusterError(`"${node.name}" is the only member; stop() the cluster instead.`)
    }
    const { timeoutMs } = this.#config
    await node.patroni.kill(timeoutMs)
    await waitFor(
      `Patroni to drop "${node.name}" from its members`,
      async () => {
        const members = await this.#members()
        return members.some((member) => member.name === node.name) ? undefined : true
      },
      { timeoutMs: options.timeoutMs ?? timeoutMs, intervalMs: 100 },
    )
    await new Promise((resolve) => setTimeout(resolve, options.drainMs ?? 0))
    await node.postgres.stop(timeoutMs)
    this.#nodes = Object.freeze(this.#nodes.filter((each) => each !== node))
    await this.#writeState()
    await rm(node.dir, { recursive: true, force: true, maxRetries: 3 })
  }

  /**
   * Reads Patroni's view and updates the nodes' roles; resolves with the members listed.
   *
   * ```ts
   * await cluster.refresh()
   * console.log(cluster.primary.name)
   * ```
   */
  async refresh(): Promise<readonly PatroniMember[]> {
    const members = await this.#members()
    const leader = members.find((member) => isLeader(member))
    if (leader !== undefined) {
      for (const node of this.#nodes) node.role = node.name === leader.name ? 'primary' : 'replica'
    }
    return members
  }

  /**
   * Until Patroni lists a running leader (other than `not`, after a kill), whose server takes
   * writes; resolves with it.
   *
   * ```ts
   * await cluster.kill('node1')
   * const leader = await cluster.waitForLeader({ not: 'node1' })
   * ```
   */
  async waitForLeader(
    options: PatroniWaitOptions & { not?: PatroniClusterNode | string } = {},
  ): Promise<PatroniClusterNode> {
    this.#assertOpen()
    const not = typeof options.not === 'string' ? options.not : options.not?.name
    return waitFor(
      not === undefined ? 'a Patroni leader' : `a Patroni leader other than "${not}"`,
      async () => {
        const members = await this.refresh()
        const leader = members.find((member) => isLeader(member) && member.state === 'running')
        if (leader === undefined || leader.name === not) return undefined
        const node = this.#node(leader.name)
        const [row] = await queryRows<{ writable: boolean }>(
          node.adminConfig(),
          'select not pg_is_in_recovery() as writable',
        )
        return row?.writable === true ? node : undefined
      },
      { timeoutMs: options.timeoutMs ?? this.#config.timeoutMs, intervalMs: 100 },
    )
  }

  /**
   * Until each of `nodes` (default: all) is a member in service: the running leader, or a
   * replica on the leader's timeline that the leader lists as streaming.
   *
   * ```ts
   * await cluster.waitForMembers()
   * ```
   */
  async waitForMembers(
    nodes: ReadonlyArray<PatroniClusterNode | string> = this.#nodes,
    options: PatroniWaitOptions = {},
  ): Promise<void> {
    this.#assertOpen()
    const names = nodes.map((ref) => this.#node(ref).name)
    await waitFor(
      `${names.join(', ')} to serve in the Patroni cluster`,
      async () => {
        const members = await this.refresh()
        const leader = members.find((member) => isLeader(member) && member.state === 'running')
        if (leader === undefined) return undefined
        // Patroni 3.0 says `running` of a replica that does not stream yet: the leader's
        // pg_stat_replication tells (Patroni names each walreceiver after its member).
        const rows = await queryRows<{ name: string }>(
          this.#node(leader.name).adminConfig(),
          `select application_name as name from pg_stat_replication where state = 'streaming'`,
        )
        const streaming = new Set(rows.map((row) => row.name))
        const ready = names.every((name) => {
          const member = members.find((candidate) => candidate.name === name)
          if (member === undefined) return false
          if (member === leader) return true
          return streaming.has(name) && member.timeline === leader.timeline
        })
        return ready ? true : undefined
      },
      { timeoutMs: options.timeoutMs ?? this.#config.timeoutMs, intervalMs: 100 },
    )
  }

  /**
   * Patroni's view of every node: role, state, timeline and lag, and whether its Patroni
   * answers.
   *
   * ```ts
   * console.table(await cluster.status())
   * ```
   */
  async status(): Promise<PatroniNodeStatus[]> {
    this.#assertOpen()
    const [members, answering] = await Promise.all([
      this.refresh().catch((): PatroniMember[] => []),
      Promise.all(this.#nodes.map((node) => apiAnswers(node.patroniUrl))),
    ])
    return this.#nodes.map((node, index) => {
      const member = members.find((candidate) => candidate.name === node.name)
      return {
        name: node.name,
        port: node.port,
        patroniUrl: node.patroniUrl,
        up: answering[index] === true,
        patroniRole: member?.role,
        state: member?.state,
        timeline: member?.timeline,
        lagBytes: typeof member?.lag === 'number' ? member.lag : undefined,
      }
    })
  }

  /**
   * One statement on a node, on a fresh connection.
   *
   * ```ts
   * const rows = await cluster.query(cluster.primary, 'select 1 as one')
   * ```
   */
  async query<R extends Row = Row>(
    ref: PatroniClusterNode | string,
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    this.#assertOpen()
    return queryRows<R>(this.#node(ref).poolConfig(), sql, params)
  }

  /**
   * Stops every Patroni (each stops its PostgreSQL), then etcd, and removes the directory
   * (unless `keep`). Whatever does not stop in time is killed. Safe to call more than once.
   *
   * ```ts
   * await cluster.stop()
   * ```
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stopAll()
    return this.#stopped
  }

  /**
   * Lets the cluster outlive this process; act on it later with `PatroniCluster.attach(dir)`.
   *
   * ```ts
   * cluster.detach()
   * ```
   */
  detach(): void {
    unregisterFromCleanup(this.#cleanup)
  }

  async #bootstrap(): Promise<void> {
    const { dir, osUser, database } = this.#config
    await mkdir(join(dir, 'etcd'), { mode: 0o700 })
    for (const node of this.#nodes) {
      await this.#writeNodeConfig(node)
    }
    await chownTree(dir, osUser)
    await this.#writeState()
    await this.#etcd.start()
    await waitFor(
      'etcd to answer',
      async () => {
        const response = await fetch(`http://127.0.0.1:${this.#config.etcdPort}/health`, {
          signal: AbortSignal.timeout(1000),
        })
        return response.ok ? true : undefined
      },
      { timeoutMs: this.#config.timeoutMs, intervalMs: 100 },
    )
    const [first, ...others] = this.#nodes as [PatroniNode, ...PatroniNode[]]
    await first.patroni.start()
    const leader = await this.waitForLeader()
    if (database !== 'postgres') {
      await queryRows(
        this.#node(leader).adminConfig(),
        `create database ${sqlIdentifier(database)}`,
      )
    }
    await Promise.all(others.map((node) => node.patroni.start()))
    await this.waitForMembers()
  }

  /** The node's directory and its Patroni configuration. */
  async #writeNodeConfig(node: PatroniNode): Promise<void> {
    await mkdir(node.dir, { mode: 0o700 })
    await writeFile(
      join(node.dir, 'patroni.yml'),
      renderPatroniConfig(
        { ...this.#config, settings: this.#config.settings ?? {} },
        {
          name: node.name,
          port: node.port,
          apiPort: node.apiPort,
          dir: node.dir,
          dataDir: node.dataDir,
        },
      ),
      { mode: 0o600 },
    )
  }

  async #members(): Promise<PatroniMember[]> {
    let lastError: unknown
    for (const node of this.#nodes) {
      try {
        return await readPatroniMembers(node.patroniUrl, 1500)
      } catch (error) {
        lastError = error
      }
    }
    throw new PgClusterError('No Patroni of the cluster answers its REST API.', {
      cause: lastError,
    })
  }

  async #stopAll(): Promise<void> {
    const { timeoutMs } = this.#config
    await Promise.allSettled(this.#nodes.map((node) => node.patroni.stop(STOP_TIMEOUT_MS)))
    // A server whose Patroni was killed (or would not stop) is still there.
    await Promise.allSettled(this.#nodes.map((node) => node.postgres.stop(timeoutMs)))
    await this.#etcd.stop(STOP_TIMEOUT_MS).catch(() => {})
    if (this.#config.removeDirOnStop) {
      await rm(this.#config.dir, { recursive: true, force: true, maxRetries: 3 })
    }
    unregisterFromCleanup(this.#cleanup)
  }

  async #writeState(): Promise<void> {
    const state: HaState = {
      version: 1,
      config: this.#config,
      nodes: this.#nodes.map(({ name, port, apiPort }) => ({ name, port, apiPort })),
    }
    const file = join(this.#config.dir, STATE_FILE)
    const staging = `${file}.${process.pid}.tmp`
    await writeFile(staging, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
    await rename(staging, file)
  }

  #node(ref: PatroniClusterNode | string): PatroniNode {
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

  #assertOpen(): void {
    if (this.#stopped !== undefined) {
      throw new PgClusterError('This cluster was stopped; start a new one.')
    }
  }
}

function createNode(
  config: HaConfig,
  init: { name: string; port: number; apiPort: number },
  role: 'primary' | 'replica',
): PatroniNode {
  const dir = join(config.dir, init.name)
  const patroni = new DaemonProcess({
    what: `Patroni of "${init.name}"`,
    command: config.tools.patroni,
    args: [join(dir, 'patroni.yml')],
    dir,
    logFile: join(dir, 'patroni.log'),
    user: config.osUser,
  })
  const postgres = new NodeProcess({
    name: init.name,
    dataDir: join(dir, 'data'),
    logFile: join(dir, 'postgresql.log'),
    binDir: config.binDir,
    user: config.osUser,
  })
  return new PatroniNode({ ...init, dir, role }, { patroni, postgres }, config)
}

function isLeader(member: PatroniMember): boolean {
  return member.role === 'leader' || member.role === 'master' || member.role === 'primary'
}

async function apiAnswers(url: string): Promise<boolean> {
  try {
    await fetch(new URL('/health', url), { signal: AbortSignal.timeout(1500) })
    return true
  } catch {
    return false
  }
}

async function readHaState(dir: string): Promise<HaState | undefined> {
  try {
    const state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as HaState
    return state.version === 1 ? state : undefined
  } catch {
    return undefined
  }
}

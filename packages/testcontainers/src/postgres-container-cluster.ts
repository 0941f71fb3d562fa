import { randomBytes } from 'node:crypto'
import {
  assertApplyDelay,
  ClusterTimeoutError,
  type Credentials,
  NodeNotFoundError,
  NodeStartError,
  NodeStateError,
  PgClusterError,
  pauseReplayOn,
  type ReplicatedCluster,
  type ReplicatedNodeRef,
  type ReplicatedNodeStatus,
  type Row,
  resumeReplayOn,
  setApplyDelayOn,
  type WaitForReplayOptions,
  waitFor,
  waitForReplayOn,
} from '@kysely-replicas/pg-cluster'
import {
  type ContainerRuntimeClient,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  Wait,
} from 'testcontainers'
import { type ContainerClusterNode, ContainerNode } from './container-node.js'
import { DockerUnavailableError } from './errors.js'
import { findFreePorts } from './free-ports.js'
import { LoopbackPostgresContainer } from './loopback-container.js'
import {
  conninfo,
  NODE_SCRIPT,
  READY_LOG_LINE,
  renderSettings,
  sqlIdentifier,
  sqlLiteral,
} from './node-command.js'
import { readStatus } from './node-status.js'
import type { PostgresContainerClusterOptions } from './postgres-container-cluster-options.js'
import { APPLICATION_NAME, queryRows, withClient } from './sql-client.js'

/**
 * A node, or its name: every method that acts on a node takes either.
 *
 * ```ts
 * await cluster.kill('replica1')
 * await cluster.start(cluster.node('replica1'))
 * ```
 */
export type ContainerNodeRef = ReplicatedNodeRef<ContainerClusterNode>

interface ClusterConfig {
  readonly image: string
  readonly clusterId: string
  readonly database: string
  readonly superuser: Credentials
  readonly replication: Credentials
  readonly conf: string
  readonly timeoutMs: number
}

/** Every container of a cluster carries it, so that `stop()` finds them all. */
const CLUSTER_LABEL = 'org.kysely-replicas.cluster'
const DEFAULT_IMAGE = 'postgres:17'
const DEFAULT_REPLICAS = 2
const DEFAULT_TIMEOUT_MS = 60_000
const REPLICATION_USER = 'replicator'
const LOG_TAIL_LINES = 30

/**
 * A PostgreSQL primary with hot-standby replicas fed by physical streaming replication, each in
 * its own Docker container on a user-defined network, started with Testcontainers. Replicas are
 * made with `pg_basebackup` from the primary and stream through their own slot. Every server is
 * published on 127.0.0.1 only.
 *
 * It offers the same API as `PgCluster` from `@kysely-replicas/pg-cluster` (both implement
 * `ReplicatedCluster`): tests written for one run on the other.
 *
 * ```ts
 * import { PostgresContainerCluster } from '@kysely-replicas/testcontainers'
 * import pg from 'pg'
 *
 * const cluster = await PostgresContainerCluster.start({ image: 'postgres:17', replicas: 2 })
 * try {
 *   const primary = new pg.Pool(cluster.primary.poolConfig())
 *   await primary.query('create table t (id int)')
 *   await cluster.waitForReplay()
 *   console.log(await cluster.query('replica1', 'select * from t'))
 *   await primary.end()
 * } finally {
 *   await cluster.stop() // removes every container and the network
 * }
 * ```
 */
export class PostgresContainerCluster implements ReplicatedCluster<ContainerClusterNode> {
  readonly #config: ClusterConfig
  readonly #client: ContainerRuntimeClient
  readonly #network: StartedNetwork
  readonly #nodes: readonly ContainerNode[]
  #stopped: Promise<void> | undefined

  private constructor(
    config: ClusterConfig,
    client: ContainerRuntimeClient,
    network: StartedNetwork,
    nodes: readonly ContainerNode[],
  ) {
    this.#config = Object.freeze({ ...config })
    this.#client = client
    this.#network = network
    this.#nodes = Object.freeze([...nodes])
  }

  /**
   * Starts the primary's container (`initdb`), then one container per replica
   * (`pg_basebackup` from the primary), and resolves once every replica streams and accepts
   * read-only connections. A failure halfway removes what was started.
   *
   * ```ts
   * const cluster = await PostgresContainerCluster.start() // postgres:17, 2 replicas
   * const small = await PostgresContainerCluster.start({ image: 'postgres:16', replicas: 1 })
   * ```
   */
  static async start(
    options: PostgresContainerClusterOptions = {},
  ): Promise<PostgresContainerCluster> {
    const replicas = options.replicas ?? DEFAULT_REPLICAS
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 16) {
      throw new PgClusterError(`replicas must be an integer from 0 to 16, not ${replicas}.`)
    }
    const client = await connectToDocker()
    const config: ClusterConfig = {
      image: options.image ?? DEFAULT_IMAGE,
      clusterId: randomBytes(8).toString('hex'),
      database: options.database ?? 'postgres',
      superuser: Object.freeze({ user: 'postgres', password: generatePassword() }),
      replication: Object.freeze({ user: REPLICATION_USER, password: generatePassword() }),
      conf: renderSettings({
        // Inside the container's own network namespace; the host reaches it through
        // 127.0.0.1 only (LoopbackPostgresContainer).
        listen_addresses: '*',
        unix_socket_directories: '',
        wal_level: 'replica',
        max_wal_senders: 20,
        max_replication_slots: 20,
        hot_standby: true,
        hot_standby_feedback: options.hotStandbyFeedback ?? false,
        wal_receiver_status_interval: '1s',
        wal_retrieve_retry_interval: '500ms',
        fsync: false,
        ...options.settings,
      }),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    }
    const ports = await findFreePorts(replicas + 1)
    const nodes = ports.map(
      (port, index) =>
        new ContainerNode(
          index === 0 ? 'primary' : `replica${index}`,
          port,
          index === 0 ? 'primary' : 'replica',
          config,
        ),
    )
    const network = await new Network().start()
    const cluster = new PostgresContainerCluster(config, client, network, nodes)
    try {
      await cluster.#bootstrap()
    } catch (error) {
      await cluster.stop().catch(() => {})
      throw error
    }
    return cluster
  }

  /**
   * Every node: the first primary, then `replica1`, `replica2`, … in creation order.
   *
   * ```ts
   * for (const node of cluster.nodes) console.log(node.name, node.role, node.port)
   * ```
   */
  get nodes(): readonly ContainerClusterNode[] {
    return this.#nodes
  }

  /**
   * The node that is the primary now (after `promote()`, the promoted one).
   *
   * ```ts
   * const pool = new pg.Pool(cluster.primary.poolConfig())
   * ```
   */
  get primary(): ContainerClusterNode {
    return this.#primary()
  }

  /**
   * The nodes that are replicas now.
   *
   * ```ts
   * const readers = cluster.replicas.map((node) => new pg.Pool(node.poolConfig()))
   * ```
   */
  get replicas(): readonly ContainerClusterNode[] {
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
   * const cluster = await PostgresContainerCluster.start({ database: 'app' })
   * cluster.database // 'app'
   * ```
   */
  get database(): string {
    return this.#config.database
  }

  /**
   * The Docker network the containers share; each node is reachable on it by its name.
   *
   * ```ts
   * const app = await new GenericContainer('my-app').withNetwork(cluster.network).start()
   * // the app connects to postgres://…@primary:5432/…
   * ```
   */
  get network(): StartedNetwork {
    return this.#network
  }

  /**
   * The node with that name; throws `NodeNotFoundError` for an unknown one.
   *
   * ```ts
   * const replica = cluster.node('replica1')
   * ```
   */
  node(name: string): ContainerClusterNode {
    return this.#node(name)
  }

  /**
   * Starts a stopped or killed node's container again, and resolves when it accepts
   * connections; for a replica, once it streams from the current primary, for a primary, once
   * the running replicas stream from it again. A retired former primary cannot be started: use
   * `rejoinAsReplica()`.
   *
   * ```ts
   * await cluster.kill('replica1')
   * await cluster.start('replica1')
   * ```
   */
  async start(ref: ContainerNodeRef): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    if (node.role === 'retired') {
      throw new NodeStateError(
        node.name,
        `"${node.name}" is a former primary; starting it would make a second primary. Use ` +
          'rejoinAsReplica() to bring it back as a replica.',
      )
    }
    if (node.running) return
    const container = this.#container(node)
    await this.#client.container.start(container)
    node.running = true
    await this.#waitAcceptingConnections(node)
    if (node.role === 'replica') {
      // It may have been down through a promotion: point it at the primary of now.
      if (this.#primary().running) await this.#follow(node)
    } else {
      await Promise.all(this.#runningReplicas().map((replica) => this.#waitStreaming(replica)))
    }
  }

  /**
   * Without a node: removes every container of the cluster (with their volumes) and its
   * network. Safe to call more than once. With a node: a fast shutdown of that server (SIGINT
   * to the postmaster); its container stays, and `start(node)` brings it back.
   *
   * ```ts
   * await cluster.stop('replica2') // one server
   * await cluster.stop() // everything
   * ```
   */
  async stop(ref?: ContainerNodeRef): Promise<void> {
    if (ref === undefined) {
      this.#stopped ??= this.#removeAll()
      return this.#stopped
    }
    this.#assertOpen()
    await this.#signal(this.#node(ref), 'SIGINT')
  }

  /**
   * Crashes a node: SIGKILL to its postmaster (the container's main process), then waits until
   * the container has exited. `start(node)` brings it back through crash recovery.
   *
   * ```ts
   * await cluster.kill('primary')
   * console.log((await cluster.status())[0].up) // false
   * ```
   */
  async kill(ref: ContainerNodeRef): Promise<void> {
    this.#assertOpen()
    await this.#signal(this.#node(ref), 'SIGKILL')
  }

  /**
   * Makes a replica the primary (`pg_promote()`), then has the other running replicas follow it
   * on its new timeline. The old primary is stopped first (fenced) and becomes `retired`.
   *
   * ```ts
   * await cluster.promote('replica1')
   * cluster.primary.name // 'replica1'
   * cluster.node('primary').role // 'retired'
   * ```
   */
  async promote(ref: ContainerNodeRef): Promise<void> {
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
    if (old.running) await this.#signal(old, 'SIGINT')

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
        await client.query('alter system reset primary_conninfo')
        await client.query('alter system reset primary_slot_name')
        await client.query('select pg_reload_conf()')
      },
      { queryMs: this.#config.timeoutMs + 5000 },
    )
    old.role = 'retired'
    target.role = 'primary'
    await Promise.all(this.#runningReplicas().map((replica) => this.#follow(replica)))
  }

  /**
   * Turns a retired former primary (or a replica that cannot follow any more) into a fresh
   * replica of the current primary: its container is replaced by a new one, on the same port,
   * made with `pg_basebackup` from the primary. Resolves once it streams.
   *
   * ```ts
   * await cluster.promote('replica1')
   * await cluster.rejoinAsReplica('primary')
   * cluster.node('primary').role // 'replica'
   * ```
   */
  async rejoinAsReplica(ref: ContainerNodeRef): Promise<void> {
    this.#assertOpen()
    const node = this.#node(ref)
    if (node.role === 'primary') {
      throw new NodeStateError(node.name, `"${node.name}" is the primary; it cannot rejoin.`)
    }
    const primary = this.#primary()
    this.#assertRunning(primary, 'serve as the source of a new replica')
    if (node.containerId !== undefined) {
      await this.#container(node).remove({ force: true, v: true })
      node.containerId = undefined
      node.running = false
    }
    node.role = 'replica'
    await this.#ensureSlot(primary, node.name)
    await this.#startContainer(node)
    await this.#waitStreaming(node)
  }

  /**
   * Pauses WAL replay on a replica (`pg_wal_replay_pause()`) and resolves once it is paused.
   *
   * ```ts
   * await cluster.pauseReplay('replica1')
   * // writes on the primary are not visible on replica1 now
   * await cluster.resumeReplay('replica1')
   * ```
   */
  async pauseReplay(ref: ContainerNodeRef): Promise<void> {
    this.#assertOpen()
    const replica = this.#runningReplica(ref, 'pause replay')
    await pauseReplayOn(replica, {
      timeoutMs: this.#config.timeoutMs,
      nudgePrimary: () => this.#nudgePrimary(),
      applicationName: APPLICATION_NAME,
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
  async resumeReplay(ref: ContainerNodeRef): Promise<void> {
    this.#assertOpen()
    const replica = this.#runningReplica(ref, 'resume replay')
    await resumeReplayOn(replica, {
      timeoutMs: this.#config.timeoutMs,
      applicationName: APPLICATION_NAME,
    })
  }

  /**
   * Makes a replica apply each transaction `ms` milliseconds after it committed on the primary
   * (`recovery_min_apply_delay`); 0 removes the delay. Resolves once the server uses the value.
   *
   * ```ts
   * await cluster.setApplyDelay('replica2', 1500)
   * await cluster.setApplyDelay('replica2', 0)
   * ```
   */
  async setApplyDelay(ref: ContainerNodeRef, ms: number): Promise<void> {
    this.#assertOpen()
    assertApplyDelay(ms)
    const replica = this.#runningReplica(ref, 'delay replay')
    await setApplyDelayOn(replica, ms, {
      timeoutMs: this.#config.timeoutMs,
      applicationName: APPLICATION_NAME,
    })
  }

  /**
   * Resolves once a replica (or every running replica) has replayed everything the primary had
   * written when this was called.
   *
   * ```ts
   * await primaryPool.query('insert into t values (2)')
   * await cluster.waitForReplay()
   * await cluster.waitForReplay('replica1', { timeoutMs: 5000 })
   * ```
   */
  async waitForReplay(ref?: ContainerNodeRef, options: WaitForReplayOptions = {}): Promise<void> {
    this.#assertOpen()
    const primary = this.#primary()
    this.#assertRunning(primary, 'be waited for')
    const replicas =
      ref === undefined ? this.#runningReplicas() : [this.#runningReplica(ref, 'replay')]
    await waitForReplayOn(primary, replicas, {
      timeoutMs: options.timeoutMs ?? this.#config.timeoutMs,
      applicationName: APPLICATION_NAME,
    })
  }

  /**
   * The state of every node, read from the servers; a node that is down shows `up: false`.
   *
   * ```ts
   * console.table(await cluster.status())
   * ```
   */
  async status(): Promise<ReplicatedNodeStatus[]> {
    this.#assertOpen()
    return readStatus(this.#nodes)
  }

  /**
   * Runs one statement on a node, on a fresh connection, and returns the rows.
   *
   * ```ts
   * const rows = await cluster.query('replica1', 'select count(*)::int as n from t')
   * ```
   */
  async query<R extends Row = Row>(
    ref: ContainerNodeRef,
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    this.#assertOpen()
    return queryRows<R>(this.#node(ref).poolConfig(), sql, params)
  }

  async #bootstrap(): Promise<void> {
    const [primary, ...replicas] = this.#nodes as [ContainerNode, ...ContainerNode[]]
    await this.#startContainer(primary)
    const { replication, database } = this.#config
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
    await Promise.all(
      replicas.map(async (replica) => {
        await this.#startContainer(replica)
        await this.#waitStreaming(replica)
      }),
    )
  }

  /** Creates and starts the node's container, as the primary or as a copy of the primary. */
  async #startContainer(node: ContainerNode): Promise<void> {
    const { image, clusterId, superuser, replication, conf, timeoutMs } = this.#config
    const environment: Record<string, string> =
      node.role === 'primary'
        ? { NODE_MODE: 'primary', PGPASSWORD: superuser.password, NODE_CONF: conf }
        : {
            NODE_MODE: 'replica',
            PRIMARY_HOST: this.#primary().networkAlias,
            PGUSER: replication.user,
            PGPASSWORD: replication.password,
            NODE_SLOT: node.name,
            NODE_CONF: renderUpstream(this.#primaryConninfo(node), node.name),
          }
    const container = new LoopbackPostgresContainer(image)
      .withLoopbackPort(node.port)
      .withNetwork(this.#network)
      .withNetworkAliases(node.networkAlias)
      .withLabels({ [CLUSTER_LABEL]: clusterId, [`${CLUSTER_LABEL}.node`]: node.name })
      .withUser('postgres')
      .withEntrypoint(['sh', '-c', NODE_SCRIPT])
      .withCommand([`kysely-replicas-${node.name}`])
      .withEnvironment(environment)
      .withWaitStrategy(Wait.forLogMessage(READY_LOG_LINE))
      .withStartupTimeout(timeoutMs)
    try {
      const started = await container.start()
      node.containerId = started.getId()
    } catch (error) {
      throw await this.#startError(node, error)
    }
    node.running = true
    await this.#waitAcceptingConnections(node)
  }

  /** Until the server takes connections; an exited container fails at once, with its log. */
  async #waitAcceptingConnections(node: ContainerNode): Promise<void> {
    const container = this.#container(node)
    await waitFor(
      `"${node.name}" to accept connections`,
      async () => {
        const { State } = await this.#client.container.inspect(container)
        if (!State.Running) {
          node.running = false
          throw await this.#startError(node, new Error(`its container exited (${State.ExitCode})`))
        }
        await queryRows(node.adminConfig(), 'select 1', [], { connectMs: 1000 })
        return true
      },
      { timeoutMs: this.#config.timeoutMs, intervalMs: 50 },
    ).catch((error: unknown) => {
      throw error instanceof ClusterTimeoutError && error.cause instanceof NodeStartError
        ? error.cause
        : error
    })
  }

  async #startError(node: ContainerNode, error: unknown): Promise<PgClusterError> {
    if (error instanceof NodeStartError) return error
    const containers = await this.#clusterContainers(node.name).catch(() => [])
    const id = containers[0]?.Id
    const log = id === undefined ? '' : await this.#logTail(id)
    const reason = error instanceof Error ? error.message : String(error)
    return new NodeStartError(node.name, reason, log, `the log of container ${id?.slice(0, 12)}`)
  }

  async #logTail(containerId: string): Promise<string> {
    try {
      const stream = await this.#client.container.logs(
        this.#client.container.getById(containerId),
        { stdout: true, stderr: true, follow: false, tail: LOG_TAIL_LINES },
      )
      let text = ''
      for await (const chunk of stream) text += String(chunk)
      return text.trim()
    } catch {
      return ''
    }
  }

  /** Sends a signal to the postmaster and waits until its container has exited. */
  async #signal(node: ContainerNode, signal: 'SIGINT' | 'SIGKILL'): Promise<void> {
    if (!node.running || node.containerId === undefined) return
    const container = this.#container(node)
    await container.kill({ signal }).catch((error: unknown) => {
      // 409: the container is not running (it crashed on its own).
      if ((error as { statusCode?: number }).statusCode !== 409) throw error
    })
    await waitFor(
      `"${node.name}" to exit after ${signal}`,
      async () =>
        (await this.#client.container.inspect(container)).State.Running ? undefined : true,
      { timeoutMs: this.#config.timeoutMs, intervalMs: 50 },
    )
    node.running = false
  }

  /** Repoints a running replica at the current primary and waits until it streams from it. */
  async #follow(replica: ContainerNode): Promise<void> {
    await this.#ensureSlot(this.#primary(), replica.name)
    await withClient(replica.adminConfig(), async (client) => {
      await client.query(`set log_min_error_statement = 'panic'`)
      await client.query(
        `alter system set primary_conninfo = ${sqlLiteral(this.#primaryConninfo(replica))}`,
      )
      await client.query(`alter system set primary_slot_name = ${sqlLiteral(replica.name)}`)
      await client.query('select pg_reload_conf()')
    })
    await this.#waitStreaming(replica)
  }

  #primaryConninfo(replica: ContainerNode): string {
    const { user, password } = this.#config.replication
    return conninfo({
      host: this.#primary().networkAlias,
      port: 5432,
      user,
      password,
      application_name: replica.name,
    })
  }

  async #ensureSlot(primary: ContainerNode, slot: string): Promise<void> {
    await queryRows(
      primary.adminConfig(),
      `select pg_create_physical_replication_slot($1, true)
       where not exists (select from pg_replication_slots where slot_name = $1)`,
      [slot],
    )
  }

  /** Until the primary lists the replica as streaming and the replica takes queries. */
  async #waitStreaming(replica: ContainerNode): Promise<void> {
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

  async #nudgePrimary(): Promise<void> {
    const primary = this.#primary()
    if (!primary.running) return
    await queryRows(primary.adminConfig(), 'select txid_current()').catch(() => {})
  }

  /**
   * Removes every container carrying this cluster's label, found through the engine rather than
   * from memory, so that one whose start failed halfway goes too, then the network.
   */
  async #removeAll(): Promise<void> {
    for (const node of this.#nodes) node.running = false
    const containers = await this.#clusterContainers()
    const results = await Promise.allSettled([
      ...containers.map((info) =>
        this.#client.container.getById(info.Id).remove({ force: true, v: true }),
      ),
    ])
    const networkResult = await this.#network.stop().then(
      () => undefined,
      (error: unknown) => error,
    )
    const errors = [
      ...results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : [])),
      ...(networkResult === undefined ? [] : [networkResult]),
    ]
    if (errors.length > 0) {
      throw new AggregateError(
        errors,
        `Removing the cluster's containers or network failed; list what is left with ` +
          `docker ps -a --filter label=${CLUSTER_LABEL}=${this.#config.clusterId}`,
      )
    }
  }

  #clusterContainers(node?: string) {
    const labels = [`${CLUSTER_LABEL}=${this.#config.clusterId}`]
    if (node !== undefined) labels.push(`${CLUSTER_LABEL}.node=${node}`)
    return this.#client.container.dockerode.listContainers({
      all: true,
      filters: { label: labels },
    })
  }

  #container(node: ContainerNode) {
    if (node.containerId === undefined) {
      throw new NodeStateError(node.name, `"${node.name}" has no container; rejoin it first.`)
    }
    return this.#client.container.getById(node.containerId)
  }

  #node(ref: ContainerNodeRef): ContainerNode {
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

  #primary(): ContainerNode {
    const primary = this.#nodes.find((node) => node.role === 'primary')
    if (primary === undefined) throw new PgClusterError('The cluster has no primary.')
    return primary
  }

  #runningReplicas(): ContainerNode[] {
    return this.#nodes.filter((node) => node.role === 'replica' && node.running)
  }

  #runningReplica(ref: ContainerNodeRef, action: string): ContainerNode {
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

  #assertRunning(node: ContainerNode, action: string): void {
    if (!node.running) {
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

/** The engine Testcontainers finds (DOCKER_HOST, the socket, its config), or a clear error. */
async function connectToDocker(): Promise<ContainerRuntimeClient> {
  try {
    return await getContainerRuntimeClient()
  } catch (error) {
    throw new DockerUnavailableError(
      'No Docker engine answered. Start Docker (or set DOCKER_HOST), or use PgCluster from ' +
        '@kysely-replicas/pg-cluster, which needs no Docker.',
      { cause: error },
    )
  }
}

/** The replica's upstream, appended to its `postgresql.auto.conf` after `pg_basebackup`. */
function renderUpstream(primaryConninfo: string, slot: string): string {
  return renderSettings({ primary_conninfo: primaryConninfo, primary_slot_name: slot })
}

/** A random password that needs no escaping in a URL, a conninfo string or a SQL literal. */
function generatePassword(): string {
  return randomBytes(24).toString('base64url')
}

import type {
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
} from 'kysely'
import { createBalancer } from './balancing/create-balancer.js'
import { ConsistencyState } from './consistency/consistency-state.js'
import {
  normalizeReadYourWrites,
  type ReadYourWritesOptions,
} from './consistency/read-your-writes-config.js'
import {
  describeReadYourWritesMode,
  type ReadYourWritesMode,
} from './consistency/read-your-writes-mode.js'
import { ReplicasEvents } from './events/replicas-events.js'
import { NodeHealth } from './health/node-health.js'
import { DatabaseNode, type NodeRole } from './nodes/database-node.js'
import { NodeMembership } from './nodes/node-membership.js'
import { NodeStats } from './nodes/node-stats.js'
import { postgresConnectionDestroyer } from './postgres/destroy-postgres-connection.js'
import { postgresPositions } from './postgres/postgres-positions.js'
import { speaksPostgres } from './postgres/speaks-postgres.js'
import { ReplicatedAdapter } from './replicated-adapter.js'
import {
  type NodeConfig,
  type NormalizedConfig,
  normalizeConfig,
  type ReplicatedDialectConfig,
} from './replicated-dialect-config.js'
import { ReplicatedDriver } from './replicated-driver.js'
import { ReplicatedQueryCompiler } from './replicated-query-compiler.js'
import { type ClassifyOptions, createClassifyOptions } from './routing/classify-query.js'
import { NodeRouter } from './routing/node-router.js'
import { registerDriver } from './views/driver-registry.js'

/**
 * A Kysely dialect over a primary and its read replicas. Reads (`select` queries that are safe on
 * a hot standby) go to the replicas that are up; everything else, transactions and
 * `connection()` blocks go to the primary. `db.onPrimary()` and `db.onReplica()` override the
 * routing; `replicationOf(db)` gives events, stats and routing explanations.
 *
 * ```ts
 * import { Kysely, PostgresDialect } from 'kysely'
 * import { ReplicatedDialect } from 'kysely-replicas'
 *
 * const db = new Kysely<DB>({
 *   dialect: new ReplicatedDialect({
 *     primary: new PostgresDialect({ pool: primaryPool }),
 *     replicas: [new PostgresDialect({ pool: replicaPool1 }), new PostgresDialect({ pool: replicaPool2 })],
 *   }),
 * })
 * await db.selectFrom('person').selectAll().execute() // a replica
 * await db.insertInto('person').values(row).execute() // the primary
 * ```
 */
export class ReplicatedDialect implements Dialect {
  readonly #config: NormalizedConfig
  readonly #classifyOptions: ClassifyOptions
  readonly #readYourWrites: ReadYourWritesOptions | undefined
  // One dialect object, one consistency state: every Kysely instance built on it shares it.
  readonly #consistency = new ConsistencyState()
  readonly #readYourWritesMode: ReadYourWritesMode
  // Kysely's constructor calls createDriver() then createAdapter(): the adapter is tied to the
  // driver made just before it, which is how views find the driver of a Kysely instance.
  #lastDriver: ReplicatedDriver | undefined

  constructor(config: ReplicatedDialectConfig) {
    this.#config = normalizeConfig(config)
    this.#classifyOptions = createClassifyOptions(this.#config.writingFunctions)
    // Fails on a bad option now rather than on the first query; each driver gets its own.
    createBalancer(this.#config.balancing)
    // Positions are known for PostgreSQL; other databases get the sticky mode.
    const primary = speaksPostgres(this.#config.primary.dialect)
    this.#readYourWrites = normalizeReadYourWrites(
      this.#config.readYourWrites,
      primary.postgres ? postgresPositions : undefined,
    )
    this.#readYourWritesMode = describeReadYourWritesMode(
      this.#config.readYourWrites,
      this.#readYourWrites,
      primary.postgres
        ? `the primary's dialect speaks PostgreSQL, whose write positions are known: ${primary.evidence}`
        : `the primary's dialect does not look like PostgreSQL, so write positions are unknown: ${primary.evidence}`,
    )
  }

  /**
   * The read-your-writes mode this dialect chose, and why (also the `read-your-writes-mode`
   * event, and `replicationOf(db).readYourWritesMode`).
   *
   * ```ts
   * new ReplicatedDialect({ primary, replicas }).readYourWritesMode // { mode: 'position', reason: "the primary's dialect speaks PostgreSQL…" }
   * ```
   */
  get readYourWritesMode(): ReadYourWritesMode {
    return this.#readYourWritesMode
  }

  createDriver(): Driver {
    const { primary, replicas, sessionReset, fallback, readDeadline, nodeFactory } = this.#config
    const events = new ReplicasEvents()
    const balancer = createBalancer(this.#config.balancing)
    let router: NodeRouter | undefined
    const onHealthChange = () => router?.refresh()
    const node = (config: NodeConfig, role: NodeRole, index: number) =>
      this.#createNode(config, role, index, {
        events,
        onHealthChange,
        timeEvery: balancer.usesLatency ? 1 : 16,
      })
    router = new NodeRouter(
      node(primary, 'primary', -1),
      Object.freeze(replicas.map((replica, index) => node(replica, 'replica', index))),
      {
        balancer,
        classifyOptions: this.#classifyOptions,
        fallback,
        localZone: this.#config.localZone,
        events,
        readDeadline,
        hedge: this.#config.hedge,
      },
    )
    const membership = new NodeMembership(router, {
      factory: nodeFactory,
      // A node that joins starts as a replica, whatever it was configured as: the monitor that
      // found it says what it is.
      build: (name, dialect, index) => node({ name, dialect, weight: 1 }, 'replica', index),
      configuredIndexes: new Map([
        [primary.name, -1],
        ...replicas.map((replica, index): [string, number] => [replica.name, index]),
      ]),
    })
    const routed = router
    const monitor = this.#config.monitor?.({
      get nodes() {
        return routed.nodes
      },
      events,
      refresh: () => routed.refresh(),
      onPrimaryFailure: (listener) => routed.onPrimaryFailure(listener),
      canAddNodes: membership.canAdd,
      addNode: (member) => membership.add(member),
      removeNode: (each) => membership.remove(each),
    })
    const confirm = monitor?.confirm?.bind(monitor)
    if (confirm !== undefined) {
      membership.confirmWith(confirm)
    }
    this.#lastDriver = new ReplicatedDriver(router, {
      sessionReset,
      monitor,
      membership,
      readYourWrites: this.#readYourWrites,
      consistency: this.#consistency,
      readYourWritesMode: this.#readYourWritesMode,
    })
    return this.#lastDriver
  }

  createQueryCompiler(): QueryCompiler {
    return new ReplicatedQueryCompiler(
      this.#config.primary.dialect.createQueryCompiler(),
      this.#classifyOptions,
    )
  }

  createAdapter(): DialectAdapter {
    const adapter = new ReplicatedAdapter(this.#config.primary.dialect.createAdapter())
    if (this.#lastDriver !== undefined) {
      registerDriver(adapter, this, this.#lastDriver)
    }
    return adapter
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.#config.primary.dialect.createIntrospector(db)
  }

  #createNode(
    config: NodeConfig,
    role: NodeRole,
    index: number,
    {
      events,
      onHealthChange,
      timeEvery,
    }: { events: ReplicasEvents; onHealthChange: () => void; timeEvery: number },
  ): DatabaseNode {
    const driver = config.dialect.createDriver()
    return new DatabaseNode({
      name: config.name,
      role,
      index,
      weight: config.weight,
      zone: config.zone,
      poolSize: config.poolSize,
      driver,
      stats: new NodeStats(timeEvery),
      health: new NodeHealth(config.name, driver, this.#config.health, events, onHealthChange),
      destroyConnection: postgresConnectionDestroyer(config.dialect, driver),
    })
  }
}

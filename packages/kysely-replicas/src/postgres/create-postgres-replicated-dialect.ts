import { PostgresDialect, type PostgresDialectConfig, type PostgresPool } from 'kysely'
import { checkOptionNames, closestName, type OptionNames } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import { ReplicatedDialect } from '../replicated-dialect.js'
import {
  checkNodeName,
  checkNodeWeight,
  checkNodeZone,
  type ReplicaConfig,
  type ReplicatedDialectConfig,
} from '../replicated-dialect-config.js'
import type { NodeMonitorFactory } from '../topology/node-monitor.js'
import { type CheckPool, checkPoolSettings, type OwnCheckPath, ownCheckPath } from './check-pool.js'
import { type ErrorEmittingPool, handlePoolErrors } from './handle-pool-errors.js'
import { PostgresTopologyMonitor } from './postgres-topology-monitor.js'
import {
  normalizeTopologyOptions,
  type PostgresTopologyOptions,
} from './postgres-topology-options.js'
import { settingsAtAddress } from './settings-at-address.js'

/**
 * A pool class such as node-postgres' `pg.Pool`: what {@link createPostgresReplicatedDialect}
 * builds each node's pool with (kysely-replicas has no dependency on `pg`).
 *
 * ```ts
 * import pg from 'pg'
 * const Pool: PostgresPoolConstructor<pg.PoolConfig> = pg.Pool
 * ```
 */
export type PostgresPoolConstructor<Config extends object> = new (
  config?: Config,
) => PostgresPool & ErrorEmittingPool

/**
 * One server: a name, a weight for balancing, and its pool settings (`connectionString`, or
 * `host`, `port`, `user`, … as the pool class takes them).
 *
 * ```ts
 * const node: PostgresNodeConfig<pg.PoolConfig> = { name: 'eu-1b', connectionString: process.env.REPLICA_URL }
 * ```
 */
export type PostgresNodeConfig<Config extends object> = Config & {
  /** Shown in errors, events and stats. Default `primary` for the first node, then `replica-0`, … */
  readonly name?: string
  /** A positive number for weighted balancing; default 1. */
  readonly weight?: number
  /** The zone the server runs in (see `localZone`). */
  readonly zone?: string
}

/**
 * The options of {@link createPostgresReplicatedDialect}: the pool class, the servers, and every
 * other `ReplicatedDialect` option.
 *
 * ```ts
 * const config: PostgresReplicatedDialectConfig<pg.PoolConfig> = {
 *   Pool: pg.Pool,
 *   nodes: [{ connectionString: primaryUrl }, { connectionString: replicaUrl }],
 *   poolOptions: { max: 20 },
 * }
 * ```
 */
export interface PostgresReplicatedDialectConfig<Config extends object>
  extends Omit<ReplicatedDialectConfig, 'primary' | 'replicas' | 'nodeFactory'> {
  /** The pool class: `pg.Pool` from node-postgres. */
  readonly Pool: PostgresPoolConstructor<Config>
  /**
   * Every server, the one expected to be the primary first. With the topology monitor (the
   * default) roles are discovered, so the order is only the first guess. With a monitor that
   * knows the membership (`patroniTopology()`), a server that joins later gets a node of its
   * own, with the first node's settings (user, password, database, TLS) at the member's host
   * and port, and one that leaves is drained and its pool ended.
   */
  readonly nodes: ReadonlyArray<PostgresNodeConfig<Config>>
  /**
   * Pool settings for every node (`max`, `idleTimeoutMillis`, …), under each node's own: a
   * node's settings win. `connectionTimeoutMillis` defaults to 2000 (ms) here, not pg's "wait
   * forever", so that a dead node fails fast and reads move on.
   */
  readonly poolOptions?: Partial<Config>
  /**
   * Options of the `postgresTopology()` monitor, on by default; `false` turns it off (roles stay
   * as configured). Give `monitor` instead to use another monitor.
   */
  readonly topology?: PostgresTopologyOptions | false
  /**
   * `PostgresDialect` options other than the pool, for every node: `cursor` (from
   * `pg-cursor`) for `.stream()`, `onCreateConnection`, …. None by default.
   */
  readonly dialectOptions?: Omit<PostgresDialectConfig, 'pool'>
  /**
   * Sees every error a pool or its clients emit (see `handlePoolErrors`), with the node's name:
   * a server that went away, a connection killed by an admin. Default: ignored (the pools never
   * crash the process; the failing query still fails and is handled). Set it to log them.
   */
  readonly onPoolError?: (error: Error, node: string) => void
}

// Listed in full (the compiler checks the list against the type) rather than derived from
// ReplicatedDialect's, so that the message names the options this function takes.
const OPTIONS: OptionNames<PostgresReplicatedDialectConfig<object>> = Object.freeze({
  Pool: true,
  nodes: true,
  poolOptions: true,
  topology: true,
  dialectOptions: true,
  onPoolError: true,
  writingFunctions: true,
  sessionReset: true,
  balancing: true,
  fallback: true,
  localZone: true,
  health: true,
  readDeadline: true,
  hedge: true,
  monitor: true,
  readYourWrites: true,
})

const OWN_KEYS = new Set(['name', 'weight', 'zone'])

/**
 * A `ReplicatedDialect` over PostgreSQL servers, from their connection settings: one pool per
 * node built with the given pool class and wrapped with `handlePoolErrors`,
 * `connectionTimeoutMillis` 2000 unless set, the first node as the configured primary, and the
 * `postgresTopology()` monitor on. Roles are discovered when the dialect starts and followed
 * through failovers, so the order of `nodes` is only the initial guess. With a monitor that knows
 * the membership (`patroniTopology()`), a server that joins gets a pool of its own with the first
 * node's settings at its address, and one that leaves has its pool ended once its queries are
 * done. The pools are closed by `db.destroy()`.
 *
 * ```ts
 * import { Kysely } from 'kysely'
 * import { createPostgresReplicatedDialect } from 'kysely-replicas/postgres'
 * import pg from 'pg'
 *
 * const db = new Kysely<DB>({
 *   dialect: createPostgresReplicatedDialect({
 *     Pool: pg.Pool,
 *     nodes: [
 *       { name: 'db-1', connectionString: process.env.DATABASE_URL_1 },
 *       { name: 'db-2', connectionString: process.env.DATABASE_URL_2 },
 *       { name: 'db-3', connectionString: process.env.DATABASE_URL_3 },
 *     ],
 *     poolOptions: { max: 20 },
 *     topology: { maxReplicationLag: { seconds: 5 } },
 *     sessionReset: 'DISCARD ALL',
 *   }),
 * })
 * ```
 */
export function createPostgresReplicatedDialect<Config extends object>(
  config: PostgresReplicatedDialectConfig<Config>,
): ReplicatedDialect {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidConfigError(
      'createPostgresReplicatedDialect() needs a config object: { Pool: pg.Pool, nodes: [{ connectionString }, …] }.',
    )
  }
  checkOptionNames(config, OPTIONS, 'createPostgresReplicatedDialect()')
  const { Pool, nodes, poolOptions, topology, dialectOptions, onPoolError, monitor, ...rest } =
    config
  if (typeof Pool !== 'function') {
    throw new InvalidConfigError(
      "createPostgresReplicatedDialect(): Pool must be a pool class, such as pg.Pool from node-postgres (import pg from 'pg').",
    )
  }
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new InvalidConfigError(
      'createPostgresReplicatedDialect(): nodes must be a non-empty array of pool settings, the expected primary first.',
    )
  }
  if (poolOptions !== undefined && !isObject(poolOptions)) {
    throw new InvalidConfigError(
      'createPostgresReplicatedDialect(): poolOptions must be an object of pool settings.',
    )
  }
  if (dialectOptions !== undefined && !isObject(dialectOptions)) {
    throw new InvalidConfigError(
      'createPostgresReplicatedDialect(): dialectOptions must be an object of PostgresDialect options, such as { cursor: Cursor }.',
    )
  }
  if (onPoolError !== undefined && typeof onPoolError !== 'function') {
    throw new InvalidConfigError(
      'createPostgresReplicatedDialect(): onPoolError must be a function (error, node) => void.',
    )
  }
  if (monitor !== undefined && topology !== undefined) {
    throw new InvalidConfigError(
      'createPostgresReplicatedDialect(): give either topology (options of the built-in monitor) or monitor, not both.',
    )
  }
  nodes.forEach(checkNode)
  const nodeSettings = new Map<string, object>()
  const dialectFor = (name: string, settings: object) => {
    const pool = new Pool({ connectionTimeoutMillis: 2000, ...settings } as unknown as Config)
    handlePoolErrors(pool, (error) => onPoolError?.(error, name))
    return new PostgresDialect({ ...dialectOptions, pool })
  }
  const built = nodes.map((node, index): ReplicaConfig => {
    const name = node.name ?? (index === 0 ? 'primary' : `replica-${index - 1}`)
    const settings = Object.fromEntries(Object.entries(node).filter(([key]) => !OWN_KEYS.has(key)))
    nodeSettings.set(name, { ...poolOptions, ...settings })
    const dialect = dialectFor(name, { ...poolOptions, ...settings })
    const { max } = { ...poolOptions, ...settings } as { max?: unknown }
    return {
      name,
      dialect,
      ...(node.weight === undefined ? {} : { weight: node.weight }),
      ...(node.zone === undefined ? {} : { zone: node.zone }),
      // The pool's size, which the dialect cannot read from the pool (see ReplicaConfig.poolSize).
      ...(typeof max === 'number' && Number.isInteger(max) && max > 0 ? { poolSize: max } : {}),
    }
  })
  const [primary, ...replicas] = built as [ReplicaConfig, ...ReplicaConfig[]]
  // Servers of one cluster share their logins: a member that joins is reached with the first
  // node's settings at its own address.
  const base = nodeSettings.get(primary.name ?? '') ?? {}
  return new ReplicatedDialect({
    ...rest,
    primary,
    replicas,
    nodeFactory: ({ name, host, port }) => dialectFor(name, settingsAtAddress(base, host, port)),
    monitor:
      monitor ??
      topologyMonitor(topology, (name, timeoutMs) => {
        const pool = new Pool(
          checkPoolSettings(nodeSettings.get(name) ?? {}, timeoutMs) as Config,
        ) as unknown as CheckPool
        return ownCheckPath(pool, (error) => onPoolError?.(error, name))
      }),
  })
}

// Checked before any pool is built. A node's other keys are the pool's settings, which only the
// pool class knows; a key one typo away from `name` or `weight` is taken for that typo.
function checkNode(node: unknown, index: number): void {
  const where = `createPostgresReplicatedDialect(): nodes[${index}]`
  if (!isObject(node)) {
    throw new InvalidConfigError(`${where} must be an object of pool settings.`)
  }
  for (const key of Object.keys(node)) {
    const meant = OWN_KEYS.has(key) ? undefined : closestName(key, [...OWN_KEYS])
    if (meant !== undefined) {
      throw new InvalidConfigError(
        `${where} has '${key}'; did you mean '${meant}'? A node takes name, weight, zone and the settings of its pool.`,
      )
    }
  }
  const { name, weight, zone } = node as { name?: unknown; weight?: unknown; zone?: unknown }
  if (name !== undefined) {
    checkNodeName(name, where)
  }
  if (weight !== undefined) {
    checkNodeWeight(weight, where)
  }
  if (zone !== undefined) {
    checkNodeZone(zone, where)
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// The pools are built here, so the monitor gets connections of its own to each node (a small
// pool made per Kysely instance and closed with it): its checks and the health probes never wait
// behind user queries in the node's pool.
function topologyMonitor(
  topology: PostgresTopologyOptions | false | undefined,
  checkPool: (node: string, timeoutMs: number) => OwnCheckPath,
): NodeMonitorFactory | undefined {
  if (topology === false) {
    return undefined
  }
  const options = normalizeTopologyOptions(topology)
  return (context) =>
    new PostgresTopologyMonitor(context, options, (node) => checkPool(node, options.timeoutMs))
}

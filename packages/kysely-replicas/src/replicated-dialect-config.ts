import type { Dialect } from 'kysely'
import type { BalancingOption } from './balancing/create-balancer.js'
import { checkOptionNames, type OptionNames } from './config/check-options.js'
import type { ReadYourWritesConfig } from './consistency/read-your-writes-config.js'
import { InvalidConfigError } from './errors.js'
import {
  type FallbackConfig,
  type FallbackPolicy,
  normalizeFallback,
  type ResolvedFallback,
} from './health/fallback-policy.js'
import { type HealthConfig, type HealthOptions, normalizeHealth } from './health/health-options.js'
import {
  normalizeReadDeadline,
  type ReadDeadlineConfig,
  type ReadDeadlineOptions,
} from './health/read-deadline.js'
import { DEFAULT_POOL_SIZE } from './nodes/database-node.js'
import type { NodeFactory } from './nodes/node-factory.js'
import { type HedgeConfig, type HedgeOptions, normalizeHedge } from './routing/hedge-config.js'
import type { NodeMonitorFactory } from './topology/node-monitor.js'

/**
 * A replica with a name (shown in errors, events and stats), a weight (used by weighted
 * balancing), the zone it runs in (see `localZone`) and the size of its pool. A bare `Dialect`
 * is the same as `{ dialect }`.
 *
 * ```ts
 * const replica: ReplicaConfig = { name: 'eu-west-1b', zone: 'eu-west-1b', poolSize: 20, dialect: new PostgresDialect({ pool }) }
 * ```
 */
export interface ReplicaConfig {
  /** The replica's own Kysely dialect, such as `new PostgresDialect({ pool })`. */
  readonly dialect: Dialect
  /** Defaults to `replica-<index>`. Must be unique among the nodes. */
  readonly name?: string
  /** A positive number, 1 by default. */
  readonly weight?: number
  /** Where the server runs (an availability zone, a region); with `localZone`, reads prefer it. */
  readonly zone?: string
  /**
   * The most connections the dialect's pool opens (node-postgres' `max`), which the dialect
   * cannot read from the pool: with `localZone`, a local replica with that many queries in
   * flight is full and reads spill to other zones; the fallback budget is half of the smallest.
   * Default 10, node-postgres' default.
   */
  readonly poolSize?: number
}

/**
 * The primary with a name. A bare `Dialect` is the same as `{ dialect }`.
 *
 * ```ts
 * const primary: PrimaryConfig = { name: 'main', dialect: new PostgresDialect({ pool }) }
 * ```
 */
export interface PrimaryConfig {
  /** The primary's own Kysely dialect, such as `new PostgresDialect({ pool })`. */
  readonly dialect: Dialect
  /** Defaults to `primary`. */
  readonly name?: string
  /** Used by weighted balancing if a monitor finds the node became a replica. Default 1. */
  readonly weight?: number
  /** As a replica's: used if a monitor finds the node became a replica. */
  readonly zone?: string
  /** As a replica's; the fallback budget is half of the smallest pool. Default 10. */
  readonly poolSize?: number
}

/**
 * The configuration of a {@link ReplicatedDialect}.
 *
 * ```ts
 * const config: ReplicatedDialectConfig = {
 *   primary: new PostgresDialect({ pool: primaryPool }),
 *   replicas: [new PostgresDialect({ pool: replicaPool })],
 *   writingFunctions: ['app.create_order'],
 *   sessionReset: 'DISCARD ALL',
 * }
 * ```
 */
export interface ReplicatedDialectConfig {
  /** The node that takes every write. Its adapter, compiler and introspector serve Kysely. */
  readonly primary: Dialect | PrimaryConfig
  /** The hot standbys that serve reads. None: everything goes to the primary. */
  readonly replicas?: ReadonlyArray<Dialect | ReplicaConfig>
  /**
   * Functions of yours that write (or must see the primary), as `name` or `schema.name`: a
   * `select` that calls one goes to the primary. Added to the built-in PostgreSQL list
   * (`postgresWritingFunctions`); none by default. List every function of yours that writes:
   * on a replica the `select` would fail (a hot standby is read-only).
   */
  readonly writingFunctions?: readonly string[]
  /**
   * SQL run on a node's connection when a `transaction()` or `connection()` block ends, before
   * the connection goes back to its pool, so that session state set in the block (`SET ROLE`,
   * `set_config(…, false)`, temporary tables) is never seen by later queries. For PostgreSQL use
   * `'DISCARD ALL'`. Unset (the default): nothing is run, as with plain Kysely. Set it when your
   * blocks change session state and the pools are shared; leave it unset when they only run
   * queries (it costs one statement per block), and behind a pooler in transaction mode, where
   * session state does not outlive a statement anyway.
   */
  readonly sessionReset?: string
  /**
   * How reads are spread over the replicas that are up: `'round-robin'` (default), `'random'`,
   * `'weighted'` (by each replica's `weight`), `'least-outstanding'`, `'latency-aware'` (power of
   * two choices on a smoothed latency), a `Balancer`, or a function given the candidates' live
   * stats.
   */
  readonly balancing?: BalancingOption
  /**
   * The zone this process runs in: reads prefer the replicas whose `zone` it is, and go to
   * replicas of other zones only while every local one is down, lagging or has as many queries
   * in flight as its `poolSize`. Unset: reads go to any zone.
   */
  readonly localZone?: string
  /**
   * Where a read goes when its replica fails or none is up (default `replicas-then-primary`),
   * and how many such reads the primary takes at once (see `FallbackConfig`; default half of
   * the smallest `poolSize`, 5).
   */
  readonly fallback?: FallbackPolicy | FallbackConfig
  /**
   * How failing nodes are detected and probed back (see `HealthConfig`); the defaults suit most
   * setups.
   */
  readonly health?: HealthConfig
  /**
   * How long a single read waits for a replica that stopped answering before it also goes to
   * another node (see `ReadDeadlineConfig`), for `PostgresDialect` nodes. Off by default; `{}`
   * turns it on with its defaults.
   */
  readonly readDeadline?: ReadDeadlineConfig | false
  /**
   * Hedged reads: a replica read that has not answered after the recent p95 latency also goes
   * to another replica, within a budget of extra reads (see `HedgeConfig`). Off by default;
   * `{}` turns it on with its defaults.
   */
  readonly hedge?: HedgeConfig | false
  /**
   * A background monitor of roles and replication lag, such as `postgresTopology()`: it follows
   * failovers and keeps lagging replicas out of rotation. None by default: roles are as
   * configured.
   */
  readonly monitor?: NodeMonitorFactory
  /**
   * Builds the dialect of a server that joins the cluster while the dialect runs (a monitor that
   * knows the membership, such as `patroniTopology()`, finds it), so that it gets reads without a
   * restart; a node whose server leaves is drained, then its driver destroyed. Without it the
   * membership is fixed: the configured nodes, a server that leaves getting no new reads until
   * it is back. `createPostgresReplicatedDialect()` gives one.
   */
  readonly nodeFactory?: NodeFactory
  /**
   * Read-your-writes: on by default (by WAL position with a PostgreSQL primary, sticky
   * otherwise); `false` turns it off. See `ReadYourWritesConfig`.
   */
  readonly readYourWrites?: ReadYourWritesConfig | false
}

/** The options of {@link ReplicatedDialectConfig}, to refuse any other (a misspelled one). */
export const REPLICATED_DIALECT_OPTIONS: OptionNames<ReplicatedDialectConfig> = Object.freeze({
  primary: true,
  replicas: true,
  writingFunctions: true,
  sessionReset: true,
  balancing: true,
  fallback: true,
  localZone: true,
  health: true,
  readDeadline: true,
  hedge: true,
  monitor: true,
  nodeFactory: true,
  readYourWrites: true,
})

const NODE_OPTIONS: OptionNames<ReplicaConfig> = Object.freeze({
  dialect: true,
  name: true,
  weight: true,
  zone: true,
  poolSize: true,
})

/** A node as the driver sees it. */
export interface NodeConfig {
  readonly name: string
  readonly dialect: Dialect
  readonly weight: number
  readonly zone?: string | undefined
  readonly poolSize?: number | undefined
}

/** The configuration after validation: copied, completed and frozen. */
export interface NormalizedConfig {
  readonly primary: NodeConfig
  readonly replicas: readonly NodeConfig[]
  readonly writingFunctions: readonly string[]
  readonly sessionReset: string | undefined
  readonly balancing: BalancingOption | undefined
  readonly fallback: ResolvedFallback
  readonly localZone: string | undefined
  readonly health: HealthOptions
  readonly readDeadline: ReadDeadlineOptions | undefined
  readonly hedge: HedgeOptions | undefined
  readonly monitor: NodeMonitorFactory | undefined
  readonly nodeFactory: NodeFactory | undefined
  readonly readYourWrites: ReadYourWritesConfig | false | undefined
}

/** Validates a user's configuration and returns a frozen copy with every default filled in. */
export function normalizeConfig(config: ReplicatedDialectConfig): NormalizedConfig {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidConfigError(
      'ReplicatedDialect needs a config object: new ReplicatedDialect({ primary, replicas }).',
    )
  }
  checkOptionNames(config, REPLICATED_DIALECT_OPTIONS, 'ReplicatedDialect')
  const primary = normalizeNode(config.primary, 'primary', 'primary')
  const replicas = normalizeReplicas(config.replicas)
  assertUniqueNames([primary, ...replicas])
  const writingFunctions = config.writingFunctions ?? []
  if (!Array.isArray(writingFunctions)) {
    throw new InvalidConfigError('writingFunctions must be an array of function names.')
  }
  if (config.sessionReset !== undefined && typeof config.sessionReset !== 'string') {
    throw new InvalidConfigError("sessionReset must be a SQL string such as 'DISCARD ALL'.")
  }
  const fallback = normalizeFallback(config.fallback)
  return Object.freeze({
    primary,
    replicas,
    writingFunctions: Object.freeze([...writingFunctions]),
    sessionReset: config.sessionReset?.trim() || undefined,
    balancing: config.balancing,
    fallback: Object.freeze({
      ...fallback,
      // Any node may become the primary: half of the smallest pool.
      maxConcurrent:
        fallback.maxConcurrent ??
        Math.max(
          1,
          Math.floor(
            Math.min(...[primary, ...replicas].map((node) => node.poolSize ?? DEFAULT_POOL_SIZE)) /
              2,
          ),
        ),
    }),
    localZone: normalizeLocalZone(config.localZone, [primary, ...replicas]),
    health: normalizeHealth(config.health),
    readDeadline: normalizeReadDeadline(config.readDeadline),
    hedge: normalizeHedge(config.hedge),
    monitor: normalizeMonitor(config.monitor),
    nodeFactory: normalizeNodeFactory(config.nodeFactory),
    readYourWrites: config.readYourWrites,
  })
}

// A local zone that no node is in is allowed (reads then go anywhere, as without one), but not
// with no zone given at all: that is a config that forgot the zones.
function normalizeLocalZone(zone: unknown, nodes: readonly NodeConfig[]): string | undefined {
  if (zone === undefined) {
    return undefined
  }
  if (typeof zone !== 'string' || zone.trim() === '') {
    throw new InvalidConfigError(
      `localZone must be a non-empty string naming the zone this process runs in, got ${String(zone)}.`,
    )
  }
  if (nodes.every((node) => node.zone === undefined)) {
    throw new InvalidConfigError(
      `localZone is '${zone}' but no node has a zone: give the replicas theirs ({ dialect, zone: 'eu-west-1a' }).`,
    )
  }
  return zone
}

function normalizeMonitor(monitor: unknown): NodeMonitorFactory | undefined {
  if (monitor !== undefined && typeof monitor !== 'function') {
    throw new InvalidConfigError(
      'monitor must be a monitor factory such as postgresTopology({ … }).',
    )
  }
  return monitor as NodeMonitorFactory | undefined
}

function normalizeNodeFactory(factory: unknown): NodeFactory | undefined {
  if (factory !== undefined && typeof factory !== 'function') {
    throw new InvalidConfigError(
      'nodeFactory must be a function ({ name, host, port }) => Dialect, building the dialect of a server that joins.',
    )
  }
  return factory as NodeFactory | undefined
}

function normalizeReplicas(replicas: ReplicatedDialectConfig['replicas']): readonly NodeConfig[] {
  if (replicas === undefined) {
    return Object.freeze([])
  }
  if (!Array.isArray(replicas)) {
    throw new InvalidConfigError(
      'replicas must be an array of dialects or { dialect, name, weight }.',
    )
  }
  return Object.freeze(
    replicas.map((replica, index) =>
      normalizeNode(replica, `replicas[${index}]`, `replica-${index}`),
    ),
  )
}

function normalizeNode(
  node: Dialect | ReplicaConfig | undefined,
  where: string,
  defaultName: string,
): NodeConfig {
  if (isDialect(node)) {
    return Object.freeze({ name: defaultName, dialect: node, weight: 1 })
  }
  if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
    checkOptionNames(node, NODE_OPTIONS, where)
  }
  if (typeof node !== 'object' || node === null || !isDialect(node.dialect)) {
    throw new InvalidConfigError(
      `${where} must be a Kysely Dialect (such as new PostgresDialect({ pool })) or { dialect, name }.`,
    )
  }
  return Object.freeze({
    name: checkNodeName(node.name ?? defaultName, where),
    dialect: node.dialect,
    weight: checkNodeWeight(node.weight ?? 1, where),
    zone: node.zone === undefined ? undefined : checkNodeZone(node.zone, where),
    poolSize: node.poolSize === undefined ? undefined : checkPoolSize(node.poolSize, where),
  })
}

/** A node's zone, checked; `where` names the node in the error. */
export function checkNodeZone(zone: unknown, where: string): string {
  if (typeof zone !== 'string' || zone.trim() === '') {
    throw new InvalidConfigError(`${where}.zone must be a non-empty string, got ${String(zone)}.`)
  }
  return zone
}

function checkPoolSize(size: unknown, where: string): number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) {
    throw new InvalidConfigError(
      `${where}.poolSize must be a positive integer (the pool's max connections), got ${String(size)}.`,
    )
  }
  return size
}

/** A node's name, checked; `where` names the node in the error (`replicas[1]`, `nodes[2]`). */
export function checkNodeName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidConfigError(`${where}.name must be a non-empty string.`)
  }
  return name
}

/** A node's weight, checked; `where` names the node in the error. */
export function checkNodeWeight(weight: unknown, where: string): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new InvalidConfigError(
      `${where}.weight must be a positive finite number, got ${String(weight)}.`,
    )
  }
  return weight
}

/** Whether the value has the four methods of a Kysely `Dialect`. */
export function isDialect(value: unknown): value is Dialect {
  if (typeof value !== 'object' || value === null) {
    return false
  }
  const dialect = value as Partial<Record<keyof Dialect, unknown>>
  return (
    typeof dialect.createDriver === 'function' &&
    typeof dialect.createAdapter === 'function' &&
    typeof dialect.createQueryCompiler === 'function' &&
    typeof dialect.createIntrospector === 'function'
  )
}

function assertUniqueNames(nodes: readonly NodeConfig[]): void {
  const seen = new Set<string>()
  for (const node of nodes) {
    if (seen.has(node.name)) {
      throw new InvalidConfigError(`Two nodes are named "${node.name}"; node names must be unique.`)
    }
    seen.add(node.name)
  }
}

import type { Dialect } from 'kysely'
import type { BalancingOption } from './balancing/create-balancer.js'
import { checkOptionNames, type OptionNames } from './config/check-options.js'
import type { ReadYourWritesConfig } from './consistency/read-your-writes-config.js'
import { InvalidConfigError } from './errors.js'
import {
  type FallbackConfig,
  type FallbackOptions,
  type FallbackPolicy,
  normalizeFallback,
} from './health/fallback-policy.js'
import { type HealthConfig, type HealthOptions, normalizeHealth } from './health/health-options.js'
import {
  normalizeReadDeadline,
  type ReadDeadlineConfig,
  type ReadDeadlineOptions,
} from './health/read-deadline.js'
import type { NodeFactory } from './nodes/node-factory.js'
import type { NodeMonitorFactory } from './topology/node-monitor.js'

/**
 * A replica with a name (shown in errors, events and stats) and a weight (used by weighted
 * balancing). A bare `Dialect` is the same as `{ dialect }`.
 *
 * ```ts
 * const replica: ReplicaConfig = { name: 'eu-west-1b', weight: 2, dialect: new PostgresDialect({ pool }) }
 * ```
 */
export interface ReplicaConfig {
  /** The replica's own Kysely dialect, such as `new PostgresDialect({ pool })`. */
  readonly dialect: Dialect
  /** Defaults to `replica-<index>`. Must be unique among the nodes. */
  readonly name?: string
  /** A positive number, 1 by default. */
  readonly weight?: number
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
   * Where a read goes when its replica fails or none is up (default `replicas-then-primary`),
   * and how many such reads the primary takes at once (see `FallbackConfig`; default 5).
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
  health: true,
  readDeadline: true,
  monitor: true,
  nodeFactory: true,
  readYourWrites: true,
})

const NODE_OPTIONS: OptionNames<ReplicaConfig> = Object.freeze({
  dialect: true,
  name: true,
  weight: true,
})

/** A node as the driver sees it. */
export interface NodeConfig {
  readonly name: string
  readonly dialect: Dialect
  readonly weight: number
}

/** The configuration after validation: copied, completed and frozen. */
export interface NormalizedConfig {
  readonly primary: NodeConfig
  readonly replicas: readonly NodeConfig[]
  readonly writingFunctions: readonly string[]
  readonly sessionReset: string | undefined
  readonly balancing: BalancingOption | undefined
  readonly fallback: FallbackOptions
  readonly health: HealthOptions
  readonly readDeadline: ReadDeadlineOptions | undefined
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
  return Object.freeze({
    primary,
    replicas,
    writingFunctions: Object.freeze([...writingFunctions]),
    sessionReset: config.sessionReset?.trim() || undefined,
    balancing: config.balancing,
    fallback: normalizeFallback(config.fallback),
    health: normalizeHealth(config.health),
    readDeadline: normalizeReadDeadline(config.readDeadline),
    monitor: normalizeMonitor(config.monitor),
    nodeFactory: normalizeNodeFactory(config.nodeFactory),
    readYourWrites: config.readYourWrites,
  })
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
  })
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

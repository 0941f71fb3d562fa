import type { CompiledQuery } from 'kysely'
import type { Balancer } from '../balancing/balancer.js'
import {
  NoPrimaryError,
  NoReplicaAvailableError,
  ReplicaWriteError,
  SplitBrainError,
} from '../errors.js'
import type { ReplicasEvents } from '../events/replicas-events.js'
import { FallbackBudget } from '../health/fallback-budget.js'
import type { FallbackPolicy, ResolvedFallback } from '../health/fallback-policy.js'
import type { ReadDeadlineOptions } from '../health/read-deadline.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import { type ClassifyOptions, classifyQuery, type QueryClassification } from './classify-query.js'
import { TimedCompiledQuery } from './compile-order.js'
import { DeadlineWatch } from './deadline-watch.js'
import type { HedgeOptions } from './hedge-config.js'
import { Hedging } from './hedging.js'
import type { RouteTarget } from './route-target.js'

/**
 * Knows the nodes, their roles and health, and picks the one that serves a query or a block.
 * Roles may change at run time (a monitor that follows failovers), and so may the nodes (servers
 * that join or leave the cluster): the primary and the replicas that serve reads are recomputed
 * on every change, not per query.
 */
export class NodeRouter {
  /** The replicas the config lists, by name: `onReplica(index)` takes indexes below its length. */
  readonly configuredReplicas: readonly string[]
  readonly events: ReplicasEvents
  /** The deadline of single reads on replicas, and the one timer that watches them; off: none. */
  readonly readDeadline: ReadDeadlineOptions | undefined
  readonly deadlineWatch: DeadlineWatch | undefined
  /** When replica reads are hedged, and the budget of hedges; off: none. */
  readonly hedging: Hedging | undefined
  /** The slots of fallback reads on the primary (see `FallbackConfig`); unlimited: none. */
  readonly fallbackBudget: FallbackBudget | undefined
  readonly #balancer: Balancer
  readonly #classifyOptions: ClassifyOptions
  readonly #fallback: FallbackPolicy
  readonly #localZone: string | undefined
  readonly #primaryFailureListeners = new Set<() => void>()
  #nodes: readonly DatabaseNode[]
  #available: readonly DatabaseNode[] = []
  #primaries: readonly DatabaseNode[] = []
  #countsFallback = false

  constructor(
    primary: DatabaseNode,
    replicas: readonly DatabaseNode[],
    options: {
      readonly balancer: Balancer
      readonly classifyOptions: ClassifyOptions
      readonly fallback: ResolvedFallback
      readonly localZone?: string | undefined
      readonly events: ReplicasEvents
      readonly readDeadline?: ReadDeadlineOptions | undefined
      readonly hedge?: HedgeOptions | undefined
    },
  ) {
    this.#nodes = Object.freeze([primary, ...replicas])
    this.configuredReplicas = Object.freeze(replicas.map((replica) => replica.name))
    this.#balancer = options.balancer
    this.#classifyOptions = options.classifyOptions
    this.#fallback = options.fallback.policy
    this.#localZone = options.localZone
    const { maxConcurrent, waitMs } = options.fallback
    this.fallbackBudget =
      maxConcurrent === Number.POSITIVE_INFINITY
        ? undefined
        : new FallbackBudget(
            maxConcurrent,
            waitMs,
            () =>
              new NoReplicaAvailableError(
                this.#replicaNames().filter(
                  (name) => !this.#available.some((node) => node.name === name),
                ),
                maxConcurrent,
              ),
          )
    this.events = options.events
    this.readDeadline = options.readDeadline
    // A tick of a quarter of the shortest deadline: a deadline fires at most that much off.
    this.deadlineWatch =
      options.readDeadline === undefined
        ? undefined
        : new DeadlineWatch(Math.max(5, options.readDeadline.minMs / 4))
    this.hedging = options.hedge === undefined ? undefined : new Hedging(options.hedge)
    this.refresh()
  }

  /**
   * Every node now: the configured primary first, then the replicas in config order, then the
   * nodes that joined, in the order they did (a configured node that left and came back is
   * among those).
   */
  get nodes(): readonly DatabaseNode[] {
    return this.#nodes
  }

  /**
   * The replicas that serve reads now: up, in the replica role, not too far behind, and not
   * suspect unless all of those are.
   */
  get available(): readonly DatabaseNode[] {
    return this.#available
  }

  /**
   * Whether a single read on the primary, unasked, is a fallback read that needs a slot of the
   * fallback budget: there is a budget, and replicas that could have served it (with no replica
   * at all, every read belongs on the primary).
   */
  get countsFallback(): boolean {
    return this.#countsFallback
  }

  /**
   * The node that takes writes. Throws `NoPrimaryError` when none is up in the primary role, and
   * `SplitBrainError` when several are.
   */
  get primary(): DatabaseNode {
    const primaries = this.#primaries
    if (primaries.length === 1) {
      return primaries[0] as DatabaseNode
    }
    if (primaries.length === 0) {
      throw new NoPrimaryError()
    }
    throw new SplitBrainError(primaries.map((node) => node.name))
  }

  /** Routes to a node that joined, from now on. */
  add(node: DatabaseNode): void {
    this.#nodes = Object.freeze([...this.#nodes, node])
    this.refresh()
  }

  /** Routes nothing more to the node; returns whether it was routed to. */
  remove(node: DatabaseNode): boolean {
    if (!this.#nodes.includes(node)) {
      return false
    }
    this.#nodes = Object.freeze(this.#nodes.filter((each) => each !== node))
    this.refresh()
    return true
  }

  /** Re-reads the nodes' roles, health and lag; called whenever one of them changes. */
  refresh(): void {
    const serving = this.#nodes.filter(
      (node) => node.role === 'replica' && node.health.isUp && node.lag?.excluded !== true,
    )
    // A suspect replica (stopped answering, being probed) may only be slow: it serves still
    // when no other replica can.
    const trusted = serving.filter((node) => !node.health.isSuspect)
    this.#available = Object.freeze(trusted.length > 0 ? trusted : serving)
    // A primary that is down does not count: a replica promoted meanwhile is not a split brain.
    this.#primaries = Object.freeze(
      this.#nodes.filter((node) => node.role === 'primary' && node.health.isUp),
    )
    this.#countsFallback = this.fallbackBudget !== undefined && this.#nodes.length > 1
  }

  /**
   * Calls `listener` when the primary fails with a connection-level error, until the returned
   * function is called.
   */
  onPrimaryFailure(listener: () => void): () => void {
    const own = () => listener()
    this.#primaryFailureListeners.add(own)
    return () => {
      this.#primaryFailureListeners.delete(own)
    }
  }

  /** A node in the primary role failed with a connection-level error. */
  notePrimaryFailure(): void {
    for (const listener of this.#primaryFailureListeners) {
      listener()
    }
  }

  /**
   * The balancer's pick among some of the available replicas (never empty); with a local zone,
   * among the local ones with room if any, else among those of any zone with room, else among
   * them all.
   */
  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    return this.#balancer.pick(
      this.#localZone === undefined ? candidates : preferLocal(candidates, this.#localZone),
    )
  }

  /** Whether the query may run on a hot standby, and why not when it may not. */
  classify(query: CompiledQuery): QueryClassification {
    const options = this.#classifyOptions
    return (
      TimedCompiledQuery.classificationOf(query, options) ?? classifyQuery(query.query, options)
    )
  }

  /**
   * The node for a single query: for a read with no view, a replica that is up (or the primary
   * per the fallback policy); for anything else the primary; for a view, its target.
   */
  nodeForQuery(classification: QueryClassification, target: RouteTarget | undefined): DatabaseNode {
    if (target !== undefined) {
      return this.nodeForTarget(target)
    }
    return classification.access === 'read' ? this.#readNode() : this.primary
  }

  /** The node a view asked for. An index was validated when the view was made. */
  nodeForTarget(target: RouteTarget): DatabaseNode {
    if (target.kind === 'primary' || this.#nodes.length === 1) {
      return this.primary
    }
    if (target.index !== undefined) {
      const node = this.#nodes.find((each) => each.index === target.index)
      if (node === undefined) {
        // The configured replica left the cluster and has not come back.
        throw new NoReplicaAvailableError([this.configuredReplicas[target.index] ?? ''])
      }
      return node
    }
    if (this.#available.length === 0) {
      throw new NoReplicaAvailableError(this.#replicaNames())
    }
    return this.pick(this.#available)
  }

  /**
   * Where a failed single read goes next, or `undefined` when it must not be retried: only reads
   * that failed on a replica with a connection-level error, or because its pool had no free
   * connection in time (saturated: the replica stays up, the read just goes elsewhere), never
   * one pinned to a replica index. A replica that failed was marked down where it failed. With
   * `atLeast` (read-your-writes), only a replica known to have replayed that position may take
   * the read; else the primary does.
   */
  nextAfterFailure(
    failed: DatabaseNode,
    error: unknown,
    classification: QueryClassification,
    target: RouteTarget | undefined,
    tried: DatabaseNode[],
    atLeast?: bigint,
  ): DatabaseNode | undefined {
    if (failed.role !== 'replica' || failed.health.failureKind(error) === 'query') {
      return undefined
    }
    tried.push(failed)
    if (classification.access !== 'read' || this.#fallback === 'none') {
      return undefined
    }
    if (target !== undefined && (target.kind !== 'replica' || target.index !== undefined)) {
      return undefined
    }
    if (this.#fallback === 'replicas-then-primary') {
      const left = this.#available.filter(
        (replica) =>
          !tried.includes(replica) &&
          (atLeast === undefined || (replica.replayed ?? -1n) >= atLeast),
      )
      if (left.length > 0) {
        return this.pick(left)
      }
    }
    return target === undefined ? this.primary : undefined
  }

  /**
   * Where a single read that `stuck` has not answered in time goes too, or `undefined` when
   * nowhere: another available replica (one known to have replayed `atLeast`, with
   * read-your-writes), else the primary when the fallback policy and the view allow it. A read
   * pinned to a replica index never moves.
   */
  alternativeTo(
    stuck: DatabaseNode,
    target: RouteTarget | undefined,
    atLeast: bigint | undefined,
  ): DatabaseNode | undefined {
    if (
      this.#fallback === 'none' ||
      (target !== undefined && (target.kind !== 'replica' || target.index !== undefined))
    ) {
      return undefined
    }
    if (this.#fallback === 'replicas-then-primary') {
      const left = this.#available.filter(
        (replica) =>
          replica !== stuck && (atLeast === undefined || (replica.replayed ?? -1n) >= atLeast),
      )
      if (left.length > 0) {
        return this.pick(left)
      }
    }
    return target === undefined && this.#primaries.length === 1 ? this.#primaries[0] : undefined
  }

  /**
   * Where a hedge copy of a single read that `slow` has not answered yet goes, or `undefined`:
   * another available replica (one known to have replayed `atLeast`, with read-your-writes),
   * never the primary. A read pinned to a replica index is never hedged.
   */
  hedgeTo(
    slow: DatabaseNode,
    target: RouteTarget | undefined,
    atLeast: bigint | undefined,
  ): DatabaseNode | undefined {
    if (target !== undefined && (target.kind !== 'replica' || target.index !== undefined)) {
      return undefined
    }
    const left = this.#available.filter(
      (replica) =>
        replica !== slow && (atLeast === undefined || (replica.replayed ?? -1n) >= atLeast),
    )
    return left.length === 0 ? undefined : this.pick(left)
  }

  /** Whether a block running on the node may take a query routed to the target. */
  serves(node: DatabaseNode, target: RouteTarget): boolean {
    if (target.kind === 'primary' || this.#nodes.length === 1) {
      return node.role === 'primary'
    }
    return node.role === 'replica' && (target.index === undefined || target.index === node.index)
  }

  /** Refuses, before anything is sent, a query that writes on a replica. */
  assertRunnableOn(node: DatabaseNode, query: CompiledQuery): void {
    if (node.role === 'primary') {
      return
    }
    this.assertReadOn(node, this.classify(query))
  }

  /** {@link assertRunnableOn} for a query already classified. */
  assertReadOn(node: DatabaseNode, classification: QueryClassification): void {
    if (node.role === 'replica' && classification.access === 'write') {
      throw new ReplicaWriteError(node.name, classification.reason, classification.detail)
    }
  }

  #readNode(): DatabaseNode {
    if (this.#available.length > 0) {
      return this.pick(this.#available)
    }
    if (this.#nodes.length === 1 || this.#fallback !== 'none') {
      return this.primary
    }
    throw new NoReplicaAvailableError(this.#replicaNames())
  }

  // The nodes that could have served a read: every one but the primary.
  #replicaNames(): string[] {
    return this.#nodes.filter((node) => !this.#primaries.includes(node)).map((node) => node.name)
  }
}

// A replica with as many queries in flight as its pool has connections is full: one more would
// wait in the pool's queue, while a replica of another zone may have a free connection.
const hasRoom = (node: DatabaseNode) => node.stats.inFlight < node.poolSize

function preferLocal(candidates: readonly DatabaseNode[], zone: string): readonly DatabaseNode[] {
  let local = 0
  let localWithRoom = 0
  let withRoom = 0
  for (const node of candidates) {
    const room = hasRoom(node)
    if (room) withRoom++
    if (node.zone === zone) {
      local++
      if (room) localWithRoom++
    }
  }
  if (localWithRoom > 0) {
    return local === candidates.length && localWithRoom === local
      ? candidates
      : candidates.filter((node) => node.zone === zone && hasRoom(node))
  }
  if (withRoom > 0 && withRoom < candidates.length) {
    return candidates.filter(hasRoom)
  }
  return candidates
}

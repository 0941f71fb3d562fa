import { unknownNameMessage } from '../config/check-options.js'
import { describeValue } from '../config/describe-value.js'
import type { ReadYourWritesMode } from '../consistency/read-your-writes-mode.js'
import { InvalidArgumentError } from '../errors.js'
import type { RouteReason } from '../routing/query-classification.js'

/**
 * A query was sent to a node. `reason` is the routing rule that chose the node's role:
 * the query's own kind (`select`, `row-lock`, `statement`, …), `pinned` (inside a transaction or
 * `connection()` block), `view` (`onPrimary()` / `onReplica()`), or `read-your-writes` (a read
 * sent to the primary because no replica has its scope's last write).
 *
 * ```ts
 * replicationOf(db).on('route', ({ node, role, reason }) => debug(`${reason} -> ${node} (${role})`))
 * ```
 */
export interface RouteEvent {
  /** The name of the node the query was sent to. */
  readonly node: string
  /** That node's role when the query was sent. */
  readonly role: 'primary' | 'replica'
  /** The rule that chose the role (see above). */
  readonly reason: RouteReason | 'pinned' | 'view' | 'read-your-writes'
}

/**
 * A node failed with a connection-level error and gets no reads until a probe succeeds.
 *
 * ```ts
 * replicationOf(db).on('node-down', ({ node, error }) => log.warn(`${node} is down: ${error}`))
 * ```
 */
export interface NodeDownEvent {
  /** The name of the node marked down. */
  readonly node: string
  /** The error's message, with any password in a connection string masked. */
  readonly error: string
}

/**
 * A node that was down answered a probe and serves reads again.
 *
 * ```ts
 * replicationOf(db).on('node-up', ({ node, downForMs }) => log.info(`${node} is back after ${downForMs} ms`))
 * ```
 */
export interface NodeUpEvent {
  /** The name of the node back in rotation. */
  readonly node: string
  /** How long it was down, in ms. */
  readonly downForMs: number
}

/**
 * A server joined the cluster (a monitor such as `patroniTopology()` found it) and the dialect
 * built a node for it with its node factory: it gets queries from now on, as its role and lag
 * allow.
 *
 * ```ts
 * replicationOf(db).on('node-added', ({ node }) => log.info(`${node} joined`))
 * ```
 */
export interface NodeAddedEvent {
  /** The name of the node added: the member's name. */
  readonly node: string
}

/**
 * A server left the cluster: its node gets no new queries, those under way finish, then its
 * driver (its pool) is destroyed. If it comes back it is added again, as a new node.
 *
 * ```ts
 * replicationOf(db).on('node-removed', ({ node }) => log.info(`${node} left`))
 * ```
 */
export interface NodeRemovedEvent {
  /** The name of the node taken out of rotation. */
  readonly node: string
}

/**
 * A read failed on `from` and is retried on `to`.
 *
 * ```ts
 * replicationOf(db).on('fallback', ({ from, to }) => metrics.increment('db.read_fallback', { from, to }))
 * ```
 */
export interface FallbackEvent {
  /** The name of the node the read failed on. */
  readonly from: string
  /** The name of the node the read is retried on. */
  readonly to: string
  /** Why it failed on `from`: the error's message, passwords masked. */
  readonly error: string
}

/**
 * A read on `from` had not answered after the hedge delay and a copy went to `to` (see
 * `HedgeConfig`); sent once the read has its answer: `won` when `to` answered first.
 *
 * ```ts
 * replicationOf(db).on('hedge', ({ from, to, won }) => metrics.increment('db.hedge', { from, to, won }))
 * ```
 */
export interface HedgeEvent {
  /** The replica the read was first sent to. */
  readonly from: string
  /** The replica the hedge copy went to. */
  readonly to: string
  /** Whether the hedge copy answered first. */
  readonly won: boolean
  /** How long the read waited before the copy was sent, in ms. */
  readonly afterMs: number
}

/**
 * A monitor found that a node changed role (a promotion, a demotion).
 *
 * ```ts
 * replicationOf(db).on('role-change', ({ node, from, to }) => log.warn(`${node}: ${from} -> ${to}`))
 * ```
 */
export interface RoleChangeEvent {
  /** The name of the node whose role changed. */
  readonly node: string
  /** The role it had. */
  readonly from: 'primary' | 'replica'
  /** The role it has now. */
  readonly to: 'primary' | 'replica'
}

/**
 * A replica crossed the lag bound: it stops (`excluded`) or resumes getting reads.
 *
 * ```ts
 * replicationOf(db).on('lag', ({ node, seconds, excluded }) => log.info(`${node} ${seconds} s behind`, { excluded }))
 * ```
 */
export interface LagEvent {
  /** The name of the replica. */
  readonly node: string
  /** WAL bytes it has not replayed yet. */
  readonly bytes: number
  /**
   * Seconds of commits it has not replayed yet (see `MaxReplicationLag`); always 0 with
   * `patroniTopology()`, Patroni reporting bytes only.
   */
  readonly seconds: number
  /** `true`: beyond the bound, it gets no reads; `false`: back within it, it gets reads again. */
  readonly excluded: boolean
}

/**
 * Several nodes claim to be the primary; writes are refused until only one does.
 *
 * ```ts
 * replicationOf(db).on('split-brain', ({ nodes }) => alert(`writes refused: ${nodes.join(', ')} claim the primary`))
 * ```
 */
export interface SplitBrainEvent {
  /** The names of the nodes that claim to be the primary. */
  readonly nodes: readonly string[]
}

/**
 * Read-your-writes did something worth knowing: a token was not used (`token-rejected`, with
 * why), a token's position was lowered to what exists (`token-clamped`, a token from before a
 * failover), a read went to the primary because no replica had caught up in time
 * (`read-on-primary`), or a read that should have gone to the primary went to a replica because
 * no primary was up (`read-unconfirmed`: it may miss the scope's last writes).
 *
 * ```ts
 * replicationOf(db).on('consistency', ({ kind, detail }) => log.debug(`read-your-writes ${kind}: ${detail}`))
 * ```
 */
export interface ConsistencyEvent {
  /** What happened (see above). */
  readonly kind: 'token-rejected' | 'token-clamped' | 'read-on-primary' | 'read-unconfirmed'
  /** The details in words: why a token was refused, how long a read waited, … */
  readonly detail: string
}

/**
 * Once, when the instance starts (its first query): the read-your-writes mode it uses and why.
 * See {@link ReadYourWritesMode}.
 *
 * ```ts
 * replicationOf(db).on('read-your-writes-mode', ({ mode, reason }) => log.info(`read-your-writes: ${mode} (${reason})`))
 * ```
 */
export type ReadYourWritesModeEvent = ReadYourWritesMode

/**
 * The events of a replicated Kysely instance, by name.
 *
 * ```ts
 * replicationOf(db).on('node-down', (event) => logger.warn(`${event.node} is down: ${event.error}`))
 * ```
 */
export interface ReplicasEventMap {
  /** Every query sent to a node. Emitted on the hot path: keep the listener cheap. */
  route: RouteEvent
  /** A node was marked down after a connection-level failure. */
  'node-down': NodeDownEvent
  /** A node that was down answered a probe and serves again. */
  'node-up': NodeUpEvent
  /** A server joined the cluster and its node was added. */
  'node-added': NodeAddedEvent
  /** A server left the cluster: its node is drained, then closed. */
  'node-removed': NodeRemovedEvent
  /** A failed read is retried on another node. */
  fallback: FallbackEvent
  /** A hedged read got its answer; a copy had gone to another replica. */
  hedge: HedgeEvent
  /** A monitor found a promotion or a demotion. */
  'role-change': RoleChangeEvent
  /** A replica crossed the monitor's lag bound, one way or the other. */
  lag: LagEvent
  /** Several nodes claim the primary role; writes are refused. */
  'split-brain': SplitBrainEvent
  /** Read-your-writes used a fallback or refused a token. */
  consistency: ConsistencyEvent
  /** Once, at the first query: the read-your-writes mode in use and why. */
  'read-your-writes-mode': ReadYourWritesModeEvent
}

/**
 * A listener of one event.
 *
 * ```ts
 * const onDown: ReplicasListener<'node-down'> = ({ node }) => log.warn(`${node} is down`)
 * replicationOf(db).on('node-down', onDown)
 * replicationOf(db).off('node-down', onDown)
 * ```
 */
export type ReplicasListener<K extends keyof ReplicasEventMap> = (
  event: ReplicasEventMap[K],
) => void

type Listeners = { [K in keyof ReplicasEventMap]: Array<ReplicasListener<K>> }

// Exhaustive: an event added to the map fails the build here until it is listed.
const EVENT_NAMES = Object.freeze(
  Object.keys({
    route: true,
    'node-down': true,
    'node-up': true,
    'node-added': true,
    'node-removed': true,
    fallback: true,
    hedge: true,
    'role-change': true,
    lag: true,
    'split-brain': true,
    consistency: true,
    'read-your-writes-mode': true,
  } satisfies Record<keyof ReplicasEventMap, true>),
)

/**
 * The event bus of a replicated Kysely instance, as a {@link NodeMonitor} sees it
 * (`context.events`): it may listen, and emit what it discovers (`role-change`, `lag`,
 * `split-brain`, `node-down`). Applications subscribe through {@link Replication.on} instead.
 * Emitting with nobody listening costs one property read, so the hot path checks
 * {@link ReplicasEvents.listening} before building an event object.
 *
 * ```ts
 * const monitor: NodeMonitorFactory = ({ events }) => ({
 *   async init() {
 *     events.on('node-up', ({ node }) => console.log(`${node} is back`))
 *     events.emit('split-brain', { nodes: ['db-a', 'db-b'] }) // what the monitor found
 *   },
 *   async close() {},
 * })
 * ```
 */
export class ReplicasEvents {
  readonly #listeners: Listeners = {
    route: [],
    'node-down': [],
    'node-up': [],
    'node-added': [],
    'node-removed': [],
    fallback: [],
    hedge: [],
    'role-change': [],
    lag: [],
    'split-brain': [],
    consistency: [],
    'read-your-writes-mode': [],
  }

  /** Adds a listener of `name`; an unknown name or a listener that is no function throws. */
  on<K extends keyof ReplicasEventMap>(name: K, listener: ReplicasListener<K>): void {
    this.#checked(name, listener, 'on').push(listener)
  }

  /** Removes a listener given to {@link on}; one never added is ignored. */
  off<K extends keyof ReplicasEventMap>(name: K, listener: ReplicasListener<K>): void {
    const listeners = this.#checked(name, listener, 'off')
    const index = listeners.indexOf(listener)
    if (index !== -1) {
      listeners.splice(index, 1)
    }
  }

  // The listeners of `name`, once the arguments of on()/off() are known to be usable: the types
  // do not reach JavaScript callers, nor a name built at run time.
  #checked<K extends keyof ReplicasEventMap>(
    name: K,
    listener: unknown,
    method: 'on' | 'off',
  ): Array<ReplicasListener<K>> {
    if (typeof name !== 'string' || !Object.hasOwn(this.#listeners, name)) {
      throw new InvalidArgumentError(
        unknownNameMessage(
          `replicationOf(db).${method}(): there is no event`,
          String(name),
          EVENT_NAMES,
          'events',
        ),
      )
    }
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError(
        `replicationOf(db).${method}('${name}', listener): the listener must be a function (event) => void, got ${describeValue(listener)}.`,
      )
    }
    return this.#listeners[name]
  }

  /** Whether `name` has a listener: check it before building an event that costs something. */
  listening(name: keyof ReplicasEventMap): boolean {
    return this.#listeners[name].length !== 0
  }

  /**
   * Calls every listener of `name` with `event`, in the order they were added. A listener that
   * throws is logged (`console.error`) and the others still run; the emitter never sees it.
   */
  emit<K extends keyof ReplicasEventMap>(name: K, event: ReplicasEventMap[K]): void {
    for (const listener of this.#listeners[name]) {
      try {
        listener(event)
      } catch (error) {
        // A failing listener must neither fail the query that triggered it nor go unseen.
        console.error(`kysely-replicas: a '${name}' listener threw`, error)
      }
    }
  }
}

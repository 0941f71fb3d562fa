import type { ReadYourWritesMode } from '../consistency/read-your-writes-mode.js'
import type { RouteReason } from '../routing/query-classification.js'

/**
 * A query was sent to a node. `reason` is the routing rule that chose the node's role:
 * the query's own kind (`select`, `row-lock`, `statement`, …), `pinned` (inside a transaction or
 * `connection()` block), `view` (`onPrimary()` / `onReplica()`), or `read-your-writes` (a read
 * sent to the primary because no replica has its scope's last write).
 */
export interface RouteEvent {
  readonly node: string
  readonly role: 'primary' | 'replica'
  readonly reason: RouteReason | 'pinned' | 'view' | 'read-your-writes'
}

/** A node failed with a connection-level error and gets no reads until a probe succeeds. */
export interface NodeDownEvent {
  readonly node: string
  /** The error's message, with any password in a connection string masked. */
  readonly error: string
}

/** A node that was down answered a probe and serves reads again. */
export interface NodeUpEvent {
  readonly node: string
  readonly downForMs: number
}

/** A read failed on `from` and is retried on `to`. */
export interface FallbackEvent {
  readonly from: string
  readonly to: string
  readonly error: string
}

/** A monitor found that a node changed role (a promotion, a demotion). */
export interface RoleChangeEvent {
  readonly node: string
  readonly from: 'primary' | 'replica'
  readonly to: 'primary' | 'replica'
}

/** A replica crossed the lag bound: it stops (`excluded`) or resumes getting reads. */
export interface LagEvent {
  readonly node: string
  readonly bytes: number
  readonly seconds: number
  readonly excluded: boolean
}

/** Several nodes claim to be the primary; writes are refused until only one does. */
export interface SplitBrainEvent {
  readonly nodes: readonly string[]
}

/**
 * Read-your-writes did something worth knowing: a token was not used (`token-rejected`, with
 * why), a token's position was lowered to what exists (`token-clamped`, a token from before a
 * failover), or a read went to the primary because no replica had caught up in time
 * (`read-on-primary`).
 */
export interface ConsistencyEvent {
  readonly kind: 'token-rejected' | 'token-clamped' | 'read-on-primary'
  readonly detail: string
}

/**
 * Once, when the instance starts (its first query): the read-your-writes mode it uses and why.
 * See {@link ReadYourWritesMode}.
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
  route: RouteEvent
  'node-down': NodeDownEvent
  'node-up': NodeUpEvent
  fallback: FallbackEvent
  'role-change': RoleChangeEvent
  lag: LagEvent
  'split-brain': SplitBrainEvent
  consistency: ConsistencyEvent
  'read-your-writes-mode': ReadYourWritesModeEvent
}

/** A listener of one event. */
export type ReplicasListener<K extends keyof ReplicasEventMap> = (
  event: ReplicasEventMap[K],
) => void

type Listeners = { [K in keyof ReplicasEventMap]: Array<ReplicasListener<K>> }

/**
 * Listeners by event. Emitting with nobody listening costs one property read, so the hot path
 * checks {@link ReplicasEvents.listening} before building an event object.
 */
export class ReplicasEvents {
  readonly #listeners: Listeners = {
    route: [],
    'node-down': [],
    'node-up': [],
    fallback: [],
    'role-change': [],
    lag: [],
    'split-brain': [],
    consistency: [],
    'read-your-writes-mode': [],
  }

  on<K extends keyof ReplicasEventMap>(name: K, listener: ReplicasListener<K>): void {
    this.#listeners[name].push(listener)
  }

  off<K extends keyof ReplicasEventMap>(name: K, listener: ReplicasListener<K>): void {
    const listeners = this.#listeners[name]
    const index = listeners.indexOf(listener)
    if (index !== -1) {
      listeners.splice(index, 1)
    }
  }

  listening(name: keyof ReplicasEventMap): boolean {
    return this.#listeners[name].length !== 0
  }

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

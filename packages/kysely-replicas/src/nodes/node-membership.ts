import type { Dialect } from 'kysely'
import { describeError } from '../events/describe-error.js'
import { isDialect } from '../replicated-dialect-config.js'
import type { NodeRouter } from '../routing/node-router.js'
import type { DatabaseNode } from './database-node.js'
import type { MemberAddress, NodeFactory } from './node-factory.js'

/** How often a leaving node's queries under way are counted, in ms. */
const DRAIN_POLL_MS = 25
/**
 * How long a leaving node's queries may still run before its driver is destroyed anyway, in
 * ms: a query stuck on a server that is gone must not keep its pool forever.
 */
const DRAIN_LIMIT_MS = 60_000

/** What {@link NodeMembership} needs to build a node. */
export interface MembershipOptions {
  /** The node factory of the config; without one the membership is fixed. */
  readonly factory: NodeFactory | undefined
  /** Makes the node of a dialect (the dialect's own node settings: health, stats, events). */
  readonly build: (name: string, dialect: Dialect, index: number) => DatabaseNode
  /** `onReplica(index)` indexes of the configured replicas, by name, so one that comes back keeps its own. */
  readonly configuredIndexes: ReadonlyMap<string, number>
}

/**
 * Adds and removes the nodes of one driver while it runs, as its monitor finds servers joining
 * and leaving the cluster. A node that joins is built by the node factory and its driver
 * started before the router sends it anything; a node that leaves gets nothing new at once,
 * its queries under way finish, then its driver is destroyed. Nodes that join get the next
 * free indexes (a configured replica that comes back gets its own again).
 */
export class NodeMembership {
  readonly #router: NodeRouter
  readonly #options: MembershipOptions
  readonly #adding = new Map<string, Promise<DatabaseNode | undefined>>()
  readonly #draining = new Set<Promise<void>>()
  #confirm: ((node: DatabaseNode) => Promise<void>) | undefined
  #nextIndex: number
  #closed = false

  constructor(router: NodeRouter, options: MembershipOptions) {
    this.#router = router
    this.#options = options
    this.#nextIndex = Math.max(-1, ...options.configuredIndexes.values()) + 1
  }

  /** Whether nodes can be added: a node factory was given. */
  get canAdd(): boolean {
    return this.#options.factory !== undefined
  }

  /** Has every node added from now on confirmed by the monitor when a probe brings it back. */
  confirmWith(confirm: (node: DatabaseNode) => Promise<void>): void {
    this.#confirm = confirm
    for (const node of this.#router.nodes) {
      node.health.confirmWith(() => confirm(node))
    }
  }

  /** See `MonitorContext.addNode`. */
  add(member: MemberAddress): Promise<DatabaseNode | undefined> {
    const existing = this.#router.nodes.find((node) => node.name === member.name)
    if (existing !== undefined) {
      return Promise.resolve(existing)
    }
    let adding = this.#adding.get(member.name)
    if (adding === undefined) {
      adding = this.#add(member).finally(() => this.#adding.delete(member.name))
      this.#adding.set(member.name, adding)
    }
    return adding
  }

  async #add(member: MemberAddress): Promise<DatabaseNode | undefined> {
    const { factory, build, configuredIndexes } = this.#options
    if (factory === undefined || this.#closed) {
      return undefined
    }
    let node: DatabaseNode
    try {
      const dialect = factory(member)
      if (!isDialect(dialect)) {
        throw new TypeError('nodeFactory must return a Kysely Dialect')
      }
      const index = configuredIndexes.get(member.name) ?? this.#nextIndex++
      node = build(member.name, dialect, index)
    } catch (error) {
      warn(`cannot join: its node factory failed`, member.name, error)
      return undefined
    }
    try {
      await node.driver.init()
    } catch (error) {
      warn(`cannot join: its driver did not start`, member.name, error)
      await this.#destroy(node)
      return undefined
    }
    if (this.#closed) {
      await this.#destroy(node)
      return undefined
    }
    // No reads until the monitor has looked at it (state, lag, timeline).
    node.setLag(Object.freeze({ bytes: 0, seconds: 0, excluded: true }))
    const confirm = this.#confirm
    if (confirm !== undefined) {
      node.health.confirmWith(() => confirm(node))
    }
    this.#router.add(node)
    this.#router.events.emit('node-added', { node: node.name })
    return node
  }

  /** See `MonitorContext.removeNode`. */
  remove(node: DatabaseNode): void {
    if (!this.#router.remove(node)) {
      return
    }
    node.health.close()
    this.#router.events.emit('node-removed', { node: node.name })
    const draining = this.#drain(node).finally(() => this.#draining.delete(draining))
    this.#draining.add(draining)
  }

  /** Adds nothing more, and waits for the nodes that are leaving to be drained and destroyed. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.allSettled([...this.#adding.values()])
    await Promise.allSettled([...this.#draining])
  }

  async #drain(node: DatabaseNode): Promise<void> {
    const limit = Date.now() + DRAIN_LIMIT_MS
    while (node.stats.inFlight > 0 && Date.now() < limit) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS).unref?.())
    }
    await this.#destroy(node)
  }

  async #destroy(node: DatabaseNode): Promise<void> {
    node.health.close()
    try {
      await node.driver.destroy()
    } catch (error) {
      warn('left, but its driver failed to close', node.name, error)
    }
  }
}

function warn(what: string, name: string, error: unknown): void {
  console.warn(`kysely-replicas: node "${name}" ${what} (${describeError(error)}).`)
}

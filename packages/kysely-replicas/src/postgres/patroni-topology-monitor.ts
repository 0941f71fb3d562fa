import { describeError } from '../events/describe-error.js'
import type { LagEvent, RoleChangeEvent } from '../events/replicas-events.js'
import type { DatabaseNode, NodeRole } from '../nodes/database-node.js'
import { LagGate } from '../topology/lag-gate.js'
import type { MonitorContext, NodeMonitor } from '../topology/node-monitor.js'
import { RoundSchedule } from '../topology/round-schedule.js'
import { type PatroniClusterView, readPatroniCluster } from './patroni-cluster-view.js'
import type { PatroniOptions } from './patroni-topology-options.js'
import { PostgresTopologyMonitor } from './postgres-topology-monitor.js'
import { checkNode, driverCheckPath, judgeCheckFailure } from './topology-check.js'

/** Patroni states of a replica that serves: 3.0 says `running`, later versions `streaming`. */
const SERVING_STATES = new Set(['running', 'streaming'])
/** How often a leader Patroni has named is asked whether its promotion is done, in ms. */
const PROMOTION_POLL_MS = 20

/**
 * The monitor `patroniTopology()` makes: reads Patroni's `/cluster` every `intervalMs` (every
 * `outageIntervalMs` while no node takes writes, and out of turn when the primary fails or a node
 * comes back), and sets each node's role and lag from it. Nodes are matched to members by name;
 * with a node factory, a member the dialect has no node for gets one, and a node whose member is
 * no longer listed is removed (drained). When the primary fails with a connection error, one SQL
 * check of it decides: unreachable, it is marked down and writes fail fast with `NoPrimaryError`
 * until Patroni names a leader that answers, as with `postgresTopology()`.
 * While no URL answers, the SQL checks of `postgresTopology()` run instead, until one does.
 */
export class PatroniTopologyMonitor implements NodeMonitor {
  readonly #context: MonitorContext
  readonly #options: PatroniOptions
  readonly #rounds = new RoundSchedule({
    round: () => this.#round(),
    intervalMs: () => (this.#writable ? this.#options.intervalMs : this.#options.outageIntervalMs),
    errorMessage: 'kysely-replicas: the Patroni topology read failed',
  })
  readonly #onNodeUp = () => this.#rounds.request()
  /**
   * No reads until Patroni lists them on the leader's timeline: former leaders (they may hold
   * writes the new leader never had until rewound), and members that joined (one may be a
   * former leader coming back).
   */
  readonly #unproven = new Set<DatabaseNode>()
  readonly #lagGate: LagGate
  #fallback: PostgresTopologyMonitor | undefined
  #urlIndex = 0
  #apiDown = false
  #started: Promise<void> | undefined
  /** Removes the primary-failure listener, on close. */
  #offPrimaryFailure: (() => void) | undefined
  #writable = true
  /** The primary failed with a connection error since the last round: check it before trusting it. */
  #primaryFailed = false

  constructor(context: MonitorContext, options: PatroniOptions) {
    this.#context = context
    this.#options = options
    this.#lagGate = new LagGate(options.fallback.lag)
  }

  /** Reads Patroni's view (or, without it, checks every node), so roles are known first. */
  init(): Promise<void> {
    this.#started ??= this.#start()
    return this.#started
  }

  /** A node back from down: reads the view again before it serves. */
  confirm(): Promise<void> {
    return this.#rounds.run()
  }

  /** Stops the timer, waits for a read under way, and closes the SQL fallback if it runs. */
  async close(): Promise<void> {
    this.#rounds.close()
    this.#context.events.off('node-up', this.#onNodeUp)
    this.#offPrimaryFailure?.()
    await this.#rounds.running
    await this.#fallback?.close()
    this.#fallback = undefined
  }

  async #start(): Promise<void> {
    this.#offPrimaryFailure = this.#context.onPrimaryFailure(() => {
      this.#primaryFailed = true
      this.#rounds.request()
    })
    this.#context.events.on('node-up', this.#onNodeUp)
    await this.#rounds.run()
  }

  async #round(): Promise<void> {
    const { urls, timeoutMs } = this.#options
    const primaryFailed = this.#primaryFailed
    this.#primaryFailed = false
    let view: PatroniClusterView
    try {
      const read = await readPatroniCluster(urls, this.#urlIndex, timeoutMs)
      this.#urlIndex = read.index
      view = read.view
    } catch (error) {
      await this.#useFallback(error)
      return
    }
    if (this.#rounds.closed) {
      return
    }
    await this.#leaveFallback()
    await this.#apply(view, primaryFailed)
  }

  /** No API answers: the SQL checks decide roles and lag until one does. */
  async #useFallback(error: unknown): Promise<void> {
    this.#writable = false
    if (!this.#apiDown) {
      this.#apiDown = true
      console.warn(
        `kysely-replicas: no Patroni REST API answers (${describeError(error)}); checking the nodes with SQL until one does.`,
      )
    }
    if (this.#fallback === undefined && !this.#rounds.closed) {
      this.#fallback = new PostgresTopologyMonitor(this.#context, this.#options.fallback)
      await this.#fallback.init()
    }
    this.#writable = this.#context.nodes.some((node) => node.role === 'primary' && node.health.isUp)
  }

  async #leaveFallback(): Promise<void> {
    this.#apiDown = false
    const fallback = this.#fallback
    this.#fallback = undefined
    await fallback?.close()
  }

  async #apply(view: PatroniClusterView, primaryFailed: boolean): Promise<void> {
    await this.#followMembership(view)
    if (primaryFailed) {
      await this.#checkPrimaries()
    }
    if (this.#rounds.closed) {
      return
    }
    const { nodes, events } = this.#context
    const leader = view.leader === undefined ? undefined : find(nodes, view.leader.name)
    const confirmed = leader !== undefined && (await this.#confirmLeader(leader))
    if (this.#rounds.closed) {
      return
    }

    const roleChanges: RoleChangeEvent[] = []
    const assume = (node: DatabaseNode, role: NodeRole) => {
      const from = node.role
      if (node.assumeRole(role)) {
        roleChanges.push({ node: node.name, from, to: role })
        this.#lagGate.forget(node)
      }
    }
    if (leader !== undefined && confirmed) {
      for (const node of nodes) {
        if (node === leader) {
          this.#unproven.delete(node)
          assume(node, 'primary')
        } else {
          if (node.role === 'primary') this.#unproven.add(node)
          assume(node, 'replica')
        }
      }
    }
    this.#writable = leader !== undefined && confirmed && leader.health.isUp
    if (leader !== undefined && !confirmed) {
      // Patroni names the leader as it promotes it: its server is out of recovery a moment
      // later, so it is checked again soon rather than after a whole outage interval.
      this.#rounds.request()
    }

    const lagChanges: LagEvent[] = []
    for (const node of nodes) {
      if (node.role !== 'replica') continue
      const member = view.members.get(node.name)
      const onLeaderTimeline =
        member?.timeline !== undefined && member.timeline === view.leader?.timeline
      if (onLeaderTimeline && SERVING_STATES.has(member?.state ?? '')) {
        this.#unproven.delete(node)
      }
      const bytes = member?.lagBytes ?? node.lag?.bytes ?? 0
      // The gate sees every measurement, so that its hysteresis follows the lag alone.
      const lagging = this.#lagGate.excludes(node, bytes, 0)
      const excluded =
        member === undefined ||
        !SERVING_STATES.has(member.state) ||
        this.#unproven.has(node) ||
        lagging
      const wasExcluded = node.lag?.excluded === true
      node.setLag(Object.freeze({ bytes, seconds: 0, excluded }))
      if (excluded !== wasExcluded) {
        lagChanges.push({ node: node.name, bytes, seconds: 0, excluded })
      }
    }

    this.#context.refresh()
    for (const change of roleChanges) events.emit('role-change', change)
    for (const change of lagChanges) events.emit('lag', change)
  }

  /**
   * Whether Patroni's leader takes writes: the primary already known does; a new one once its
   * server is out of recovery. Patroni names the leader as it promotes it, and the promotion
   * takes a few hundred ms more: its server is asked every `PROMOTION_POLL_MS` until then
   * (within `timeoutMs`), so that writes go there as soon as it takes them, not a round later.
   */
  async #confirmLeader(leader: DatabaseNode): Promise<boolean> {
    if (leader.role === 'primary') {
      return true
    }
    const { timeoutMs } = this.#options
    const deadline = Date.now() + timeoutMs
    const path = driverCheckPath(leader.driver)
    for (;;) {
      const outcome = await checkNode(leader, path, timeoutMs)
      if (outcome.kind !== 'report') {
        return false
      }
      if (!outcome.report.inRecovery) {
        return true
      }
      if (this.#rounds.closed || Date.now() + PROMOTION_POLL_MS >= deadline) {
        return false
      }
      await new Promise((resolve) => setTimeout(resolve, PROMOTION_POLL_MS))
    }
  }

  /**
   * The primary failed with a connection error: Patroni may list it as leader for a while yet
   * (until its key expires), so one SQL check decides. Unreachable, it is marked down, writes
   * fail fast with `NoPrimaryError`, and its probe (then a round) brings it back.
   */
  async #checkPrimaries(): Promise<void> {
    const primaries = this.#context.nodes.filter(
      (node) => node.role === 'primary' && node.health.isUp,
    )
    await Promise.all(
      primaries.map(async (node) => {
        const outcome = await checkNode(node, driverCheckPath(node.driver), this.#options.timeoutMs)
        if (outcome.kind === 'failed' || outcome.kind === 'timeout') {
          judgeCheckFailure(node, outcome)
        }
      }),
    )
  }

  /**
   * With a node factory, the nodes follow Patroni's members: one listed without a node gets
   * one (no reads until it is seen serving below), one no longer listed is removed and drained.
   * Without, the membership is fixed: an unlisted node only gets no reads.
   */
  async #followMembership(view: PatroniClusterView): Promise<void> {
    const context = this.#context
    if (!context.canAddNodes) {
      return
    }
    for (const node of context.nodes) {
      if (!view.members.has(node.name)) {
        this.#unproven.delete(node)
        context.removeNode(node)
      }
    }
    const known = new Set(context.nodes.map((node) => node.name))
    await Promise.all(
      [...view.members.values()].map(async ({ name, host, port }) => {
        if (known.has(name) || host === undefined || port === undefined) {
          return
        }
        const added = await context.addNode({ name, host, port })
        if (added !== undefined) {
          this.#unproven.add(added)
        }
      }),
    )
  }
}

function find(nodes: readonly DatabaseNode[], name: string): DatabaseNode | undefined {
  return nodes.find((node) => node.name === name)
}

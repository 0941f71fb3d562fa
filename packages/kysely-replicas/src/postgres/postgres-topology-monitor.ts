import { describeError } from '../events/describe-error.js'
import type { LagEvent, RoleChangeEvent } from '../events/replicas-events.js'
import type { DatabaseNode, NodeLag, NodeRole } from '../nodes/database-node.js'
import { LagGate } from '../topology/lag-gate.js'
import type { MonitorContext, NodeMonitor } from '../topology/node-monitor.js'
import { RoundSchedule } from '../topology/round-schedule.js'
import type { OwnCheckPath } from './check-pool.js'
import type { TopologyOptions } from './postgres-topology-options.js'
import {
  type CheckOutcome,
  type CheckPath,
  checkNode,
  driverCheckPath,
  judgeCheckFailure,
  type NodeReport,
} from './topology-check.js'

/** A node that answered this round. */
interface Answer {
  readonly node: DatabaseNode
  readonly report: NodeReport
}

/**
 * The monitor `postgresTopology()` makes: checks every node at once, every `intervalMs` (every
 * `outageIntervalMs` while no node takes writes) and out of turn when the primary fails or a
 * node comes back, one round at a time; sets roles and lag from the answers, then has the router
 * recompute its targets.
 */
export class PostgresTopologyMonitor implements NodeMonitor {
  readonly #context: MonitorContext
  readonly #options: TopologyOptions
  /** When each replica was last seen with everything the primary had (epoch ms). */
  readonly #caughtUpAt = new Map<DatabaseNode, number>()
  readonly #lagGate: LagGate
  /** Nodes whose check error was logged, until they answer again. */
  readonly #warned = new Set<DatabaseNode>()
  readonly #rounds = new RoundSchedule({
    round: () => this.#check(),
    intervalMs: () => (this.#writable ? this.#options.intervalMs : this.#options.outageIntervalMs),
    errorMessage: 'kysely-replicas: the topology check failed',
  })
  readonly #onNodeUp = () => this.#rounds.request()
  readonly #paths = new Map<DatabaseNode, CheckPath>()
  readonly #ownPaths: OwnCheckPath[] = []
  #splitBrain: string | undefined
  #started: Promise<void> | undefined
  /**
   * Removes the primary-failure listener, on close: a Patroni monitor makes one of these for
   * each outage of its API, and closes it when the API is back.
   */
  #offPrimaryFailure: (() => void) | undefined
  /** Whether the last check found a node that takes writes; checks run faster while not. */
  #writable = true

  /**
   * With `ownPath`, each node is checked and probed on connections of the monitor's own (closed
   * with it), never behind user queries; without, on the node's pool.
   */
  constructor(
    context: MonitorContext,
    options: TopologyOptions,
    ownPath?: (node: string) => OwnCheckPath,
  ) {
    this.#context = context
    this.#options = options
    this.#lagGate = new LagGate(options.lag)
    for (const node of context.nodes) {
      const own = ownPath?.(node.name)
      if (own === undefined) {
        this.#paths.set(node, driverCheckPath(node.driver))
        continue
      }
      this.#ownPaths.push(own)
      this.#paths.set(node, own)
      node.health.probeWith(async (sql) => {
        await own.run(sql, () => {})
      })
    }
  }

  /** Runs the first check, so that roles are known before the first query, then the timer. */
  init(): Promise<void> {
    this.#started ??= this.#start()
    return this.#started
  }

  /** Re-reads every node's role (a node back from down among them) before it serves again. */
  confirm(): Promise<void> {
    return this.#rounds.run()
  }

  /**
   * Stops the timer, waits for a check that is running (bounded by its timeout), then closes the
   * monitor's own connections.
   */
  async close(): Promise<void> {
    this.#rounds.close()
    this.#context.events.off('node-up', this.#onNodeUp)
    this.#offPrimaryFailure?.()
    try {
      await this.#settleRunning()
    } finally {
      await Promise.allSettled(this.#ownPaths.map((path) => path.close()))
    }
  }

  async #settleRunning(): Promise<void> {
    const running = this.#rounds.running
    if (running === undefined) {
      return
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.timeoutMs + 100)
      timer.unref?.()
    })
    try {
      await Promise.race([running, bound])
    } finally {
      clearTimeout(timer)
    }
  }

  async #start(): Promise<void> {
    // A failed write on the primary may be a failover; a node back up may have changed role.
    this.#offPrimaryFailure = this.#context.onPrimaryFailure(() => this.#rounds.request())
    this.#context.events.on('node-up', this.#onNodeUp)
    await this.#rounds.run()
  }

  async #check(): Promise<void> {
    const { nodes } = this.#context
    const outcomes = await Promise.all(
      nodes.map((node) =>
        checkNode(
          node,
          this.#paths.get(node) ?? driverCheckPath(node.driver),
          this.#options.timeoutMs,
        ),
      ),
    )
    if (this.#rounds.closed) {
      return
    }
    const answers: Answer[] = []
    for (const [index, node] of nodes.entries()) {
      const outcome = outcomes[index]
      if (outcome === undefined) {
        continue
      }
      if (outcome.kind === 'report') {
        this.#warned.delete(node)
        answers.push({ node, report: outcome.report })
      } else if (outcome.kind === 'queued') {
        // Its pool is busy, or cannot connect: left as it was until the wait tells which.
        void outcome.settled.then((settled) => this.#judgeLate(node, settled))
      } else {
        this.#judgeFailure(node, outcome)
      }
    }

    const { roles, writer, fenced, splitBrain } = this.#decideRoles(answers)
    this.#writable = writer?.node.health.isUp === true
    const roleChanges: RoleChangeEvent[] = []
    for (const [node, role] of roles) {
      const from = node.role
      if (node.assumeRole(role)) {
        roleChanges.push({ node: node.name, from, to: role })
        this.#caughtUpAt.delete(node)
        this.#lagGate.forget(node)
      }
    }

    const lagChanges: LagEvent[] = []
    const primaryLsn = writer?.report.currentLsn
    for (const { node, report } of answers) {
      if (node.role !== 'replica') {
        continue
      }
      if (fenced.includes(node)) {
        // A primary of its own: it follows nobody, so it must not serve reads.
        this.#setLag(
          node,
          { bytes: node.lag?.bytes ?? 0, seconds: node.lag?.seconds ?? 0, excluded: true },
          lagChanges,
        )
        continue
      }
      if (report.replayLsn !== undefined) {
        node.noteReplayed(report.replayLsn)
      }
      if (primaryLsn !== undefined) {
        this.#setLag(node, this.#measureLag(node, report, primaryLsn), lagChanges)
      }
    }

    this.#context.refresh()

    const { events } = this.#context
    for (const change of roleChanges) {
      events.emit('role-change', change)
    }
    const splitKey = splitBrain?.join('\u0000')
    if (splitBrain !== undefined && splitKey !== this.#splitBrain) {
      events.emit('split-brain', { nodes: splitBrain })
    }
    this.#splitBrain = splitKey
    for (const change of lagChanges) {
      events.emit('lag', change)
    }
  }

  /**
   * Nodes not in recovery are primaries, the others replicas. With several primaries, all keep
   * the role (the router refuses writes) unless the policy prefers the configured one and it is
   * among them; then the others are fenced: replicas that get no reads.
   */
  #decideRoles(answers: readonly Answer[]): {
    roles: Map<DatabaseNode, NodeRole>
    writer: Answer | undefined
    fenced: DatabaseNode[]
    splitBrain: string[] | undefined
  } {
    const roles = new Map<DatabaseNode, NodeRole>(
      answers.map(({ node, report }) => [node, report.inRecovery ? 'replica' : 'primary']),
    )
    const claimants = answers.filter(({ report }) => !report.inRecovery)
    if (claimants.length <= 1) {
      return { roles, writer: claimants[0], fenced: [], splitBrain: undefined }
    }
    const splitBrain = claimants.map(({ node }) => node.name)
    const preferred =
      this.#options.splitBrain === 'prefer-configured'
        ? claimants.find(({ node }) => node.configuredRole === 'primary')
        : undefined
    if (preferred === undefined) {
      return { roles, writer: undefined, fenced: [], splitBrain }
    }
    const fenced = claimants.filter((claimant) => claimant !== preferred).map(({ node }) => node)
    for (const node of fenced) {
      roles.set(node, 'replica')
    }
    return { roles, writer: preferred, fenced, splitBrain }
  }

  /**
   * Bytes: the primary's WAL position minus what the replica replayed. Seconds: 0 when it has
   * replayed everything (an idle primary writes no commits, and must not make a caught-up replica
   * look late); else the age of the last replayed commit, capped by the time since the replica
   * was last seen caught up (after a long idle period, the last replayed commit is old even when
   * the replica is a moment behind).
   */
  #measureLag(node: DatabaseNode, report: NodeReport, primaryLsn: bigint): NodeLag {
    const replayed = report.replayLsn ?? 0n
    const behind = primaryLsn > replayed ? primaryLsn - replayed : 0n
    let seconds = 0
    if (behind === 0n) {
      this.#caughtUpAt.set(node, this.#rounds.lastStart)
    } else {
      const caughtUpAt = this.#caughtUpAt.get(node)
      const sinceCaughtUp = caughtUpAt === undefined ? undefined : (Date.now() - caughtUpAt) / 1000
      seconds = Math.min(
        report.replayAge ?? sinceCaughtUp ?? 0,
        sinceCaughtUp ?? Number.POSITIVE_INFINITY,
      )
    }
    const bytes = Number(behind)
    return Object.freeze({ bytes, seconds, excluded: this.#lagGate.excludes(node, bytes, seconds) })
  }

  #setLag(node: DatabaseNode, lag: NodeLag, changes: LagEvent[]): void {
    const wasExcluded = node.lag?.excluded === true
    node.setLag(lag)
    if (lag.excluded !== wasExcluded) {
      changes.push({
        node: node.name,
        bytes: lag.bytes,
        seconds: lag.seconds,
        excluded: lag.excluded,
      })
    }
  }

  #judgeFailure(
    node: DatabaseNode,
    outcome: Exclude<CheckOutcome, { kind: 'report' | 'queued' }>,
  ): void {
    // Down: it keeps the role it had until its probe brings it back. Saturated: its pool had no
    // free connection, which says nothing of the server.
    if (judgeCheckFailure(node, outcome) === 'query' && outcome.kind === 'failed') {
      this.#warn(node, outcome.error)
    }
  }

  #judgeLate(node: DatabaseNode, settled: CheckOutcome): void {
    if (!this.#rounds.closed && settled.kind === 'failed') {
      this.#judgeFailure(node, settled)
    }
  }

  #warn(node: DatabaseNode, error: unknown): void {
    const { onError } = this.#options
    if (onError !== undefined) {
      try {
        onError(error, node.name)
      } catch (thrown) {
        console.error('kysely-replicas: the topology onError callback threw', thrown)
      }
      return
    }
    if (!this.#warned.has(node)) {
      this.#warned.add(node)
      console.warn(
        `kysely-replicas: the topology check failed on "${node.name}", whose role and lag are left as they were: ${describeError(error)}`,
      )
    }
  }
}

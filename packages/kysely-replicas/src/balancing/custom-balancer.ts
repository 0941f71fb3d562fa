import { InvalidConfigError } from '../errors.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'
import { BalancerError } from './balancer-error.js'
import type { ReplicaCandidate } from './replica-candidate.js'

/**
 * A balancing function: given the replicas eligible now (never empty), it returns the one to
 * use, as the candidate object itself, its `name`, or its `index` (its position in the
 * `replicas` config). It must be synchronous.
 *
 * ```ts
 * const preferLocal: BalancingFunction = (candidates) =>
 *   candidates.find((candidate) => candidate.name.startsWith('eu-')) ?? 0
 * ```
 */
export type BalancingFunction = (
  candidates: readonly ReplicaCandidate[],
) => ReplicaCandidate | string | number

/**
 * Runs a user's {@link BalancingFunction}. The function gets frozen snapshots of the candidates
 * and their counters, never the nodes themselves: it cannot reach a driver or change the live
 * statistics. What it returns is checked against this call's candidates, and anything else (a
 * name or index of no candidate, an object it was not given, a `Promise`, a thrown error)
 * becomes a {@link BalancerError} that says what came back and what would have been accepted.
 *
 * ```ts
 * const balancer = new FunctionBalancer((candidates) =>
 *   candidates.reduce((best, candidate) => (candidate.errors < best.errors ? candidate : best)),
 * )
 * balancer.pick(replicas) // the replica with the fewest errors
 * ```
 */
export class FunctionBalancer implements Balancer {
  readonly usesLatency = true
  readonly #choose: BalancingFunction

  constructor(choose: BalancingFunction) {
    if (typeof choose !== 'function') {
      throw new InvalidConfigError(
        `FunctionBalancer needs a function (candidates) => candidate | name | index, got ${describeValue(choose)}.`,
      )
    }
    this.#choose = choose
  }

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const snapshots = Object.freeze(candidates.map(snapshot))
    let chosen: unknown
    try {
      chosen = this.#choose(snapshots)
    } catch (error) {
      throw new BalancerError(`The balancing function threw: ${describeError(error)}`, {
        cause: error,
      })
    }
    const position = findCandidate(snapshots, chosen)
    if (position === -1) {
      throw new BalancerError(
        `The balancing function returned ${describeValue(chosen)}, which is not one of its ` +
          `candidates. Return one of the candidate objects it was given, a candidate's name ` +
          `(${snapshots.map((candidate) => JSON.stringify(candidate.name)).join(', ')}) or a ` +
          `candidate's index (${snapshots.map((candidate) => candidate.index).join(', ')}).`,
      )
    }
    return candidates[position] as DatabaseNode
  }
}

function snapshot(node: DatabaseNode): ReplicaCandidate {
  const { stats } = node
  return Object.freeze({
    name: node.name,
    index: node.index,
    weight: node.weight,
    inFlight: stats.inFlight,
    served: stats.served,
    errors: stats.errors,
    latencyMs: stats.latencyMs,
  })
}

// The position among the candidates of what the function returned, or -1.
function findCandidate(snapshots: readonly ReplicaCandidate[], chosen: unknown): number {
  if (typeof chosen === 'object') {
    // Only the objects of this call: a look-alike or a snapshot kept from an earlier call may
    // describe a replica that is no longer a candidate.
    return snapshots.indexOf(chosen as ReplicaCandidate)
  }
  if (typeof chosen === 'string') {
    return snapshots.findIndex((candidate) => candidate.name === chosen)
  }
  // An index; anything else (undefined, a boolean) equals no candidate's.
  return snapshots.findIndex((candidate) => candidate.index === chosen)
}

/** What a balancer returned, for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value)
  }
  if (typeof value === 'number') {
    return `the index ${value}`
  }
  if (value === null || value === undefined) {
    return String(value)
  }
  if (typeof value === 'object') {
    if (typeof (value as { then?: unknown }).then === 'function') {
      return 'a Promise (balancing functions must be synchronous)'
    }
    const name = (value as { name?: unknown }).name
    return typeof name === 'string'
      ? `an object named ${JSON.stringify(name)} that is not one of this call's candidates`
      : 'an object'
  }
  return `a ${typeof value}`
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

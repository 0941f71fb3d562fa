import type { Driver } from 'kysely'
import type { Balancer } from '../../src/balancing/balancer.js'
import type { DatabaseNode } from '../../src/nodes/database-node.js'
import { NodeStats } from '../../src/nodes/node-stats.js'

/** Counters to start a test node with. */
export interface ReplicaSetup {
  readonly name?: string
  readonly weight?: number
  readonly inFlight?: number
  readonly served?: number
  readonly errors?: number
  readonly latencyMs?: number
}

// Balancers never touch the driver.
const noDriver = Object.freeze({}) as Driver

/** A replica node at `index` with live stats set from `setup`. */
export function replica(index: number, setup: ReplicaSetup = {}): DatabaseNode {
  const stats = new NodeStats()
  stats.inFlight = setup.inFlight ?? 0
  stats.served = setup.served ?? 0
  stats.errors = setup.errors ?? 0
  stats.latencyMs = setup.latencyMs ?? 0
  // Only what balancers read; the cast leaves out the rest of a node (health, …).
  const node = {
    name: setup.name ?? `replica-${index}`,
    role: 'replica',
    index,
    weight: setup.weight ?? 1,
    driver: noDriver,
    stats,
  }
  return Object.freeze(node) as DatabaseNode
}

/** Replicas 0…n-1 with the given setups. */
export function replicas(...setups: ReplicaSetup[]): DatabaseNode[] {
  return setups.map((setup, index) => replica(index, setup))
}

/** The indexes of `count` successive picks. */
export function pickIndexes(
  balancer: Balancer,
  candidates: readonly DatabaseNode[],
  count: number,
): number[] {
  return Array.from({ length: count }, () => balancer.pick(candidates).index)
}

/** How many of `count` picks went to each replica index (0 to `size - 1`). */
export function countPicks(
  balancer: Balancer,
  candidates: readonly DatabaseNode[],
  count: number,
  size = candidates.length,
): number[] {
  const counts = new Array<number>(size).fill(0)
  for (let i = 0; i < count; i++) {
    const index = balancer.pick(candidates).index
    counts[index] = (counts[index] ?? 0) + 1
  }
  return counts
}

/** A seeded generator of numbers in [0, 1) (mulberry32), so that random tests are repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A generator that returns the given numbers in turn, then starts over. */
export function sequence(...values: number[]): () => number {
  let next = 0
  return () => {
    const value = values[next % values.length] as number
    next++
    return value
  }
}

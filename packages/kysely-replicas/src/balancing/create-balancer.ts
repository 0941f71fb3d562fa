import { closestName } from '../config/check-options.js'
import { InvalidConfigError } from '../errors.js'
import type { Balancer } from './balancer.js'
import { CheckedBalancer } from './checked-balancer.js'
import { type BalancingFunction, FunctionBalancer } from './custom-balancer.js'
import { LatencyAwareBalancer } from './latency-aware-balancer.js'
import { LeastOutstandingBalancer } from './least-outstanding-balancer.js'
import { RandomBalancer } from './random-balancer.js'
import { RoundRobinBalancer } from './round-robin-balancer.js'
import { WeightedBalancer } from './weighted-balancer.js'

/**
 * How reads are spread over the replicas: a built-in strategy by name, a {@link Balancer} of
 * your own, or a function that picks among snapshots of the candidates.
 *
 * ```ts
 * const byName: BalancingOption = 'least-outstanding'
 * const byFunction: BalancingOption = (candidates) => candidates[0] ?? 0
 * ```
 */
export type BalancingOption =
  | 'round-robin'
  | 'random'
  | 'weighted'
  | 'least-outstanding'
  | 'latency-aware'
  | Balancer
  | BalancingFunction

type BuiltInBalancing = Extract<BalancingOption, string>

// Exhaustive: a name added to BalancingOption fails the build here until it has a balancer.
const BUILT_IN = Object.freeze({
  'round-robin': () => new RoundRobinBalancer(),
  random: () => new RandomBalancer(),
  weighted: () => new WeightedBalancer(),
  'least-outstanding': () => new LeastOutstandingBalancer(),
  'latency-aware': () => new LatencyAwareBalancer(),
} satisfies Record<BuiltInBalancing, () => Balancer>)

const builtIn: { readonly [name: string]: (() => Balancer) | undefined } = BUILT_IN

/**
 * The balancer for a `balancing` option: round-robin when it is unset, a new instance of the
 * named strategy, the caller's own balancer with its picks checked, or a
 * {@link FunctionBalancer} around a function. Anything else throws an {@link InvalidConfigError} listing what is accepted.
 *
 * ```ts
 * createBalancer(undefined) // RoundRobinBalancer
 * createBalancer('weighted') // WeightedBalancer
 * createBalancer((candidates) => candidates[0]?.name ?? 0) // FunctionBalancer
 * ```
 */
export function createBalancer(option: BalancingOption | undefined): Balancer {
  if (option === undefined) {
    return new RoundRobinBalancer()
  }
  if (typeof option === 'string') {
    // Own keys only: 'toString' and friends are not strategies.
    const create = Object.hasOwn(builtIn, option) ? builtIn[option] : undefined
    if (create !== undefined) {
      return create()
    }
  } else if (typeof option === 'function') {
    return new FunctionBalancer(option)
  } else if (option !== null && typeof (option as Partial<Balancer>).pick === 'function') {
    return new CheckedBalancer(option)
  }
  throw new InvalidConfigError(
    `balancing must be ${Object.keys(BUILT_IN)
      .map((name) => `'${name}'`)
      .join(', ')}, a Balancer ({ pick(candidates) { … } }) or a function ` +
      `(candidates) => candidate | name | index; got ${describe(option)}.`,
  )
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    const meant = closestName(value, Object.keys(BUILT_IN))
    return meant === undefined
      ? JSON.stringify(value)
      : `${JSON.stringify(value)} (did you mean '${meant}'?)`
  }
  if (value === null || typeof value !== 'object') {
    return String(value)
  }
  return Array.isArray(value) ? 'an array' : 'an object without a pick() method'
}

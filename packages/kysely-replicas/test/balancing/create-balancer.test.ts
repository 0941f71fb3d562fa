import { describe, expect, it } from 'vitest'
import type { Balancer } from '../../src/balancing/balancer.js'
import { type BalancingOption, createBalancer } from '../../src/balancing/create-balancer.js'
import { FunctionBalancer } from '../../src/balancing/custom-balancer.js'
import { LatencyAwareBalancer } from '../../src/balancing/latency-aware-balancer.js'
import { LeastOutstandingBalancer } from '../../src/balancing/least-outstanding-balancer.js'
import { RandomBalancer } from '../../src/balancing/random-balancer.js'
import { RoundRobinBalancer } from '../../src/balancing/round-robin-balancer.js'
import { WeightedBalancer } from '../../src/balancing/weighted-balancer.js'
import { InvalidConfigError } from '../../src/errors.js'
import type { DatabaseNode } from '../../src/nodes/database-node.js'
import { replicas } from './replica-nodes.js'

describe('createBalancer', () => {
  it('defaults to round-robin', () => {
    expect(createBalancer(undefined)).toBeInstanceOf(RoundRobinBalancer)
  })

  it.each([
    ['round-robin', RoundRobinBalancer],
    ['random', RandomBalancer],
    ['weighted', WeightedBalancer],
    ['least-outstanding', LeastOutstandingBalancer],
    ['latency-aware', LatencyAwareBalancer],
  ] as const)('makes a new balancer for %s', (name, type) => {
    const balancer = createBalancer(name)
    expect(balancer).toBeInstanceOf(type)
    // A fresh one each time: two dialects never share a rotation or weights' scores.
    expect(createBalancer(name)).not.toBe(balancer)
  })

  it('uses a Balancer of the caller, with its picks and usesLatency', () => {
    const own: Balancer = {
      usesLatency: true,
      pick: (candidates) => candidates[candidates.length - 1] as DatabaseNode,
    }
    const balancer = createBalancer(own)
    const nodes = replicas({}, {}, {})
    expect(balancer.pick(nodes)).toBe(nodes[2])
    expect(balancer.usesLatency).toBe(true)
    expect(createBalancer({ pick: own.pick }).usesLatency).toBe(false)
  })

  it('wraps a function in a FunctionBalancer', () => {
    const balancer = createBalancer((candidates) => candidates[1]?.name ?? 0)
    expect(balancer).toBeInstanceOf(FunctionBalancer)
    expect(balancer.pick(replicas({}, {})).index).toBe(1)
  })

  it.each([
    ['latency-aware', true],
    ['a function', true],
    ['round-robin', false],
    ['random', false],
    ['weighted', false],
    ['least-outstanding', false],
  ] as const)('has every query timed with %s only if it reads latency', (name, timed) => {
    const option = name === 'a function' ? () => 0 : name
    expect(createBalancer(option).usesLatency === true).toBe(timed)
  })

  it.each([
    ['an unknown name', 'fastest', 'got "fastest".'],
    ['a name in the wrong case', 'Round-Robin', `got "Round-Robin" (did you mean 'round-robin'?).`],
    ['a misspelt name', 'wieghted', `got "wieghted" (did you mean 'weighted'?).`],
    ['an empty name', '', '""'],
    ['an inherited property name', 'toString', '"toString"'],
    ['null', null, 'got null'],
    ['a number', 1, 'got 1'],
    ['an object without pick()', {}, 'an object without a pick() method'],
    [
      'an object whose pick is not a function',
      { pick: 'first' },
      'an object without a pick() method',
    ],
    ['an array', ['random'], 'an array'],
  ])('refuses %s', (_, option, got) => {
    expect(() => createBalancer(option as BalancingOption)).toThrow(InvalidConfigError)
    expect(() => createBalancer(option as BalancingOption)).toThrow(got)
    expect(() => createBalancer(option as BalancingOption)).toThrow(
      "'round-robin', 'random', 'weighted', 'least-outstanding', 'latency-aware', a Balancer",
    )
  })
})

import { describe, expect, it } from 'vitest'
import type { Balancer } from '../../src/balancing/balancer.js'
import { BalancerError } from '../../src/balancing/balancer-error.js'
import { createBalancer } from '../../src/balancing/create-balancer.js'
import type { DatabaseNode } from '../../src/nodes/database-node.js'
import { replicas } from './replica-nodes.js'

const HOW = 'It must return one of the nodes in the array it was given (such as candidates[0])'

describe("a caller's Balancer", () => {
  it.each<[string, (candidates: readonly DatabaseNode[]) => unknown, string]>([
    [
      'undefined',
      () => undefined,
      'Balancer.pick() returned undefined, which is not one of its candidates.',
    ],
    ['a name', (candidates) => candidates[0]?.name, 'Balancer.pick() returned "replica-0"'],
    ['an index', () => 0, 'Balancer.pick() returned the index 0'],
    [
      'a copy of a node',
      (candidates) => ({ ...candidates[0] }),
      'an object named "replica-0" that is not one of',
    ],
    ['a Promise', async (candidates) => candidates[0], 'a Promise'],
  ])(
    'returning %s is a BalancerError saying what came back and what is expected',
    (_, pick, got) => {
      const balancer = createBalancer({ pick } as Balancer)
      const attempt = () => balancer.pick(replicas({}, {}))
      expect(attempt).toThrow(BalancerError)
      expect(attempt).toThrow(got)
      expect(attempt).toThrow(HOW)
      expect(attempt).toThrow('give balancing a function (candidates) => name | index instead')
    },
  )

  it('refuses a node that is not among this call’s candidates', () => {
    const nodes = replicas({}, {}, {})
    const balancer = createBalancer({ pick: () => nodes[2] as DatabaseNode })
    expect(() => balancer.pick(nodes.slice(0, 2))).toThrow(BalancerError)
  })

  it('lets an error the balancer throws through unchanged', () => {
    const cause = new Error('zone map not loaded')
    const balancer = createBalancer({
      pick: () => {
        throw cause
      },
    })
    expect(() => balancer.pick(replicas({}))).toThrow(cause)
  })
})

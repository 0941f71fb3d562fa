import { describe, expect, it } from 'vitest'
import { BalancerError } from '../../src/balancing/balancer-error.js'
import { FunctionBalancer } from '../../src/balancing/custom-balancer.js'
import type { ReplicaCandidate } from '../../src/balancing/replica-candidate.js'
import { InvalidConfigError, ReplicasError } from '../../src/errors.js'
import type { DatabaseNode } from '../../src/nodes/database-node.js'
import { replica } from './replica-nodes.js'

// Replicas 0 and 2 are candidates; replica 1 is down.
function candidates(): DatabaseNode[] {
  return [
    replica(0, { name: 'eu-a', weight: 2, inFlight: 3, served: 40, errors: 1, latencyMs: 4.5 }),
    replica(2, { name: 'eu-c' }),
  ]
}

function pickWith(choose: (candidates: readonly ReplicaCandidate[]) => unknown): DatabaseNode {
  return new FunctionBalancer(choose as () => string).pick(candidates())
}

describe('FunctionBalancer', () => {
  it('gives the function frozen snapshots of the candidates and their counters', () => {
    let seen: readonly ReplicaCandidate[] = []
    pickWith((given) => {
      seen = given
      return 0
    })
    expect(seen).toEqual([
      { name: 'eu-a', index: 0, weight: 2, inFlight: 3, served: 40, errors: 1, latencyMs: 4.5 },
      { name: 'eu-c', index: 2, weight: 1, inFlight: 0, served: 0, errors: 0, latencyMs: 0 },
    ])
    expect(Object.isFrozen(seen)).toBe(true)
    expect(seen.every((candidate) => Object.isFrozen(candidate))).toBe(true)
  })

  it('takes back a candidate object, a name or a replica index', () => {
    expect(pickWith((given) => given[1]).name).toBe('eu-c')
    expect(pickWith(() => 'eu-c').name).toBe('eu-c')
    expect(pickWith(() => 'eu-a').name).toBe('eu-a')
    // The index in the replicas config, not the position among the candidates.
    expect(pickWith(() => 2).name).toBe('eu-c')
    expect(pickWith(() => 0).name).toBe('eu-a')
  })

  it('returns the live node, not the snapshot', () => {
    const nodes = candidates()
    const node = new FunctionBalancer(() => 'eu-c').pick(nodes)
    expect(node).toBe(nodes[1])
  })

  it.each([
    ['an unknown name', () => 'eu-b', '"eu-b"'],
    ['the index of a replica that is not a candidate', () => 1, 'the index 1'],
    ['an index out of range', () => 7, 'the index 7'],
    ['a non-integer index', () => 0.5, 'the index 0.5'],
    [
      'a copy of a candidate',
      (given: readonly ReplicaCandidate[]) => ({ ...given[0] }),
      'an object named "eu-a"',
    ],
    ['undefined', () => undefined, 'returned undefined'],
    ['null', () => null, 'returned null'],
    ['a boolean', () => true, 'a boolean'],
    ['a Promise', async () => 'eu-a', 'must be synchronous'],
  ])('throws a BalancerError for %s', (_, choose, returned) => {
    const error = captureError(() => pickWith(choose))
    expect(error).toBeInstanceOf(BalancerError)
    expect(error).toBeInstanceOf(ReplicasError)
    expect(error.name).toBe('BalancerError')
    expect(error.message).toContain(returned)
    // What it would have accepted.
    expect(error.message).toContain('"eu-a", "eu-c"')
    expect(error.message).toContain('(0, 2)')
  })

  it('says what it returned and what it could have returned', () => {
    expect(() => pickWith(() => 'eu-b')).toThrow(
      'The balancing function returned "eu-b", which is not one of its candidates. Return one ' +
        'of the candidate objects it was given, a candidate\'s name ("eu-a", "eu-c") or a ' +
        "candidate's index (0, 2).",
    )
    expect(() => pickWith(() => ({ name: 7 }))).toThrow(
      'The balancing function returned an object, which is not one of its candidates.',
    )
  })

  it('has every query timed: the function may read latencyMs', () => {
    expect(new FunctionBalancer(() => 0).usesLatency).toBe(true)
  })

  it('refuses a snapshot kept from an earlier call', () => {
    let kept: ReplicaCandidate | undefined
    const balancer = new FunctionBalancer((given) => {
      kept ??= given[0]
      return kept ?? 0
    })
    expect(balancer.pick(candidates()).name).toBe('eu-a')
    expect(() => balancer.pick(candidates())).toThrow(BalancerError)
  })

  it('wraps an error thrown by the function, keeping it as the cause', () => {
    const cause = new Error('no replica in this zone')
    const error = captureError(() =>
      pickWith(() => {
        throw cause
      }),
    )
    expect(error).toBeInstanceOf(BalancerError)
    expect(error.message).toBe('The balancing function threw: no replica in this zone')
    expect(error.cause).toBe(cause)
  })

  it('needs a function', () => {
    expect(() => new FunctionBalancer('eu-a' as never)).toThrow(InvalidConfigError)
    expect(() => new FunctionBalancer('eu-a' as never)).toThrow(
      'FunctionBalancer needs a function (candidates) => candidate | name | index, got "eu-a".',
    )
  })
})

function captureError(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    if (error instanceof Error) {
      return error
    }
    throw new Error(`threw a non-Error: ${String(error)}`)
  }
  throw new Error('did not throw')
}

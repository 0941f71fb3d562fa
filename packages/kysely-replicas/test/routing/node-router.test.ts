import { CompiledQuery, DummyDriver } from 'kysely'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Balancer } from '../../src/balancing/balancer.js'
import {
  NoPrimaryError,
  NoReplicaAvailableError,
  ReplicaWriteError,
  SplitBrainError,
} from '../../src/errors.js'
import { ReplicasEvents } from '../../src/events/replicas-events.js'
import type { FallbackPolicy } from '../../src/health/fallback-policy.js'
import type { FailureKind, NodeHealth } from '../../src/health/node-health.js'
import { DatabaseNode, type NodeRole } from '../../src/nodes/database-node.js'
import { NodeStats } from '../../src/nodes/node-stats.js'
import { createClassifyOptions } from '../../src/routing/classify-query.js'
import { NodeRouter } from '../../src/routing/node-router.js'
import type { QueryClassification } from '../../src/routing/query-classification.js'
import { ANY_REPLICA_TARGET, PRIMARY_TARGET } from '../../src/routing/route-target.js'

// The router on its own: nodes whose health the test sets, and a balancer that takes the first
// candidate and remembers what it was offered.

interface Health {
  isUp: boolean
  isSuspect: boolean
  kind: FailureKind
}

function node(name: string, role: NodeRole, index: number) {
  const health: Health = { isUp: true, isSuspect: false, kind: 'node' }
  const fake = {
    get isUp() {
      return health.isUp
    },
    get isSuspect() {
      return health.isSuspect
    },
    failureKind: () => health.kind,
  } as unknown as NodeHealth
  const database = new DatabaseNode({
    name,
    role,
    index,
    weight: 1,
    driver: new DummyDriver(),
    stats: new NodeStats(),
    health: fake,
  })
  return Object.assign(database, { set: (state: Partial<Health>) => Object.assign(health, state) })
}

function cluster(
  options: {
    fallback?: FallbackPolicy
    replicas?: number
    minMs?: number
    maxConcurrent?: number
  } = {},
) {
  const primary = node('primary', 'primary', -1)
  const replicas = Array.from({ length: options.replicas ?? 3 }, (_, i) =>
    node(`replica-${i}`, 'replica', i),
  )
  const offered: string[][] = []
  const balancer: Balancer = {
    pick: (candidates) => {
      offered.push(candidates.map((candidate) => candidate.name))
      return candidates[0] as DatabaseNode
    },
  }
  const router = new NodeRouter(primary, replicas, {
    balancer,
    classifyOptions: createClassifyOptions(),
    fallback: {
      policy: options.fallback ?? 'replicas-then-primary',
      maxConcurrent: options.maxConcurrent ?? Number.POSITIVE_INFINITY,
      waitMs: 100,
    },
    events: new ReplicasEvents(),
    readDeadline:
      options.minMs === undefined
        ? undefined
        : { minMs: options.minMs, maxMs: options.minMs * 4, latencyFactor: 8 },
  })
  const replica = (index: number) => replicas[index] as TestNode
  return { router, primary, replicas, replica, offered }
}

type TestNode = ReturnType<typeof node>

const READ: QueryClassification = { access: 'read', reason: 'select' }
const WRITE: QueryClassification = { access: 'write', reason: 'statement', detail: 'x' }
const UNKNOWN: QueryClassification = { access: 'unknown', reason: 'raw-sql' }
const names = (nodes: readonly DatabaseNode[]) => nodes.map((n) => n.name)
const pinned = (index: number) => ({ kind: 'replica', index }) as const

describe('the replicas that serve reads', () => {
  it('are those up, in the replica role and not lagging too far', () => {
    const { router, replica } = cluster()
    expect(names(router.available)).toEqual(['replica-0', 'replica-1', 'replica-2'])
    replica(0).set({ isUp: false })
    replica(1).setLag({ bytes: 1e9, seconds: 60, excluded: true })
    router.refresh()
    expect(names(router.available)).toEqual(['replica-2'])
    replica(1).setLag({ bytes: 10, seconds: 0, excluded: false })
    replica(2).assumeRole('primary')
    router.refresh()
    expect(names(router.available)).toEqual(['replica-1'])
  })

  it('leave out suspect replicas, unless no other replica can serve', () => {
    const { router, replica } = cluster()
    replica(0).set({ isSuspect: true })
    router.refresh()
    expect(names(router.available)).toEqual(['replica-1', 'replica-2'])
    replica(1).set({ isSuspect: true })
    replica(2).set({ isUp: false })
    router.refresh()
    expect(names(router.available)).toEqual(['replica-0', 'replica-1'])
  })
})

describe('the primary', () => {
  it('is the one node up in the primary role', () => {
    const { router, replica, primary } = cluster()
    expect(router.primary).toBe(primary)
    primary.set({ isUp: false })
    router.refresh()
    expect(() => router.primary).toThrow(NoPrimaryError)
    replica(0).assumeRole('primary')
    router.refresh()
    expect(router.primary).toBe(replica(0))
    primary.set({ isUp: true })
    router.refresh()
    expect(() => router.primary).toThrow(SplitBrainError)
    expect(() => router.primary).toThrow(/"primary" and "replica-0"/)
  })
})

describe('the node of a single query', () => {
  it('is a replica for a read, the primary for anything else', () => {
    const { router, primary, offered } = cluster()
    expect(router.nodeForQuery(READ, undefined).name).toBe('replica-0')
    expect(offered).toEqual([['replica-0', 'replica-1', 'replica-2']])
    expect(router.nodeForQuery(WRITE, undefined)).toBe(primary)
    expect(router.nodeForQuery(UNKNOWN, undefined)).toBe(primary)
  })

  it('is the view target whatever the query', () => {
    const { router, replica, primary } = cluster()
    expect(router.nodeForQuery(READ, PRIMARY_TARGET)).toBe(primary)
    expect(router.nodeForQuery(UNKNOWN, ANY_REPLICA_TARGET).role).toBe('replica')
    expect(router.nodeForQuery(WRITE, pinned(2))).toBe(replica(2))
  })

  it.each([
    ['replicas-then-primary', 'primary'],
    ['primary', 'primary'],
    ['none', NoReplicaAvailableError],
  ] as const)('is, with fallback %s and every replica down, %s', (fallback, expected) => {
    const { router, replicas } = cluster({ fallback })
    for (const replica of replicas) replica.set({ isUp: false })
    router.refresh()
    if (expected === 'primary') {
      expect(router.nodeForQuery(READ, undefined).name).toBe('primary')
    } else {
      expect(() => router.nodeForQuery(READ, undefined)).toThrow(
        /down: "replica-0", "replica-1", "replica-2"/,
      )
    }
  })

  it('is the primary for a read when no replica is configured, even with fallback none', () => {
    const { router, primary } = cluster({ fallback: 'none', replicas: 0 })
    expect(router.nodeForQuery(READ, undefined)).toBe(primary)
    expect(router.nodeForQuery(READ, ANY_REPLICA_TARGET)).toBe(primary)
  })

  it('is refused for onReplica() when no replica is available, naming them', () => {
    const { router, replica, replicas } = cluster()
    for (const replica of replicas) replica.set({ isUp: false })
    router.refresh()
    expect(() => router.nodeForTarget(ANY_REPLICA_TARGET)).toThrow(
      /down: "replica-0", "replica-1", "replica-2"/,
    )
    // A pinned index is the caller's choice: it goes there, up or not.
    expect(router.nodeForTarget(pinned(1))).toBe(replica(1))
  })
})

describe('after a failed read', () => {
  const failure = new Error('connect ECONNREFUSED')

  it('retries on another replica, then on the primary, never on one already tried', () => {
    const { router, replica, primary, offered } = cluster()
    const tried: DatabaseNode[] = []
    const first = replica(0)
    expect(router.nextAfterFailure(first, failure, READ, undefined, tried)?.name).toBe('replica-1')
    expect(offered).toEqual([['replica-1', 'replica-2']])
    expect(names(tried)).toEqual(['replica-0'])
    const second = replica(1)
    const third = replica(2)
    expect(router.nextAfterFailure(second, failure, READ, undefined, tried)).toBe(third)
    expect(router.nextAfterFailure(third, failure, READ, undefined, tried)).toBe(primary)
  })

  it('retries a saturated replica elsewhere too', () => {
    const { router, replica } = cluster()
    replica(0).set({ kind: 'saturated' })
    const next = router.nextAfterFailure(replica(0), failure, READ, undefined, [])
    expect(next?.name).toBe('replica-1')
  })

  it('retries with read-your-writes only where the position was replayed', () => {
    const { router, replica, primary } = cluster({ replicas: 4 })
    // replica-1 replayed nothing known.
    replica(2).noteReplayed(99n)
    replica(3).noteReplayed(100n)
    const first = replica(0)
    expect(router.nextAfterFailure(first, failure, READ, undefined, [], 100n)).toBe(replica(3))
    expect(router.nextAfterFailure(first, failure, READ, undefined, [], 1n)).toBe(replica(2))
    replica(3).set({ isUp: false })
    router.refresh()
    expect(router.nextAfterFailure(first, failure, READ, undefined, [], 100n)).toBe(primary)
  })

  it('goes straight to the primary with fallback primary', () => {
    const { router, replica, primary } = cluster({ fallback: 'primary' })
    expect(router.nextAfterFailure(replica(0), failure, READ, undefined, [])).toBe(primary)
  })

  it('stays on the replicas for onReplica(), and gives up when none is left', () => {
    const { router, replica } = cluster({ replicas: 2 })
    const tried: DatabaseNode[] = []
    const [first, second] = [replica(0), replica(1)]
    expect(router.nextAfterFailure(first, failure, READ, ANY_REPLICA_TARGET, tried)).toBe(second)
    expect(router.nextAfterFailure(second, failure, READ, ANY_REPLICA_TARGET, tried)).toBe(
      undefined,
    )
  })

  it.each([
    ['a query error', { kind: 'query' as const }, READ, undefined, 'replicas-then-primary'],
    ['a write', {}, WRITE, undefined, 'replicas-then-primary'],
    ['raw sql', {}, UNKNOWN, undefined, 'replicas-then-primary'],
    ['fallback none', {}, READ, undefined, 'none'],
    ['a read pinned to a replica', {}, READ, pinned(0), 'replicas-then-primary'],
    ['a read sent to the primary', {}, READ, PRIMARY_TARGET, 'replicas-then-primary'],
  ] as const)('gives up after %s', (_what, state, classification, target, fallback) => {
    const { router, replica } = cluster({ fallback })
    replica(0).set(state)
    const tried: DatabaseNode[] = []
    const failed = replica(0)
    expect(router.nextAfterFailure(failed, failure, classification, target, tried)).toBe(undefined)
    // A node failure is remembered, whatever happens to the query.
    expect(names(tried)).toEqual('kind' in state ? [] : ['replica-0'])
  })

  it('never retries a failure on the primary', () => {
    const { router, primary } = cluster()
    const tried: DatabaseNode[] = []
    expect(router.nextAfterFailure(primary, failure, READ, undefined, tried)).toBe(undefined)
    expect(tried).toEqual([])
  })
})

describe('the other node of a read that got stuck', () => {
  it('is another available replica, else the primary', () => {
    const { router, replica, primary, offered } = cluster({ replicas: 2 })
    const [first, second] = [replica(0), replica(1)]
    expect(router.alternativeTo(first, undefined, undefined)).toBe(second)
    expect(offered).toEqual([['replica-1']])
    second.set({ isUp: false })
    router.refresh()
    expect(router.alternativeTo(first, undefined, undefined)).toBe(primary)
  })

  it('with read-your-writes, is a replica that replayed the position, else the primary', () => {
    const { router, replica, primary } = cluster({ replicas: 4 })
    const stuck = replica(0)
    stuck.noteReplayed(200n)
    // replica-1 replayed nothing known.
    replica(2).noteReplayed(99n)
    replica(3).noteReplayed(100n)
    expect(router.alternativeTo(stuck, undefined, 100n)).toBe(replica(3))
    expect(router.alternativeTo(stuck, undefined, 1n)).toBe(replica(2))
    expect(router.alternativeTo(stuck, undefined, 101n)).toBe(primary)
  })

  it('is a replica for onReplica(), or nothing', () => {
    const { router, replica } = cluster({ replicas: 2 })
    const [first, second] = [replica(0), replica(1)]
    expect(router.alternativeTo(first, ANY_REPLICA_TARGET, undefined)).toBe(second)
    second.set({ isUp: false })
    router.refresh()
    expect(router.alternativeTo(first, ANY_REPLICA_TARGET, undefined)).toBe(undefined)
  })

  it('is the primary straight away with fallback primary', () => {
    const { router, replica, primary } = cluster({ fallback: 'primary' })
    expect(router.alternativeTo(replica(0), undefined, undefined)).toBe(primary)
  })

  it.each([
    ['fallback none', 'none', undefined],
    ['a read pinned to a replica', 'replicas-then-primary', pinned(0)],
    ['a read sent to the primary', 'replicas-then-primary', PRIMARY_TARGET],
  ] as const)('is nothing for %s', (_what, fallback, target) => {
    const { router, replica } = cluster({ fallback })
    expect(router.alternativeTo(replica(0), target, undefined)).toBe(undefined)
  })

  it('is nothing without one primary', () => {
    const { router, replica, primary } = cluster({ replicas: 2, fallback: 'primary' })
    const stuck = replica(0)
    replica(1).assumeRole('primary')
    router.refresh()
    expect(router.alternativeTo(stuck, undefined, undefined)).toBe(undefined)
    primary.set({ isUp: false })
    replica(1).set({ isUp: false })
    router.refresh()
    expect(router.alternativeTo(stuck, undefined, undefined)).toBe(undefined)
  })
})

describe('a block running on a node', () => {
  it('takes the queries of its target only', () => {
    const { router, replica, primary } = cluster()
    const [first, second] = [replica(0), replica(1)]
    expect(router.serves(primary, PRIMARY_TARGET)).toBe(true)
    expect(router.serves(first, PRIMARY_TARGET)).toBe(false)
    expect(router.serves(first, ANY_REPLICA_TARGET)).toBe(true)
    expect(router.serves(primary, ANY_REPLICA_TARGET)).toBe(false)
    expect(router.serves(first, pinned(0))).toBe(true)
    expect(router.serves(second, pinned(0))).toBe(false)
  })

  it('on the primary takes replica queries when no replica is configured', () => {
    const { router, primary } = cluster({ replicas: 0 })
    expect(router.serves(primary, ANY_REPLICA_TARGET)).toBe(true)
  })
})

describe('a write on a replica', () => {
  const insert = CompiledQuery.raw('insert into person default values')

  it('is refused before it is sent, saying why', () => {
    const { router, replica } = cluster()
    const target = replica(0)
    expect(() => router.assertReadOn(target, WRITE)).toThrow(ReplicaWriteError)
    expect(() => router.assertReadOn(target, WRITE)).toThrow(/statement: x/)
    expect(() => router.assertReadOn(target, READ)).not.toThrow()
    // Raw sql is the caller's to send: onReplica() may run it.
    expect(() => router.assertRunnableOn(target, insert)).not.toThrow()
  })

  it('is never refused on the primary', () => {
    const { router, primary } = cluster()
    expect(() => router.assertReadOn(primary, WRITE)).not.toThrow()
    const query = {
      ...insert,
      query: { kind: 'DeleteQueryNode' },
    } as unknown as CompiledQuery
    expect(() => router.assertRunnableOn(primary, query)).not.toThrow()
  })

  it('is refused for a compiled write', () => {
    const { router, replica } = cluster()
    const query = { ...insert, query: { kind: 'DeleteQueryNode' } } as unknown as CompiledQuery
    expect(() => router.assertRunnableOn(replica(0), query)).toThrow(ReplicaWriteError)
  })
})

describe('the read deadline watch', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('exists only with a read deadline', () => {
    expect(cluster().router.deadlineWatch).toBe(undefined)
    expect(cluster({ minMs: 100 }).router.deadlineWatch).toBeDefined()
  })

  it.each([
    [100, 25],
    [8, 5],
  ])('checks a minMs of %i every %i ms', (minMs, tick) => {
    vi.useFakeTimers()
    const watch = cluster({ minMs }).router.deadlineWatch
    let told = 0
    watch?.add({ expire: () => told++ }, 1)
    vi.advanceTimersByTime(tick - 1)
    expect(told).toBe(0)
    vi.advanceTimersByTime(1)
    expect(told).toBe(1)
  })
})

describe('the hedge copy of a slow read', () => {
  it('goes to another available replica, for a read with no view or onReplica()', () => {
    const { router, replica, offered } = cluster()
    expect(router.hedgeTo(replica(0), undefined, undefined)).toBe(replica(1))
    expect(offered).toEqual([['replica-1', 'replica-2']])
    expect(router.hedgeTo(replica(1), ANY_REPLICA_TARGET, undefined)).toBe(replica(0))
  })

  it('never goes to the primary: with no other replica there is none', () => {
    const { router, replica, offered } = cluster({ replicas: 2, fallback: 'primary' })
    replica(1).set({ isUp: false })
    router.refresh()
    expect(router.hedgeTo(replica(0), undefined, undefined)).toBe(undefined)
    // The balancer is never asked to choose among none.
    expect(offered).toEqual([])
  })

  it('is never sent for a read pinned to a replica or sent to the primary', () => {
    const { router, replica } = cluster()
    expect(router.hedgeTo(replica(0), pinned(0), undefined)).toBe(undefined)
    expect(router.hedgeTo(replica(0), PRIMARY_TARGET, undefined)).toBe(undefined)
  })

  it('with read-your-writes, goes only to a replica that replayed the position', () => {
    const { router, replica } = cluster({ replicas: 4 })
    const slow = replica(0)
    slow.noteReplayed(200n)
    // replica-1 replayed nothing known.
    replica(2).noteReplayed(99n)
    replica(3).noteReplayed(100n)
    expect(router.hedgeTo(slow, undefined, 100n)).toBe(replica(3))
    expect(router.hedgeTo(slow, undefined, 1n)).toBe(replica(2))
    expect(router.hedgeTo(slow, undefined, 101n)).toBe(undefined)
  })
})

describe('a read pinned to a configured replica that left the cluster', () => {
  it('is refused, naming that replica', () => {
    const { router, replica } = cluster()
    expect(router.remove(replica(1))).toBe(true)
    expect(() => router.nodeForTarget(pinned(1))).toThrow(NoReplicaAvailableError)
    expect(() => router.nodeForTarget(pinned(1))).toThrow('(down: "replica-1")')
    // It was routed to no more.
    expect(router.remove(replica(1))).toBe(false)
    expect(names(router.nodes)).toEqual(['primary', 'replica-0', 'replica-2'])
  })
})

describe('the fallback budget', () => {
  it('exists only with a limit, and counts primary reads only when replicas could serve them', () => {
    expect(cluster().router.fallbackBudget).toBe(undefined)
    expect(cluster().router.countsFallback).toBe(false)
    const limited = cluster({ maxConcurrent: 2 }).router
    expect(limited.fallbackBudget).toBeDefined()
    expect(limited.countsFallback).toBe(true)
    expect(cluster({ maxConcurrent: 2, replicas: 0 }).router.countsFallback).toBe(false)
  })

  it('refuses a fallback read it has no slot for, naming the replicas that are down', async () => {
    const { router, replica } = cluster({ maxConcurrent: 0 })
    replica(1).set({ isUp: false })
    router.refresh()
    const refused = router.fallbackBudget?.take()
    await expect(refused).rejects.toThrow(NoReplicaAvailableError)
    await expect(router.fallbackBudget?.take()).rejects.toThrow(
      '(down: "replica-1"), and the primary',
    )
  })
})

describe('a primary failure listener', () => {
  it('is told of each failure until it unsubscribes', () => {
    const { router } = cluster()
    let told = 0
    const unsubscribe = router.onPrimaryFailure(() => told++)
    router.notePrimaryFailure()
    expect(told).toBe(1)
    unsubscribe()
    router.notePrimaryFailure()
    expect(told).toBe(1)
  })
})

describe('the candidates offered to the balancer', () => {
  /** Replicas in the given zones, with pools of one connection; the primary in zone a. */
  function zoned(zones: readonly (string | undefined)[], localZone?: string) {
    const make = (name: string, role: NodeRole, index: number, zone: string | undefined) =>
      new DatabaseNode({
        name,
        role,
        index,
        zone,
        poolSize: 1,
        weight: 1,
        driver: new DummyDriver(),
        stats: new NodeStats(),
        health: { isUp: true, isSuspect: false } as unknown as NodeHealth,
      })
    const replicas = zones.map((zone, i) => make(`replica-${i}`, 'replica', i, zone))
    const offered: string[][] = []
    const router = new NodeRouter(make('primary', 'primary', -1, 'a'), replicas, {
      balancer: {
        pick: (candidates) => {
          offered.push(names(candidates))
          return candidates[0] as DatabaseNode
        },
      },
      classifyOptions: createClassifyOptions(),
      fallback: {
        policy: 'replicas-then-primary',
        maxConcurrent: Number.POSITIVE_INFINITY,
        waitMs: 100,
      },
      events: new ReplicasEvents(),
      localZone,
    })
    /** Gives the replica as many queries in flight as its pool has connections. */
    const fill = (index: number) => {
      const replica = replicas[index] as DatabaseNode
      replica.stats.inFlight = replica.poolSize
    }
    const offer = () => {
      offered.length = 0
      router.nodeForQuery(READ, undefined)
      return offered[0]
    }
    return { offer, fill }
  }

  it('are every available replica, full or not, without a local zone', () => {
    const { offer, fill } = zoned([undefined, undefined, 'b'])
    fill(0)
    expect(offer()).toEqual(['replica-0', 'replica-1', 'replica-2'])
  })

  it('are the local replicas with room, when some have room', () => {
    const { offer, fill } = zoned(['a', 'a', 'a'], 'a')
    expect(offer()).toEqual(['replica-0', 'replica-1', 'replica-2'])
    fill(1)
    expect(offer()).toEqual(['replica-0', 'replica-2'])
  })

  it('are the replicas of any zone with room when no local one has room', () => {
    const { offer, fill } = zoned(['a', 'b', 'b'], 'a')
    fill(0)
    fill(2)
    expect(offer()).toEqual(['replica-1'])
  })

  it('are every available replica when none has room', () => {
    const { offer, fill } = zoned(['a', 'b'], 'a')
    fill(0)
    fill(1)
    expect(offer()).toEqual(['replica-0', 'replica-1'])
  })
})

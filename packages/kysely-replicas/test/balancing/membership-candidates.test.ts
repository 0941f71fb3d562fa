import { Kysely } from 'kysely'
import {
  type BalancingOption,
  type MonitorContext,
  type NodeMonitorFactory,
  ReplicatedDialect,
} from 'kysely-replicas'
import { afterEach, describe, expect, it } from 'vitest'
import type { Database } from '../support/database.js'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

// The candidates of a pick are not only the configured replicas: after a failover the configured
// primary (index -1) is a replica, and members join while the dialect runs. Every balancer must
// give those nodes reads too; a balancer keeping state by configured position did not (the
// weighted one never picked a demoted primary).

const opened: Kysely<Database>[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()))
})

function setup(balancing: BalancingOption) {
  const journal = new Journal()
  let context: MonitorContext | undefined
  const monitor: NodeMonitorFactory = (given) => {
    context = given
    return { init: async () => {}, close: async () => {} }
  }
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      balancing,
      primary: { name: 'primary', dialect: new RecordingDialect('primary', journal) },
      replicas: [
        { name: 'r0', dialect: new RecordingDialect('r0', journal) },
        { name: 'r1', dialect: new RecordingDialect('r1', journal) },
      ],
      monitor,
      nodeFactory: ({ name }) => new RecordingDialect(name, journal),
    }),
  })
  opened.push(db)
  const monitorContext = () => {
    if (context === undefined) throw new Error('the monitor was not created')
    return context
  }
  return { db, journal, context: monitorContext }
}

/** What a monitor does after a switchover from `primary` to `r0`. */
function switchover(context: MonitorContext): void {
  for (const node of context.nodes) {
    if (node.name === 'primary') node.assumeRole('replica')
    if (node.name === 'r0') node.assumeRole('primary')
    if (node.role === 'replica') node.setLag({ bytes: 0, seconds: 0, excluded: false })
  }
  context.refresh()
}

async function readCounts(db: Kysely<Database>, journal: Journal, count: number) {
  journal.entries.length = 0
  for (let i = 0; i < count; i++) {
    await db.selectFrom('person').selectAll().execute()
  }
  const counts = new Map<string, number>()
  for (const { node } of journal.entries) {
    counts.set(node, (counts.get(node) ?? 0) + 1)
  }
  return counts
}

// The least share of the reads a node must get: an even split for the balancers that take turns
// (equal weights, idle nodes); at least one read for those that draw at random or follow measured
// latencies (on this in-memory dialect, noise: the latency-aware one may rightly leave a node that
// looked slow alone for a while, but tries a node that never served as soon as it draws it).
const balancings: ReadonlyArray<[string, BalancingOption, 'even' | 'some']> = [
  ['round-robin', 'round-robin', 'even'],
  ['random', 'random', 'some'],
  ['weighted', 'weighted', 'even'],
  ['least-outstanding', 'least-outstanding', 'even'],
  ['latency-aware', 'latency-aware', 'some'],
  // Functions answering by index, by name and by candidate, in turn.
  ['a function returning an index', byTurn((candidate) => candidate.index), 'even'],
  ['a function returning a name', byTurn((candidate) => candidate.name), 'even'],
  ['a function returning a candidate', byTurn((candidate) => candidate), 'even'],
]

function byTurn<T>(answer: (candidate: { index: number; name: string }) => T) {
  let next = 0
  return (candidates: readonly { index: number; name: string }[]) =>
    answer(candidates[next++ % candidates.length] as { index: number; name: string }) as never
}

describe.each(balancings)('balancing by %s', (_, balancing, share) => {
  const least = (reads: number, nodes: number) => (share === 'even' ? reads / nodes : 1)

  it('sends reads to the configured primary once a switchover demoted it', async () => {
    const { db, journal, context } = setup(balancing)
    await db.selectFrom('person').selectAll().execute()
    switchover(context())
    const counts = await readCounts(db, journal, 60)
    expect(counts.get('r0')).toBeUndefined()
    expect(counts.get('primary')).toBeGreaterThanOrEqual(least(60, 2))
    if (share === 'even') expect(counts.get('r1')).toBe(30)
  })

  it('sends reads to a member that joined, beside the demoted primary', async () => {
    const { db, journal, context } = setup(balancing)
    await db.selectFrom('person').selectAll().execute()
    switchover(context())
    const joined = await context().addNode({ name: 'r2', host: 'h', port: 1 })
    joined?.setLag({ bytes: 0, seconds: 0, excluded: false })
    context().refresh()
    const counts = await readCounts(db, journal, 90)
    expect(counts.get('r0')).toBeUndefined()
    for (const name of ['primary', 'r2']) {
      expect(counts.get(name)).toBeGreaterThanOrEqual(least(90, 3))
    }
    if (share === 'even') expect(counts.get('r1')).toBe(30)
  })
})

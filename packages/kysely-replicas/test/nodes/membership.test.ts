import { Kysely } from 'kysely'
import {
  type DatabaseNode,
  type MonitorContext,
  type NodeMonitorFactory,
  NoReplicaAvailableError,
  type ReplicasEventMap,
  ReplicatedDialect,
  replicationOf,
} from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Database } from '../support/database.js'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

// Membership as a monitor changes it: a stand-in monitor keeps the context, and each test adds
// and removes nodes through it as patroniTopology() does when Patroni lists members.

interface Setup {
  db: Kysely<Database>
  journal: Journal
  context: () => MonitorContext
  events: Array<[string, unknown]>
}

const opened: Kysely<Database>[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()))
})

function setup(options: { factory?: boolean } = {}): Setup {
  const journal = new Journal()
  let context: MonitorContext | undefined
  const monitor: NodeMonitorFactory = (given) => {
    context = given
    return { init: async () => {}, close: async () => {} }
  }
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      primary: { name: 'primary', dialect: new RecordingDialect('primary', journal) },
      replicas: [
        { name: 'r0', dialect: new RecordingDialect('r0', journal) },
        { name: 'r1', dialect: new RecordingDialect('r1', journal) },
      ],
      monitor,
      nodeFactory:
        options.factory === false ? undefined : ({ name }) => new RecordingDialect(name, journal),
    }),
  })
  opened.push(db)
  const events: Array<[string, unknown]> = []
  for (const name of ['node-added', 'node-removed'] as const) {
    replicationOf(db).on(name, (event: ReplicasEventMap[typeof name]) => events.push([name, event]))
  }
  return {
    db,
    journal,
    events,
    context: () => {
      if (context === undefined) throw new Error('the monitor was not created')
      return context
    },
  }
}

/** What a monitor does for a member it found serving: reads allowed. */
function serve(context: MonitorContext, node: DatabaseNode | undefined): DatabaseNode {
  if (node === undefined) throw new Error('the node was not added')
  node.setLag({ bytes: 0, seconds: 0, excluded: false })
  context.refresh()
  return node
}

async function readNodes(db: Kysely<Database>, journal: Journal, count: number) {
  journal.entries.length = 0
  for (let i = 0; i < count; i++) {
    await db.selectFrom('person').selectAll().execute()
  }
  return new Set(journal.entries.map((entry) => entry.node))
}

describe('a node that joins', () => {
  it('is started, then gets reads once its monitor clears it', async () => {
    const { db, journal, context, events } = setup()
    await db.selectFrom('person').selectAll().execute()
    const added = await context().addNode({ name: 'r2', host: '10.0.0.3', port: 5432 })
    expect(added?.name).toBe('r2')
    expect(journal.lifecycle).toContain('init r2')
    expect(events).toEqual([['node-added', { node: 'r2' }]])
    // Added, not yet cleared by the monitor: no reads.
    expect(await readNodes(db, journal, 6)).toEqual(new Set(['r0', 'r1']))

    serve(context(), added)
    expect(await readNodes(db, journal, 6)).toEqual(new Set(['r0', 'r1', 'r2']))
    expect(
      replicationOf(db)
        .stats()
        .map((node) => [node.name, node.role]),
    ).toEqual([
      ['primary', 'primary'],
      ['r0', 'replica'],
      ['r1', 'replica'],
      ['r2', 'replica'],
    ])
    expect(context().nodes.map((node) => node.name)).toEqual(['primary', 'r0', 'r1', 'r2'])
  })

  it('is added once when asked twice at the same time, and a known name gives its node', async () => {
    const { db, journal, context } = setup()
    await db.selectFrom('person').selectAll().execute()
    const member = { name: 'r2', host: 'h', port: 1 }
    const [first, second] = await Promise.all([
      context().addNode(member),
      context().addNode(member),
    ])
    expect(first).toBe(second)
    expect(journal.lifecycle.filter((entry) => entry === 'init r2')).toHaveLength(1)
    expect(await context().addNode({ name: 'r0', host: 'h', port: 1 })).toBe(
      context().nodes.find((node) => node.name === 'r0'),
    )
  })

  it('is closed with the dialect', async () => {
    const { db, journal, context } = setup()
    await db.selectFrom('person').selectAll().execute()
    await context().addNode({ name: 'r2', host: 'h', port: 1 })
    opened.splice(opened.indexOf(db), 1)
    await db.destroy()
    expect(journal.lifecycle).toContain('destroy r2')
  })

  it('cannot join without a node factory: the membership is fixed', async () => {
    const { db, journal, context } = setup({ factory: false })
    await db.selectFrom('person').selectAll().execute()
    expect(context().canAddNodes).toBe(false)
    expect(await context().addNode({ name: 'r2', host: 'h', port: 1 })).toBeUndefined()
    expect(journal.lifecycle).not.toContain('init r2')
  })

  it('is not added when its factory or its driver fails, with a warning that masks passwords', async () => {
    const journal = new Journal()
    let context: MonitorContext | undefined
    const db = new Kysely<Database>({
      dialect: new ReplicatedDialect({
        readYourWrites: false,
        primary: new RecordingDialect('primary', journal),
        monitor: (given) => {
          context = given
          return { init: async () => {}, close: async () => {} }
        },
        nodeFactory: ({ name }) => {
          if (name === 'bad') throw new Error('cannot parse postgres://app:s3cret@10.0.0.9/app')
          return new RecordingDialect(name, journal, 'init')
        },
      }),
    })
    opened.push(db)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      await db.selectFrom('person').selectAll().execute()
      expect(await context?.addNode({ name: 'bad', host: 'h', port: 1 })).toBeUndefined()
      expect(await context?.addNode({ name: 'down', host: 'h', port: 1 })).toBeUndefined()
      const messages = warn.mock.calls.map((call) => String(call[0]))
      expect(messages).toEqual([
        expect.stringMatching(/node "bad" cannot join: its node factory failed/),
        expect.stringMatching(/node "down" cannot join: its driver did not start/),
      ])
      expect(messages.join('\n')).not.toContain('s3cret')
      expect(journal.lifecycle).toContain('destroy down')
      expect(context?.nodes.map((node) => node.name)).toEqual(['primary'])
    } finally {
      warn.mockRestore()
    }
  })
})

describe('a node that leaves', () => {
  it('gets no new reads, finishes those under way, then is destroyed', async () => {
    const { db, journal, context, events } = setup()
    await db.selectFrom('person').selectAll().execute()
    let answer = () => {}
    const slow = new Promise<void>((resolve) => {
      answer = resolve
    })
    journal.slow.set('r1', slow)
    // Round-robin: of the next two reads, one goes to r1 and is held there.
    const underWay = [
      db.selectFrom('person').selectAll().execute(),
      db.selectFrom('person').selectAll().execute(),
    ]
    const leaving = context().nodes.find((node) => node.name === 'r1') as DatabaseNode
    await vi.waitFor(() => expect(leaving.stats.inFlight).toBe(1))

    context().removeNode(leaving)
    expect(events).toEqual([['node-removed', { node: 'r1' }]])
    expect(context().nodes.map((node) => node.name)).toEqual(['primary', 'r0'])
    expect(await readNodes(db, journal, 4)).toEqual(new Set(['r0']))
    // Still draining: the read under way holds its driver open.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(journal.lifecycle).not.toContain('destroy r1')

    answer()
    await Promise.all(underWay)
    await vi.waitFor(() => expect(journal.lifecycle).toContain('destroy r1'))
    expect(
      replicationOf(db)
        .stats()
        .map((node) => node.name),
    ).toEqual(['primary', 'r0'])
  })

  it('sends a read that picked it just before it left to another node', async () => {
    const { db, journal, context } = setup()
    await db.selectFrom('person').selectAll().execute()
    let connect = () => {}
    const stall = new Promise<void>((resolve) => {
      connect = resolve
    })
    journal.stalled.set('r0', stall)
    journal.stalled.set('r1', stall)
    journal.attempts.clear()
    const read = db.selectFrom('person').selectAll().execute()
    await vi.waitFor(() => expect(journal.attempts.size).toBe(1))
    const name = [...journal.attempts.keys()].join()
    const leaving = context().nodes.find((node) => node.name === name) as DatabaseNode
    context().removeNode(leaving)
    // What a pool that is being ended says: no connection error, yet the node is gone.
    journal.queryErrors.set(name, new Error('Cannot use a pool after calling end on the pool'))
    connect()
    await expect(read).resolves.toEqual([])
    expect(journal.nodesFor('select').at(-1)).not.toBe(name)
    await vi.waitFor(() => expect(journal.lifecycle).toContain(`destroy ${name}`))
  })

  it('keeps its onReplica() index when it comes back', async () => {
    const { db, journal, context } = setup()
    await db.selectFrom('person').selectAll().execute()
    const r1 = context().nodes.find((node) => node.name === 'r1') as DatabaseNode
    context().removeNode(r1)
    await expect(db.onReplica(1).selectFrom('person').selectAll().execute()).rejects.toThrow(
      NoReplicaAvailableError,
    )

    const back = serve(context(), await context().addNode({ name: 'r1', host: 'h', port: 1 }))
    expect(back).not.toBe(r1)
    expect(back.index).toBe(1)
    journal.entries.length = 0
    await db.onReplica(1).selectFrom('person').selectAll().execute()
    expect(journal.nodesFor('select')).toEqual(['r1'])
    // A member the config does not list gets the next index.
    const joined = await context().addNode({ name: 'r9', host: 'h', port: 1 })
    expect(joined?.index).toBe(2)
  })

  it('is waited for by destroy() while it drains', async () => {
    const { db, journal, context } = setup()
    await db.selectFrom('person').selectAll().execute()
    let answer = () => {}
    const slow = new Promise<void>((resolve) => {
      answer = resolve
    })
    journal.slow.set('r0', slow)
    journal.slow.set('r1', slow)
    const read = db.selectFrom('person').selectAll().execute()
    const busy = () => context().nodes.find((node) => node.stats.inFlight > 0)
    await vi.waitFor(() => expect(busy()).toBeDefined())
    const leaving = busy() as DatabaseNode
    context().removeNode(leaving)
    opened.splice(opened.indexOf(db), 1)
    let destroyed = false
    const destroying = db.destroy().then(() => {
      destroyed = true
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(destroyed).toBe(false)
    answer()
    await read
    await destroying
    expect(journal.lifecycle).toContain(`destroy ${leaving.name}`)
  })
})

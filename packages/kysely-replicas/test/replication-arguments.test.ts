import { CompiledQuery, type Kysely, sql } from 'kysely'
import {
  BalancerError,
  InvalidArgumentError,
  onPrimary,
  onReplica,
  type ReplicasEventMap,
  replicationOf,
} from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase, type Database } from './support/database.js'

// The first events: the list grows as events are added.
const EVENTS =
  'The events are: route, node-down, node-up, node-added, node-removed, fallback, hedge, role-change, lag, split-brain, consistency'

/** That `message` is `start` then the list of events. */
function expectEventsMessage(message: string, start: string): void {
  expect(message.slice(0, start.length + EVENTS.length)).toBe(`${start}${EVENTS}`)
  expect(message).toMatch(/\.$/)
}

function messageOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError)
    return (error as Error).message
  }
  throw new Error('did not throw')
}

describe('replicationOf(db).on() and off()', () => {
  const { db } = createRecordedDatabase()
  const replication = replicationOf(db)
  const log = () => {}

  it.each(['on', 'off'] as const)(
    '%s() refuses an unknown event, suggesting the one meant',
    (method) => {
      expectEventsMessage(
        messageOf(() => replication[method]('nodedown' as keyof ReplicasEventMap, log)),
        `replicationOf(db).${method}(): there is no event 'nodedown'; did you mean 'node-down'? `,
      )
    },
  )

  it.each([
    ['error', "there is no event 'error'. "],
    ['toString', "there is no event 'toString'. "],
    ['split_brain', "there is no event 'split_brain'; did you mean 'split-brain'? "],
  ])('refuses the event %j', (name, message) => {
    expectEventsMessage(
      messageOf(() => replication.on(name as keyof ReplicasEventMap, log)),
      `replicationOf(db).on(): ${message}`,
    )
  })

  it.each(['on', 'off'] as const)('%s() refuses a listener that is not a function', (method) => {
    expect(messageOf(() => replication[method]('node-down', 'log' as never))).toBe(
      `replicationOf(db).${method}('node-down', listener): the listener must be a function (event) => void, got "log".`,
    )
    expect(messageOf(() => replication[method]('route', undefined as never))).toContain(
      'got undefined.',
    )
  })

  it('still takes a listener and lets it go', async () => {
    const routes: string[] = []
    const listener = (event: ReplicasEventMap['route']) => routes.push(event.node)
    replication.on('route', listener)
    await db.onPrimary().selectFrom('person').selectAll().execute()
    replication.off('route', listener)
    await db.onPrimary().selectFrom('person').selectAll().execute()
    expect(routes).toEqual(['primary'])
  })
})

describe('replicationOf(db).explain()', () => {
  const { db } = createRecordedDatabase()
  const replication = replicationOf(db)
  const raw = { access: 'unknown', reason: 'raw-sql', role: 'primary', candidates: ['primary'] }

  it('takes a sql`…` query', () => {
    expect(replication.explain(sql`select now()`)).toMatchObject(raw)
  })

  it('takes a compiled query, from a builder or raw', () => {
    expect(replication.explain(db.selectFrom('person').selectAll().compile())).toMatchObject({
      access: 'read',
      role: 'replica',
    })
    expect(replication.explain(sql`select 1`.compile(db))).toMatchObject(raw)
    expect(replication.explain(CompiledQuery.raw('select 1'))).toMatchObject(raw)
  })

  it('takes a builder', () => {
    expect(replication.explain(db.deleteFrom('person'))).toMatchObject({
      access: 'write',
      reason: 'statement',
      role: 'primary',
    })
  })

  it.each([
    [undefined, 'got undefined.'],
    ['select 1', 'got "select 1".'],
    [{}, 'got an object.'],
    [Promise.resolve([]), 'got a Promise.'],
  ])('refuses %j, saying what it takes', (query, got) => {
    expect(messageOf(() => replication.explain(query as never))).toBe(
      'replicationOf(db).explain() takes a query builder (db.selectFrom(…)…, without execute()), ' +
        `a sql\`…\` query or a compiled query (builder.compile()); ${got}`,
    )
  })
})

describe('functions that take a Kysely instance', () => {
  it.each([
    ['replicationOf()', (value: unknown) => replicationOf(value as Kysely<Database>)],
    ['onPrimary()', (value: unknown) => onPrimary(value as Kysely<Database>)],
    ['onReplica()', (value: unknown) => onReplica(value as Kysely<Database>, 0)],
  ])('%s refuses what is not one', (what, call) => {
    expect(messageOf(() => call(undefined))).toBe(
      `${what} takes a Kysely instance or a transaction (new Kysely({ dialect: new ReplicatedDialect(…) })), got undefined.`,
    )
    expect(messageOf(() => call({}))).toMatch(/got an object\.$/)
  })
})

describe('replicationOf(db).runInScope()', () => {
  it.each([false, true])(
    'refuses a scope that is not a function (read-your-writes on: %s)',
    (on) => {
      const { db } = createRecordedDatabase(1, on ? { readYourWrites: { mode: 'sticky' } } : {})
      expect(messageOf(() => replicationOf(db).runInScope('next' as never))).toBe(
        'replicationOf(db).runInScope(fn, token): fn must be the function to run in the scope, got "next".',
      )
    },
  )
})

describe('a Balancer that picks no candidate', () => {
  it('fails the read with a BalancerError, not a TypeError', async () => {
    const { db, journal } = createRecordedDatabase(2, {
      balancing: { pick: () => undefined as never },
    })
    const read = db.selectFrom('person').selectAll().execute()
    await expect(read).rejects.toThrow(BalancerError)
    await expect(read).rejects.toThrow('Balancer.pick() returned undefined')
    expect(journal.nodesFor('select')).toEqual([])
  })
})

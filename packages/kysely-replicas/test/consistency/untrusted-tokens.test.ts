import type { Kysely } from 'kysely'
import {
  type ConsistencyEvent,
  type PositionSource,
  type ReadYourWritesConfig,
  replicationOf,
} from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeToken, encodeToken } from '../../src/consistency/consistency-token.js'
import { createRecordedDatabase, type Database } from '../support/database.js'
import type { Journal } from '../support/recording-dialect.js'

const SECRET = 'the-secret-of-these-tests-0123456789'

/** A primary at `primary`, every replica at `replayed`, in a cluster named `cluster`. */
function createDatabase(readYourWrites: Omit<ReadYourWritesConfig, 'positions'> = {}) {
  const state = { primary: 0x1000n, replayed: 0x1000n, cluster: 'cluster-a', asked: 0 }
  const positions: PositionSource = {
    primaryPosition: async () => state.primary,
    replayedPosition: async () => {
      state.asked++
      return state.replayed
    },
    clusterId: async () => state.cluster,
  }
  const { db, journal } = createRecordedDatabase(2, {
    readYourWrites: { maxWaitMs: 20, ...readYourWrites, positions },
  })
  const events: ConsistencyEvent[] = []
  replicationOf(db).on('consistency', (event) => events.push(event))
  return { db, journal, state, events }
}

async function readNode(db: Kysely<Database>, journal: Journal): Promise<string | undefined> {
  await db.selectFrom('person').selectAll().execute()
  return journal.nodesFor('select * from "person"').at(-1)
}

/** What the scope holds, from its own token. */
function currentScope(db: Kysely<Database>) {
  const content = decodeToken(replicationOf(db).token(), undefined)
  if (typeof content === 'string') throw new Error(`unreadable token: ${content}`)
  return { position: content.position, lastWriteAt: content.lastWriteAt }
}

const EMPTY = { position: undefined, lastWriteAt: undefined }

describe('tokens given to runInScope()', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('use a genuine token', async () => {
    const { db, journal, events } = createDatabase()
    const token = encodeToken({ cluster: 'cluster-a', position: 0x800n, lastWriteAt: 1 }, undefined)
    const scope = await replicationOf(db).runInScope(async () => {
      expect(await readNode(db, journal)).toMatch(/^replica-/)
      return currentScope(db)
    }, token)
    expect(scope).toEqual({ position: 0x800n, lastWriteAt: 1 })
    expect(events).toEqual([])
  })

  it.each([
    ['garbage', 'garbage'],
    ['a wrong prefix', 'ryw9.cluster-a.800.1'],
    ['a token too long', `ryw1.cluster-a.800.${'1'.repeat(600)}`],
    ['bad hex', 'ryw1.cluster-a.80g.1'],
    ['a position of more than 64 bits', `ryw1.cluster-a.1${'0'.repeat(16)}.1`],
    ['a number', 42],
    ['null', null],
    ['an object', { token: 'ryw1.cluster-a.800.1' }],
  ])('reject %s: the read still runs, on a replica, in an empty scope', async (_, token) => {
    const { db, journal, events, state } = createDatabase()
    const fn = vi.fn(async () => {
      const node = await readNode(db, journal)
      return { node, scope: currentScope(db) }
    })
    const result = await replicationOf(db).runInScope(fn, token as string)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(result.node).toMatch(/^replica-/)
    expect(result.scope).toEqual(EMPTY)
    expect(events).toEqual([{ kind: 'token-rejected', detail: 'malformed' }])
    // An empty scope asks no replica where it is.
    expect(state.asked).toBe(0)
  })

  it('take an empty string (an empty header or cookie) as no token, without an event', async () => {
    const { db, journal, events, state } = createDatabase()
    const result = await replicationOf(db).runInScope(
      async () => ({ node: await readNode(db, journal), scope: currentScope(db) }),
      '',
    )
    expect(result.node).toMatch(/^replica-/)
    expect(result.scope).toEqual(EMPTY)
    expect(events).toEqual([])
    expect(state.asked).toBe(0)
  })

  it('reject a token of another cluster', async () => {
    const { db, journal, events, state } = createDatabase()
    const token = encodeToken({ cluster: 'cluster-b', position: 0x800n, lastWriteAt: 1 }, undefined)
    const result = await replicationOf(db).runInScope(
      async () => ({ node: await readNode(db, journal), scope: currentScope(db) }),
      token,
    )
    expect(result.node).toMatch(/^replica-/)
    expect(result.scope).toEqual(EMPTY)
    expect(events).toEqual([{ kind: 'token-rejected', detail: 'other-cluster' }])
    expect(state.asked).toBe(0)
  })

  describe('with a tokenSecret', () => {
    it('sign the tokens they give and use them', async () => {
      const { db, journal, events } = createDatabase({ tokenSecret: SECRET })
      const token = await replicationOf(db).runInScope(async () => {
        await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
        return replicationOf(db).token()
      })
      expect(token.split('.')).toHaveLength(5)
      const scope = await replicationOf(db).runInScope(async () => {
        await readNode(db, journal)
        return currentScope(db)
      }, token)
      expect(scope.position).toBe(0x1000n)
      expect(events).toEqual([])
    })

    it.each([
      ['a forged position', (token: string) => token.replace('.1000.', '.ffff.')],
      ['a forged cluster', (token: string) => token.replace('.cluster-a.', '.cluster-b.')],
      [
        'a MAC of another secret',
        () => encodeToken({ cluster: 'cluster-a', position: 1n, lastWriteAt: 1 }, `${SECRET}!`),
      ],
      ['no MAC', (token: string) => token.slice(0, token.lastIndexOf('.'))],
      ['a truncated MAC', (token: string) => token.slice(0, -3)],
    ])('reject %s (bad-signature) and read in an empty scope', async (_, forge) => {
      const { db, journal, events } = createDatabase({ tokenSecret: SECRET })
      const genuine = await replicationOf(db).runInScope(async () => {
        await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
        return replicationOf(db).token()
      })
      const result = await replicationOf(db).runInScope(
        async () => ({ node: await readNode(db, journal), scope: currentScope(db) }),
        forge(genuine),
      )
      expect(result.node).toMatch(/^replica-/)
      expect(result.scope).toEqual(EMPTY)
      expect(events).toEqual([{ kind: 'token-rejected', detail: 'bad-signature' }])
    })
  })

  it('lower a position from the future to the primary’s, after one read on the primary', async () => {
    const { db, journal, state, events } = createDatabase()
    const future = 0x7fff_0000_0000_0000n
    const token = encodeToken(
      { cluster: 'cluster-a', position: future, lastWriteAt: Date.now() },
      undefined,
    )
    const result = await replicationOf(db).runInScope(async () => {
      const first = await readNode(db, journal)
      const askedBefore = state.asked
      const second = await readNode(db, journal)
      return { first, second, asked: state.asked - askedBefore, scope: currentScope(db) }
    }, token)
    expect(result.first).toBe('primary')
    expect(result.second).toMatch(/^replica-/)
    // What the first read learnt of the replicas' positions serves: no new check, no waiting.
    expect(result.asked).toBe(0)
    expect(result.scope.position).toBe(0x1000n)
    expect(events.map((event) => event.kind)).toEqual(['token-clamped', 'read-on-primary'])
    expect(events[0]?.detail).toContain(future.toString(16))
  })

  it('keep the position of a token they cannot check, and need no primary for it', async () => {
    // No node can say which cluster it serves: the token can neither be trusted nor refused. Its
    // position is kept: at worst one bounded wait, where dropping it could show a stale read.
    const { db, journal } = createRecordedDatabase(2, {
      readYourWrites: {
        windowMs: 60_000,
        positions: {
          primaryPosition: async () => 0x1000n,
          replayedPosition: async () => 0x1000n,
          clusterId: async () => {
            throw new Error('unreachable')
          },
        },
      },
    })
    const token = encodeToken({ cluster: 'cluster-a', position: 0x800n, lastWriteAt: 1 }, undefined)
    const nodes = await replicationOf(db).runInScope(
      async () => [await readNode(db, journal), await readNode(db, journal)],
      token,
    )
    expect(nodes).toEqual(['replica-0', 'replica-1'])
  })

  it('do not keep reads on the primary past the window for a time from the future', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { db, journal } = createDatabase({ mode: 'sticky', windowMs: 1000 })
    const token = encodeToken(
      { cluster: '', position: undefined, lastWriteAt: Date.now() + 3_600_000 },
      undefined,
    )
    const nodes = await replicationOf(db).runInScope(async () => {
      const during = await readNode(db, journal)
      vi.setSystemTime(Date.now() + 1001)
      return [during, await readNode(db, journal)]
    }, token)
    expect(nodes[0]).toBe('primary')
    expect(nodes[1]).toMatch(/^replica-/)
  })
})

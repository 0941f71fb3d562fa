import { CompiledQuery, type Kysely } from 'kysely'
import {
  type ConsistencyEvent,
  type PositionSource,
  type ReadYourWritesConfig,
  replicationOf,
  StaleReadError,
} from 'kysely-replicas'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeToken, encodeToken } from '../../src/consistency/consistency-token.js'
import { createRecordedDatabase, type Database } from '../support/database.js'
import type { Journal } from '../support/recording-dialect.js'

const SECRET = 'the-secret-of-these-tests-0123456789'

/** A primary at `primary`, every replica at `replayed`, in a cluster named `cluster`. */
function createDatabase(readYourWrites: Omit<ReadYourWritesConfig, 'positions'> = {}) {
  const state = {
    primary: 0x1000n,
    replayed: 0x1000n,
    cluster: 'cluster-a',
    asked: 0,
    askedCluster: 0,
    primaryFails: false,
  }
  const positions: PositionSource = {
    primaryPosition: async () => {
      if (state.primaryFails) {
        throw new Error('the primary does not answer')
      }
      return state.primary
    },
    replayedPosition: async () => {
      state.asked++
      return state.replayed
    },
    clusterId: async () => {
      state.askedCluster++
      return state.cluster
    },
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
    const result = await replicationOf(db).runInScope(
      async () => ({
        nodes: [await readNode(db, journal), await readNode(db, journal)],
        scope: currentScope(db),
      }),
      token,
    )
    expect(result.nodes).toEqual(['replica-0', 'replica-1'])
    expect(result.scope.position).toBe(0x800n)
  })

  it('ask which cluster they serve once, of the first node up that answers', async () => {
    const askedOn: string[] = []
    const { db, journal } = createRecordedDatabase(2, {
      health: { probeIntervalMs: 60_000, maxProbeIntervalMs: 60_000 },
      readYourWrites: {
        positions: {
          primaryPosition: async () => 0x1000n,
          replayedPosition: async () => 0x1000n,
          clusterId: async (connection) => {
            await connection.executeQuery(CompiledQuery.raw('-- cluster id'))
            askedOn.push(journal.entries.at(-1)?.node ?? '')
            return 'cluster-a'
          },
        },
      },
    })
    // replica-0 fails a read and is marked down; then the primary stops answering too.
    journal.down.add('replica-0')
    await readNode(db, journal)
    journal.down.add('primary')
    const attempts = () => [journal.attempts.get('primary'), journal.attempts.get('replica-0')]
    const before = attempts()
    const token = encodeToken({ cluster: 'cluster-a', position: 0x800n, lastWriteAt: 1 }, undefined)
    for (let i = 0; i < 3; i++) {
      await replicationOf(db).runInScope(() => readNode(db, journal), token)
    }
    // The primary was tried once (it is not known to be down), replica-0 never.
    expect(askedOn).toEqual(['replica-1'])
    expect(attempts()).toEqual([(before[0] ?? 0) + 1, before[1]])
  })

  it('give back the empty token of a scope that wrote nothing', async () => {
    const { db } = createDatabase()
    const token = await replicationOf(db).runInScope(() => replicationOf(db).token(), 'ryw1...')
    expect(token).toBe('ryw1...')
  })

  it('take a token with a time and no position (a write whose position was unknown) without asking anything', async () => {
    // Whatever cluster it names, a token without a position cannot cause a stale read: its
    // reads go to the primary for the window, then anywhere.
    vi.useFakeTimers({ toFake: ['Date'] })
    const { db, journal, events, state } = createDatabase({ windowMs: 1000 })
    const token = encodeToken(
      { cluster: 'cluster-b', position: undefined, lastWriteAt: Date.now() },
      undefined,
    )
    const nodes = await replicationOf(db).runInScope(async () => {
      const during = await readNode(db, journal)
      vi.setSystemTime(Date.now() + 1000)
      return [during, await readNode(db, journal)]
    }, token)
    expect(nodes[0]).toBe('primary')
    expect(nodes[1]).toMatch(/^replica-/)
    expect(events).toEqual([])
    expect([state.askedCluster, state.asked]).toEqual([0, 0])
  })

  it("in sticky mode, read a position token's scope on the primary for the window only", async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { db, journal, events, state } = createDatabase({ mode: 'sticky', windowMs: 1000 })
    const token = encodeToken(
      { cluster: 'cluster-a', position: 0x800n, lastWriteAt: Date.now() },
      undefined,
    )
    const nodes = await replicationOf(db).runInScope(async () => {
      const during = await readNode(db, journal)
      vi.setSystemTime(Date.now() + 1000)
      return [during, await readNode(db, journal)]
    }, token)
    expect(nodes[0]).toBe('primary')
    expect(nodes[1]).toMatch(/^replica-/)
    expect(events).toEqual([])
    expect([state.askedCluster, state.asked]).toEqual([0, 0])
  })

  describe("with onTimeout: 'error'", () => {
    it('read a position from the future on the primary, lowered, rather than throw', async () => {
      const { db, journal, events } = createDatabase({ onTimeout: 'error' })
      const token = encodeToken(
        { cluster: 'cluster-a', position: 0x9000n, lastWriteAt: 1 },
        undefined,
      )
      const node = await replicationOf(db).runInScope(() => readNode(db, journal), token)
      expect(node).toBe('primary')
      expect(events.map((event) => event.kind)).toEqual(['token-clamped', 'read-on-primary'])
    })

    it("throw StaleReadError when the primary's position cannot be read to compare", async () => {
      const { db, journal, state } = createDatabase({ onTimeout: 'error' })
      state.replayed = 0x100n
      state.primaryFails = true
      const token = encodeToken(
        { cluster: 'cluster-a', position: 0x800n, lastWriteAt: 1 },
        undefined,
      )
      await expect(
        replicationOf(db).runInScope(() => readNode(db, journal), token),
      ).rejects.toThrow(StaleReadError)
      expect(journal.allReleased).toBe(true)
    })
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

import { Kysely } from 'kysely'
import { InvalidConfigError, NodeLifecycleError, ReplicatedDialect } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import type { Database } from './support/database.js'
import { Journal, RecordingDialect } from './support/recording-dialect.js'

function database(
  journal: Journal,
  failing: string | undefined,
  failOn: 'init' | 'destroy',
): Kysely<Database> {
  const node = (name: string) =>
    new RecordingDialect(name, journal, failing === name ? failOn : undefined)
  return new Kysely<Database>({
    dialect: new ReplicatedDialect({
      primary: { name: 'main', dialect: node('main') },
      replicas: [
        { name: 'r1', dialect: node('r1') },
        { name: 'r2', dialect: node('r2') },
      ],
    }),
  })
}

describe('init and destroy', () => {
  it('reach every node', async () => {
    const journal = new Journal()
    const db = database(journal, undefined, 'init')
    await db.selectFrom('person').selectAll().execute()
    await db.destroy()
    expect(journal.lifecycle.sort()).toEqual([
      'destroy main',
      'destroy r1',
      'destroy r2',
      'init main',
      'init r1',
      'init r2',
    ])
  })

  it('name the node that failed to start', async () => {
    const journal = new Journal()
    const db = database(journal, 'r2', 'init')
    const error = await db
      .selectFrom('person')
      .selectAll()
      .execute()
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NodeLifecycleError)
    expect((error as NodeLifecycleError).nodes).toEqual(['r2'])
    expect((error as NodeLifecycleError).message).toMatch(
      /^init failed on "r2" \(cannot reach r2\)/,
    )
  })

  it('close every other node when one fails to close', async () => {
    const journal = new Journal()
    const db = database(journal, 'main', 'destroy')
    await db.selectFrom('person').selectAll().execute()
    await expect(db.destroy()).rejects.toThrow(/destroy failed on "main"/)
    expect(journal.lifecycle.filter((entry) => entry.startsWith('destroy')).sort()).toEqual([
      'destroy main',
      'destroy r1',
      'destroy r2',
    ])
  })
})

describe('configuration', () => {
  const journal = new Journal()
  const dialect = new RecordingDialect('x', journal)

  it.each([
    [undefined, /needs a config object/],
    [{}, /primary must be a Kysely Dialect/],
    [{ primary: dialect, replicas: dialect }, /replicas must be an array/],
    [
      { primary: dialect, replicas: [{ dialect, weight: 0 }] },
      /replicas\[0\]\.weight must be a positive/,
    ],
    [
      { primary: dialect, replicas: [{ dialect, name: '' }] },
      /replicas\[0\]\.name must be a non-empty/,
    ],
    [
      { primary: dialect, replicas: [{ dialect, name: 'primary' }] },
      /Two nodes are named "primary"/,
    ],
    [{ primary: dialect, sessionReset: 5 }, /sessionReset must be a SQL string/],
  ])('refuses %j', (config, message) => {
    expect(() => new ReplicatedDialect(config as never)).toThrow(InvalidConfigError)
    expect(() => new ReplicatedDialect(config as never)).toThrow(message)
  })
})

import { Kysely, SqliteAdapter } from 'kysely'
import {
  InvalidConfigError,
  type PositionSource,
  ReplicatedDialect,
  type ReplicatedDialectConfig,
  replicationOf,
} from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import type { Database } from '../support/database.js'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

/** A recording node that says it is SQLite: no WAL positions to read. */
class SqliteRecordingDialect extends RecordingDialect {
  override createAdapter() {
    return new SqliteAdapter()
  }
}

const positions: PositionSource = {
  primaryPosition: async () => 1n,
  replayedPosition: async () => 1n,
  clusterId: async () => 'c',
}

function dialect(
  readYourWrites: unknown,
  primary: 'postgres' | 'sqlite' = 'postgres',
  journal = new Journal(),
): ReplicatedDialect {
  const Node = primary === 'postgres' ? RecordingDialect : SqliteRecordingDialect
  return new ReplicatedDialect({
    primary: new Node('primary', journal),
    replicas: [{ name: 'replica-0', dialect: new Node('replica-0', journal) }],
    readYourWrites: readYourWrites as ReplicatedDialectConfig['readYourWrites'],
  })
}

describe('readYourWrites option', () => {
  it.each([
    [
      'position mode without positions on a primary that is not PostgreSQL',
      { mode: 'position' },
      'sqlite',
      /needs readYourWrites\.positions/,
    ],
    [
      'a misspelt option',
      { maxWait: 100 },
      'postgres',
      /has no option 'maxWait'; did you mean 'maxWaitMs'\? The options are: mode/,
    ],
    ['an unknown mode', { mode: 'eventual' }, 'postgres', /'position' or 'sticky', got eventual/],
    [
      'a negative maxWaitMs',
      { maxWaitMs: -1 },
      'postgres',
      /maxWaitMs must be a number of milliseconds ≥ 0/,
    ],
    [
      'a maxWaitMs that is not finite',
      { maxWaitMs: Number.POSITIVE_INFINITY },
      'postgres',
      /maxWaitMs/,
    ],
    ['a maxWaitMs as a string', { maxWaitMs: '100' }, 'postgres', /maxWaitMs/],
    ['a windowMs that is NaN', { mode: 'sticky', windowMs: Number.NaN }, 'postgres', /windowMs/],
    ['a negative windowMs', { windowMs: -5 }, 'sqlite', /windowMs/],
    [
      'an unknown onTimeout',
      { onTimeout: 'replica' },
      'postgres',
      /onTimeout must be 'primary' or 'error'/,
    ],
    [
      'a short tokenSecret',
      { tokenSecret: 'fifteen-chars!!' },
      'postgres',
      /tokenSecret must be a string of at least 16/,
    ],
    [
      'a tokenSecret that is not a string',
      { tokenSecret: 1234567890123456 },
      'postgres',
      /tokenSecret/,
    ],
    [
      'a requestScopes that is not a boolean',
      { requestScopes: 'yes' },
      'postgres',
      /requestScopes must be true or false, got yes/,
    ],
    ['true', true, 'postgres', /false or an object/],
    ['null', null, 'postgres', /false or an object/],
    ["'on'", 'on', 'postgres', /false or an object/],
    [
      'positions that are not a position source',
      { positions: 'postgres' },
      'sqlite',
      /positions must be a PositionSource/,
    ],
    ['positions: null', { positions: null }, 'postgres', /positions must be a PositionSource/],
    [
      'positions missing a method',
      { positions: { primaryPosition: async () => 1n } },
      'postgres',
      /positions must be a PositionSource/,
    ],
  ] as const)('refuses %s with InvalidConfigError', (_, option, primary, message) => {
    const journal = new Journal()
    const create = () => dialect(option, primary, journal)
    expect(create).toThrow(InvalidConfigError)
    expect(create).toThrow(message)
    // Refused when the dialect is made, before any node is asked anything.
    expect(journal.attempts.size).toBe(0)
  })

  it.each([
    ['nothing (the default)', undefined, 'postgres'],
    ['false', false, 'postgres'],
    ['an empty object', {}, 'postgres'],
    ['sticky mode on any database', { mode: 'sticky', windowMs: 0 }, 'sqlite'],
    ['position mode with positions on any database', { mode: 'position', positions }, 'sqlite'],
    [
      'every option',
      {
        mode: 'position',
        positions,
        maxWaitMs: 0,
        windowMs: 10,
        onTimeout: 'error',
        tokenSecret: 'x'.repeat(16),
        requestScopes: false,
      },
      'postgres',
    ],
  ] as const)('accepts %s', (_, option, primary) => {
    expect(() => dialect(option, primary)).not.toThrow()
  })

  it('reads no position in sticky mode, even with positions given', async () => {
    const asked: string[] = []
    const spy: PositionSource = {
      primaryPosition: async () => {
        asked.push('primary position')
        return 1n
      },
      replayedPosition: async () => {
        asked.push('replayed position')
        return 1n
      },
      clusterId: async () => {
        asked.push('cluster id')
        return 'c'
      },
    }
    const journal = new Journal()
    const db = new Kysely<Database>({
      dialect: dialect({ mode: 'sticky', positions: spy }, 'postgres', journal),
    })
    await replicationOf(db).runInScope(async () => {
      await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
      await db.selectFrom('person').selectAll().execute()
    })
    expect(asked).toEqual([])
    expect(journal.nodesFor('select')).toEqual(['primary'])
  })

  it('defaults to sticky mode on a primary that is not PostgreSQL', async () => {
    const journal = new Journal()
    const db = new Kysely<Database>({ dialect: dialect(undefined, 'sqlite', journal) })
    await replicationOf(db).runInScope(async () => {
      await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
      await db.selectFrom('person').selectAll().execute()
    })
    await db.selectFrom('person').selectAll().execute()
    // No position query anywhere; the scope's read went to the primary, the other to a replica.
    expect(journal.entries.map((entry) => [entry.node, entry.sql])).toEqual([
      ['primary', 'insert into "person" ("id", "name") values ($1, $2)'],
      ['primary', 'select * from "person"'],
      ['replica-0', 'select * from "person"'],
    ])
  })

  it('defaults to position mode with PostgreSQL positions on a PostgreSQL primary', async () => {
    const journal = new Journal()
    const db = new Kysely<Database>({ dialect: dialect(undefined, 'postgres', journal) })
    await db.insertInto('person').values({ id: 1, name: 'a' }).execute()
    expect(journal.entries.map((entry) => entry.sql)).toEqual([
      'insert into "person" ("id", "name") values ($1, $2)',
      "select pg_current_wal_insert_lsn()::text as lsn, current_setting('wal_block_size')::int as block",
      'select system_identifier::text as id from pg_control_system()',
    ])
  })
})

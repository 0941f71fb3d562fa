import type { Kysely } from 'kysely'
import {
  InvalidConfigError,
  InvalidWritingFunctionError,
  PinConflictError,
  type ReplicatedDialectConfig,
} from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase, type Database } from '../support/database.js'

type Options = Omit<ReplicatedDialectConfig, 'primary' | 'replicas'>

// Each bad value is refused when the dialect is built, with a message that names the option and
// says what it takes; a good value next to it is accepted.
const build = (options: Options) => () => createRecordedDatabase(1, options)

describe('health options', () => {
  it.each([
    ['probeIntervalMs', 0],
    ['probeIntervalMs', -5],
    ['probeIntervalMs', Number.NaN],
    ['probeIntervalMs', Number.POSITIVE_INFINITY],
    ['probeIntervalMs', '100'],
    ['maxProbeIntervalMs', 0],
    ['probeTimeoutMs', 0],
    ['probeTimeoutMs', '2000'],
  ])('refuse %s: %s', (key, value) => {
    const make = build({ health: { [key]: value } })
    expect(make).toThrow(InvalidConfigError)
    expect(make).toThrow(
      `health.${key} must be a positive number of milliseconds, got ${String(value)}.`,
    )
  })

  it('accept a small positive interval', () => {
    expect(
      build({ health: { probeIntervalMs: 0.5, maxProbeIntervalMs: 1, probeTimeoutMs: 1 } }),
    ).not.toThrow()
  })

  it('refuse a maximum interval below the first one, and accept it equal', () => {
    expect(build({ health: { probeIntervalMs: 200, maxProbeIntervalMs: 100 } })).toThrow(
      'health.maxProbeIntervalMs must not be less than health.probeIntervalMs.',
    )
    expect(build({ health: { probeIntervalMs: 200, maxProbeIntervalMs: 200 } })).not.toThrow()
  })

  it.each(['isConnectionError', 'isSaturationError'])(
    'refuse a %s that is not a function',
    (key) => {
      const make = build({ health: { [key]: true } as Options['health'] })
      expect(make).toThrow(InvalidConfigError)
      expect(make).toThrow(`health.${key} must be a function (error) => boolean.`)
    },
  )

  it.each(['', '   ', 42])('refuse probeSql %j', (probeSql) => {
    expect(build({ health: { probeSql } as Options['health'] })).toThrow(
      'health.probeSql must be a non-empty SQL string.',
    )
  })

  it.each([null, 'fast', [1]])('refuse health %j', (health) => {
    expect(build({ health } as Options)).toThrow(InvalidConfigError)
  })
})

describe('fallback', () => {
  it.each(['replicas-then-primary', 'primary', 'none'] as const)('accepts %s', (fallback) => {
    expect(build({ fallback })).not.toThrow()
    expect(build({ fallback: { policy: fallback } })).not.toThrow()
  })

  it('refuses anything else, listing what it takes', () => {
    expect(build({ fallback: 'replica' as never })).toThrow(
      "fallback must be one of 'replicas-then-primary', 'primary', 'none', or an object { policy, maxConcurrent, waitMs }; got replica.",
    )
    expect(build({ fallback: { policy: 'replica' as never } })).toThrow(
      "fallback.policy must be one of 'replicas-then-primary', 'primary', 'none'; got replica.",
    )
    expect(build({ fallback: { maxConcurent: 2 } as never })).toThrow(
      "fallback has no option 'maxConcurent'; did you mean 'maxConcurrent'?",
    )
  })

  it.each([1, 8, 'unlimited', 'never'] as const)('accepts maxConcurrent %s', (maxConcurrent) => {
    expect(build({ fallback: { maxConcurrent } })).not.toThrow()
  })

  it.each([0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY, '4', 'none'])(
    'refuses maxConcurrent %s',
    (maxConcurrent) => {
      expect(build({ fallback: { maxConcurrent } as never })).toThrow(
        `fallback.maxConcurrent must be a positive integer, 'unlimited' or 'never'; got ${String(maxConcurrent)}.`,
      )
    },
  )

  it.each([0, 0.5, 250])('accepts waitMs %s', (waitMs) => {
    expect(build({ fallback: { waitMs } })).not.toThrow()
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '100'])('refuses waitMs %s', (waitMs) => {
    expect(build({ fallback: { waitMs } as never })).toThrow(
      `fallback.waitMs must be a number of milliseconds, 0 or more; got ${String(waitMs)}.`,
    )
  })
})

describe('readYourWrites.positions', () => {
  const source = {
    primaryPosition: async () => 1n,
    replayedPosition: async () => 1n,
    clusterId: async () => 'c',
  }
  const message =
    'readYourWrites.positions must be a PositionSource ({ primaryPosition, replayedPosition, clusterId }), such as postgresPositions.'

  it('accepts an object with the three functions', () => {
    expect(build({ readYourWrites: { positions: source } })).not.toThrow()
  })

  it.each([
    ['null', null],
    ['a function', () => 1n],
    ['no primaryPosition', { ...source, primaryPosition: 1 }],
    ['no replayedPosition', { ...source, replayedPosition: undefined }],
    ['no clusterId', { ...source, clusterId: 'c' }],
  ])('refuses %s', (_, positions) => {
    expect(build({ readYourWrites: { positions } as never })).toThrow(message)
  })

  it.each([-1, Number.NaN, '10'])('refuses maxWaitMs %j', (maxWaitMs) => {
    expect(build({ readYourWrites: { maxWaitMs } as never })).toThrow(
      'readYourWrites.maxWaitMs must be a number of milliseconds ≥ 0.',
    )
  })

  it('accepts a maxWaitMs of 0', () => {
    expect(build({ readYourWrites: { maxWaitMs: 0 } })).not.toThrow()
  })
})

describe('writingFunctions', () => {
  it.each([
    [42, 'number'],
    [null, 'null'],
    [['nested'], 'an array'],
    ['nextval()', '"nextval()"'],
  ])('names what it got: %j', (value, described) => {
    const error = (() => {
      try {
        createRecordedDatabase(1, { writingFunctions: [value as string] })
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(InvalidWritingFunctionError)
    expect((error as Error).message).toContain(`writingFunctions[0] `)
    expect((error as Error).message).toContain(`(got ${described}).`)
    expect((error as Error).message).toContain(
      "without parentheses or arguments: ['create_order', 'app.cancel_order'].",
    )
  })
})

describe('a block pinned to a node', () => {
  it('says where the query wanted to go', async () => {
    const { db } = createRecordedDatabase(2)
    const inBlock = (run: (trx: Kysely<Database>) => Promise<unknown>) =>
      db
        .transaction()
        .execute(run)
        .catch((error: unknown) => error)
    const toReplica = await inBlock((trx) =>
      trx.onReplica().selectFrom('person').selectAll().execute(),
    )
    const toSecond = await inBlock((trx) =>
      trx.onReplica(1).selectFrom('person').selectAll().execute(),
    )
    const onReplica = await db
      .onReplica(0)
      .transaction()
      .execute((trx) => trx.onPrimary().selectFrom('person').selectAll().execute())
      .catch((error: unknown) => error)
    expect(toReplica).toBeInstanceOf(PinConflictError)
    expect((toReplica as Error).message).toContain('cannot go to a replica.')
    expect((toSecond as Error).message).toContain('cannot go to replica #1.')
    expect((onReplica as Error).message).toContain('cannot go to the primary.')
    await db.destroy()
  })
})

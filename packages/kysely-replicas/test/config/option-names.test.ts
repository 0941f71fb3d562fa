import { Kysely } from 'kysely'
import {
  InvalidConfigError,
  InvalidWritingFunctionError,
  ReplicatedDialect,
  type ReplicatedDialectConfig,
} from 'kysely-replicas'
import {
  createPostgresReplicatedDialect,
  type PostgresReplicatedDialectConfig,
} from 'kysely-replicas/postgres'
import { describe, expect, it } from 'vitest'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

const OPTIONS =
  'The options are: primary, replicas, writingFunctions, sessionReset, balancing, fallback, localZone, health, readDeadline, hedge, monitor, nodeFactory, readYourWrites.'

function configWith(extra: object): ReplicatedDialectConfig {
  const journal = new Journal()
  return {
    primary: new RecordingDialect('primary', journal),
    replicas: [new RecordingDialect('replica-0', journal)],
    ...extra,
  } as ReplicatedDialectConfig
}

function messageOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError)
    return (error as Error).message
  }
  throw new Error('did not throw')
}

describe('ReplicatedDialect options', () => {
  it.each([
    [{ replica: [] }, "ReplicatedDialect has no option 'replica'; did you mean 'replicas'? "],
    [
      { readYourWrite: false },
      "ReplicatedDialect has no option 'readYourWrite'; did you mean 'readYourWrites'? ",
    ],
    [{ pool: {} }, "ReplicatedDialect has no option 'pool'. "],
  ])('refuses %j, naming it, the option meant and every option', (extra, start) => {
    expect(messageOf(() => new ReplicatedDialect(configWith(extra)))).toBe(`${start}${OPTIONS}`)
  })

  it('refuses a misspelt primary, before asking for a primary', () => {
    const journal = new Journal()
    const config = { primay: new RecordingDialect('primary', journal) }
    expect(messageOf(() => new ReplicatedDialect(config as never))).toBe(
      `ReplicatedDialect has no option 'primay'; did you mean 'primary'? ${OPTIONS}`,
    )
  })

  it.each([
    [
      'replicas[0]',
      { replicas: [{ dialect: new RecordingDialect('r', new Journal()), nmae: 'eu' }] },
      'nmae',
      'name',
    ],
    [
      'primary',
      { primary: { dialect: new RecordingDialect('p', new Journal()), wieght: 2 } },
      'wieght',
      'weight',
    ],
    [
      'replicas[0]',
      { replicas: [{ dialet: new RecordingDialect('r', new Journal()) }] },
      'dialet',
      'dialect',
    ],
  ])('refuses an unknown key of %s', (where, extra, key, meant) => {
    expect(messageOf(() => new ReplicatedDialect(configWith(extra)))).toBe(
      `${where} has no option '${key}'; did you mean '${meant}'? The options are: dialect, name, weight, zone, poolSize.`,
    )
  })

  it.each([
    [
      { probeInterval: 50 },
      "health has no option 'probeInterval'; did you mean 'probeIntervalMs'? ",
    ],
    [{ probeSQL: 'select 1' }, "health has no option 'probeSQL'; did you mean 'probeSql'? "],
  ])('refuses health %j', (health, start) => {
    // Checked loosely: the list grows with every health option.
    const message = messageOf(() => new ReplicatedDialect(configWith({ health })))
    expect(
      message.startsWith(`${start}The options are: probeIntervalMs, maxProbeIntervalMs, `),
    ).toBe(true)
    expect(message).toMatch(/, probeSql(,|\.$)/)
  })

  it('refuses a health option that is not an object', () => {
    expect(messageOf(() => new ReplicatedDialect(configWith({ health: 100 })))).toMatch(
      /^health must be an object such as \{ probeIntervalMs: 100 \}; its options are probeIntervalMs, /,
    )
  })

  it('refuses readYourWrites options with a typo', () => {
    expect(
      messageOf(
        () =>
          new ReplicatedDialect(configWith({ readYourWrites: { tokenSecert: 'x'.repeat(20) } })),
      ),
    ).toBe(
      "readYourWrites has no option 'tokenSecert'; did you mean 'tokenSecret'? The options are: mode, positions, windowMs, maxWaitMs, onTimeout, tokenSecret, requestScopes.",
    )
  })

  it('suggests the built-in balancing meant', () => {
    expect(
      messageOf(() => new ReplicatedDialect(configWith({ balancing: 'round-robbin' }))),
    ).toMatch(/got "round-robbin" \(did you mean 'round-robin'\?\)/)
  })

  it('accepts every option spelt right', () => {
    const dialect = new ReplicatedDialect(
      configWith({
        writingFunctions: ['app.f'],
        sessionReset: 'DISCARD ALL',
        balancing: 'random',
        fallback: 'replicas-then-primary',
        health: {
          probeIntervalMs: 10,
          maxProbeIntervalMs: 100,
          probeTimeoutMs: 100,
          probeSql: 'select 1',
        },
        readYourWrites: { mode: 'sticky', windowMs: 10 },
      }),
    )
    expect(new Kysely({ dialect })).toBeInstanceOf(Kysely)
  })

  it('exports InvalidWritingFunctionError, an InvalidConfigError', () => {
    const attempt = () =>
      new ReplicatedDialect(configWith({ writingFunctions: ['create_order()'] }))
    expect(attempt).toThrow(InvalidWritingFunctionError)
    expect(attempt).toThrow(InvalidConfigError)
  })
})

describe('createPostgresReplicatedDialect options', () => {
  const built: object[] = []
  class Pool {
    readonly options = {}
    constructor() {
      built.push(this)
    }
    on() {}
    async connect(): Promise<never> {
      throw new Error('no server in this test')
    }
    async end() {}
  }

  function create(extra: object, nodes: object[] = [{}, {}]) {
    built.length = 0
    return () =>
      createPostgresReplicatedDialect({
        Pool,
        nodes,
        topology: false,
        ...extra,
      } as PostgresReplicatedDialectConfig<object>)
  }

  it.each([
    ['topolgy', 'topology', { topolgy: {} }],
    ['poolOption', 'poolOptions', { poolOption: {} }],
    ['onPoolErorr', 'onPoolError', { onPoolErorr: () => {} }],
    ['sesionReset', 'sessionReset', { sesionReset: 'DISCARD ALL' }],
  ])('refuses %s (meaning %s) before building any pool', (key, meant, extra) => {
    expect(messageOf(create(extra))).toBe(
      `createPostgresReplicatedDialect() has no option '${key}'; did you mean '${meant}'? ` +
        'The options are: Pool, nodes, poolOptions, topology, dialectOptions, onPoolError, writingFunctions, sessionReset, balancing, fallback, localZone, health, readDeadline, hedge, monitor, readYourWrites.',
    )
    expect(built).toEqual([])
  })

  it('refuses replicas: the servers are all in nodes', () => {
    expect(messageOf(create({ replicas: [{}] }))).toMatch(
      /^createPostgresReplicatedDialect\(\) has no option 'replicas'\. The options are: Pool, nodes, /,
    )
  })

  it.each([
    [
      { host: 'b', wieght: 2 },
      "nodes[1] has 'wieght'; did you mean 'weight'? A node takes name, weight, zone and the settings of its pool.",
    ],
    [{ host: 'b', nmae: 'b' }, "nodes[1] has 'nmae'; did you mean 'name'?"],
    [{ host: 'b', weight: 0 }, 'nodes[1].weight must be a positive finite number, got 0.'],
    [{ host: 'b', name: '' }, 'nodes[1].name must be a non-empty string.'],
  ])('refuses node %j, naming it by its place in nodes', (node, message) => {
    expect(messageOf(create({}, [{ host: 'a' }, node]))).toContain(
      `createPostgresReplicatedDialect(): ${message}`,
    )
    expect(built).toEqual([])
  })

  it('passes other node keys to the pool', () => {
    expect(create({}, [{ host: 'a', application_name: 'x', max: 3 }])).not.toThrow()
  })

  it.each([
    [{ onPoolError: 'log' }, 'onPoolError must be a function (error, node) => void'],
    [{ dialectOptions: 'cursor' }, 'dialectOptions must be an object of PostgresDialect options'],
  ])('refuses %j', (extra, message) => {
    expect(messageOf(create(extra))).toContain(message)
  })

  it('refuses a misspelt option of the topology monitor', () => {
    expect(messageOf(create({ topology: { maxReplicationLag: { byte: 10 } } }))).toBe(
      "postgresTopology(): maxReplicationLag has no option 'byte'; did you mean 'bytes'? The options are: bytes, seconds, resumeRatio, resumeAfterMs.",
    )
  })
})

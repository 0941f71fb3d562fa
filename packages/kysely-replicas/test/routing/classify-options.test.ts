import { describe, expect, it } from 'vitest'
import { InvalidConfigError, ReplicasError } from '../../src/errors.js'
import { postgresWritingFunctions } from '../../src/postgres/writing-functions.js'
import { createClassifyOptions } from '../../src/routing/classify-query.js'
import { InvalidWritingFunctionError } from '../../src/routing/invalid-writing-function-error.js'

describe('createClassifyOptions', () => {
  it('starts from the PostgreSQL list and adds normalized user functions', () => {
    const options = createClassifyOptions([
      ' Create_Order ',
      'App."Cancel_Order"',
      'billing . charge',
      'billing. refund',
      'billing .void',
      'kasse.zÄhlen',
      '"my.app".charge',
    ])
    expect([...options.writingFunctions]).toEqual([
      ...postgresWritingFunctions,
      'create_order',
      'app.cancel_order',
      'billing.charge',
      'billing.refund',
      'billing.void',
      'kasse.zählen',
      'my.app.charge',
    ])
    expect(Object.isFrozen(options)).toBe(true)
  })

  it('leaves the PostgreSQL list out when asked', () => {
    expect([...createClassifyOptions(['create_order'], false).writingFunctions]).toEqual([
      'create_order',
    ])
    expect(createClassifyOptions(undefined, false).writingFunctions.size).toBe(0)
  })

  it.each([
    [['ok', ''], 1, 'is empty'],
    [['   '], 0, 'is empty'],
    [[42], 0, 'must be a string'],
    [[null], 0, 'must be a string'],
    [['db.app.create_order'], 0, 'has more parts than `schema.function`'],
    [['create_order()'], 0, 'is not a function name'],
    [['create order'], 0, 'is not a function name'],
    [['app.'], 0, 'is not a function name'],
    [['1st'], 0, 'is not a function name'],
  ])('refuses %j', (list, index, problem) => {
    const attempt = () => createClassifyOptions(list as string[])
    expect(attempt).toThrow(InvalidWritingFunctionError)
    try {
      attempt()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect(error).toBeInstanceOf(ReplicasError)
      expect(error).toMatchObject({
        name: 'InvalidWritingFunctionError',
        index,
        value: list[index],
      })
      expect((error as Error).message).toContain(`writingFunctions[${index}] ${problem}`)
    }
  })

  it('refuses a list that is not an array', () => {
    expect(() => createClassifyOptions('nextval' as unknown as string[])).toThrow(
      /^writingFunctions must be an array of function names \(got "nextval"\)/,
    )
  })
})

describe('postgresWritingFunctions', () => {
  it('is sorted, lower-case, without duplicates, and every entry is a valid name', () => {
    expect(postgresWritingFunctions).toEqual([...postgresWritingFunctions].sort())
    expect(new Set(postgresWritingFunctions).size).toBe(postgresWritingFunctions.length)
    for (const name of postgresWritingFunctions) {
      expect(name).toMatch(/^[a-z_][a-z0-9_]*$/)
    }
    expect(() => createClassifyOptions(postgresWritingFunctions, false)).not.toThrow()
    expect(Object.isFrozen(postgresWritingFunctions)).toBe(true)
  })

  it('holds what a standby refuses and leaves out session state', () => {
    for (const name of [
      'nextval',
      'setval',
      'pg_advisory_lock',
      'pg_notify',
      'txid_current',
      'lo_create',
      'pg_switch_wal',
      'pg_current_wal_lsn',
      'dblink_exec',
    ]) {
      expect(postgresWritingFunctions).toContain(name)
    }
    for (const name of ['set_config', 'pg_sleep', 'pg_stat_reset', 'pg_promote', 'now']) {
      expect(postgresWritingFunctions).not.toContain(name)
    }
  })
})

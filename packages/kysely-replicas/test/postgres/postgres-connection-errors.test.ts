import { isPostgresConnectionError } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'

// What the server says, as node-postgres reports it: `code` holds the SQLSTATE.
const serverError = (code: string, message = 'error') => Object.assign(new Error(message), { code })

describe('isPostgresConnectionError', () => {
  it.each([
    ['08006', 'connection failure'],
    ['08001', 'could not connect'],
    ['08P01', 'protocol violation'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P02', 'terminating connection due to crash of another server process'],
    ['57P03', 'the database system is starting up'],
    ['57P04', 'database dropped'],
  ])('blames the server for %s (%s)', (code, message) => {
    expect(isPostgresConnectionError(serverError(code, message))).toBe(true)
  })

  it.each(['40001', '40P01'])(
    'blames the server for a recovery conflict reported as %s',
    (code) => {
      const error = serverError(code, 'canceling statement due to conflict with recovery')
      expect(isPostgresConnectionError(error)).toBe(true)
    },
  )

  it('blames the query for a serialization failure or deadlock that is no recovery conflict', () => {
    expect(
      isPostgresConnectionError(
        serverError('40001', 'could not serialize access due to concurrent update'),
      ),
    ).toBe(false)
    expect(isPostgresConnectionError(serverError('40P01', 'deadlock detected'))).toBe(false)
  })

  it('needs the code of a recovery conflict, not only its words', () => {
    expect(
      isPostgresConnectionError(
        serverError('XX000', 'canceling statement due to conflict with recovery'),
      ),
    ).toBe(false)
    expect(
      isPostgresConnectionError({ message: 'canceling statement due to conflict with recovery' }),
    ).toBe(false)
  })

  it.each([
    ['42601', 'syntax error at or near "selec"'],
    ['23505', 'duplicate key value violates unique constraint'],
    ['42501', 'permission denied for table person'],
    ['25006', 'cannot execute INSERT in a read-only transaction'],
    ['57014', 'canceling statement due to statement timeout'],
  ])('blames the query for %s (%s)', (code, message) => {
    expect(isPostgresConnectionError(serverError(code, message))).toBe(false)
  })

  it('knows nothing of errors without a string code', () => {
    expect(isPostgresConnectionError({})).toBe(false)
    expect(isPostgresConnectionError({ code: 57 })).toBe(false)
    expect(isPostgresConnectionError({ code: undefined, message: 'Connection terminated' })).toBe(
      false,
    )
  })
})

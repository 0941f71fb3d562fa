import { isConnectionError, isSaturationError } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'

const withCode = (code: string, message = 'error') => Object.assign(new Error(message), { code })

describe('isConnectionError', () => {
  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ECONNABORTED',
    'EPIPE',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'EHOSTDOWN',
    'ENETUNREACH',
    'ENOTFOUND',
    'EAI_AGAIN',
  ])('blames the node for the socket error %s', (code) => {
    expect(isConnectionError(withCode(code, `connect ${code} 127.0.0.1:5432`))).toBe(true)
  })

  it('blames the node for what PostgreSQL says of itself', () => {
    expect(
      isConnectionError(withCode('57P01', 'terminating connection due to administrator command')),
    ).toBe(true)
    expect(isConnectionError(withCode('57P03', 'the database system is starting up'))).toBe(true)
    expect(
      isConnectionError(withCode('40001', 'canceling statement due to conflict with recovery')),
    ).toBe(true)
    expect(
      isConnectionError(withCode('40P01', 'canceling statement due to conflict with recovery')),
    ).toBe(true)
  })

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'Client has encountered a connection error and is not queryable',
    'Connection is closed',
    'connection closed',
    'socket hang up',
  ])('blames the node for a driver that lost its socket: "%s"', (message) => {
    expect(isConnectionError(new Error(message))).toBe(true)
  })

  it('does not read the words of an error that has a code', () => {
    expect(isConnectionError(withCode('42601', 'connection terminated near "x"'))).toBe(false)
  })

  it.each([
    withCode('42601', 'syntax error at or near "selec"'),
    withCode('23505', 'duplicate key value violates unique constraint'),
    withCode('40001', 'could not serialize access due to concurrent update'),
    withCode('EACCES', 'permission denied'),
    new Error('relation "person" does not exist'),
    new TypeError('cannot read properties of undefined'),
  ])('blames the query for %s', (error) => {
    expect(isConnectionError(error)).toBe(false)
  })

  it('is false for what is no error object', () => {
    for (const value of [undefined, null, 'ECONNREFUSED', 42, { message: 42 }]) {
      expect(isConnectionError(value)).toBe(false)
    }
  })

  it('reads only a message that is a string', () => {
    const wordy = { toString: () => 'Connection terminated unexpectedly' }
    expect(isConnectionError({ message: wordy })).toBe(false)
    expect(isConnectionError({ message: ['socket hang up'] })).toBe(false)
  })

  it('blames the node when any error of an AggregateError is a connection error', () => {
    const refused = withCode('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432')
    const syntax = withCode('42601', 'syntax error')
    expect(isConnectionError(new AggregateError([syntax, refused]))).toBe(true)
    expect(isConnectionError(new AggregateError([syntax]))).toBe(false)
    expect(isConnectionError(new AggregateError([]))).toBe(false)
  })
})

describe('isSaturationError', () => {
  const queueTimeout = () => new Error('timeout exceeded when trying to connect')

  it("knows node-postgres' pool giving up on a caller that waited for a free client", () => {
    expect(isSaturationError(queueTimeout())).toBe(true)
  })

  it('is not a new connection that timed out, nor the same words with a code', () => {
    expect(isSaturationError(new Error('Connection terminated due to connection timeout'))).toBe(
      false,
    )
    expect(
      isSaturationError(withCode('ETIMEDOUT', 'timeout exceeded when trying to connect')),
    ).toBe(false)
    expect(isConnectionError(queueTimeout())).toBe(false)
  })

  it('is false for what is no error object', () => {
    for (const value of [undefined, null, 'timeout exceeded when trying to connect', 7]) {
      expect(isSaturationError(value)).toBe(false)
    }
  })

  it('holds for an AggregateError only when every error in it is saturation', () => {
    expect(isSaturationError(new AggregateError([queueTimeout(), queueTimeout()]))).toBe(true)
    expect(
      isSaturationError(new AggregateError([queueTimeout(), withCode('ECONNREFUSED', 'refused')])),
    ).toBe(false)
    expect(isSaturationError(new AggregateError([]))).toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import { normalizeReadDeadline } from '../../src/health/read-deadline.js'

describe('readDeadline', () => {
  it('is off unless asked for', () => {
    expect(normalizeReadDeadline(undefined)).toBeUndefined()
    expect(normalizeReadDeadline(false)).toBeUndefined()
  })

  it('takes its defaults from {} and keeps what is given', () => {
    expect(normalizeReadDeadline({})).toEqual({ minMs: 200, maxMs: 800, latencyFactor: 8 })
    expect(normalizeReadDeadline({ maxMs: 500 })).toEqual({
      minMs: 200,
      maxMs: 500,
      latencyFactor: 8,
    })
  })

  it('refuses bad values and misspelled options, saying what to write', () => {
    expect(() => normalizeReadDeadline({ minMs: 0 })).toThrow(
      'readDeadline.minMs must be a positive number, got 0.',
    )
    expect(() => normalizeReadDeadline({ minMs: 500, maxMs: 100 })).toThrow(
      'readDeadline.maxMs must not be less than readDeadline.minMs.',
    )
    expect(() => normalizeReadDeadline({ maxMS: 500 } as never)).toThrow(/did you mean 'maxMs'/)
    expect(() => normalizeReadDeadline(true as never)).toThrow(
      /readDeadline must be false or an object/,
    )
  })
})

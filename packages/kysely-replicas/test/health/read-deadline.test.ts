import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../../src/errors.js'
import {
  deadlineMs,
  normalizeReadDeadline,
  type ReadDeadlineOptions,
} from '../../src/health/read-deadline.js'
import { NodeStats } from '../../src/nodes/node-stats.js'

const statsWithLatency = (latencyMs: number) => Object.assign(new NodeStats(), { latencyMs })

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
    expect(normalizeReadDeadline({ minMs: 300, maxMs: 300, latencyFactor: 2.5 })).toEqual({
      minMs: 300,
      maxMs: 300,
      latencyFactor: 2.5,
    })
  })

  it.each([
    ['minMs', 0],
    ['minMs', -1],
    ['maxMs', Number.NaN],
    ['maxMs', Number.POSITIVE_INFINITY],
    ['latencyFactor', 0],
    ['latencyFactor', '8'],
  ])('refuses %s: %s, saying what it takes', (key, value) => {
    const make = () => normalizeReadDeadline({ [key]: value })
    expect(make).toThrow(InvalidConfigError)
    expect(make).toThrow(`readDeadline.${key} must be a positive number, got ${String(value)}.`)
  })

  it('refuses a maximum below the minimum', () => {
    expect(() => normalizeReadDeadline({ minMs: 500, maxMs: 100 })).toThrow(
      'readDeadline.maxMs must not be less than readDeadline.minMs.',
    )
  })

  it('refuses misspelled options, naming the option and the right spelling', () => {
    expect(() => normalizeReadDeadline({ maxMS: 500 } as never)).toThrow(
      "readDeadline has no option 'maxMS'; did you mean 'maxMs'?",
    )
  })

  it.each([true, null, 500, [100]])('refuses %j, listing its options', (config) => {
    const make = () => normalizeReadDeadline(config as never)
    expect(make).toThrow(InvalidConfigError)
    expect(make).toThrow(
      'readDeadline must be false or an object such as { maxMs: 500 }; its options are minMs, maxMs, latencyFactor.',
    )
  })

  it.each([
    ['a replica with no latency yet gets the minimum', 0, 200],
    ['a fast replica gets the minimum', 10, 200],
    ['latencyFactor times the latency, between the bounds', 40, 320],
    ['a fraction of a ms counts', 62.5, 500],
    ['a slow replica gets the maximum', 150, 800],
  ])('deadline: %s (latency %s ms → %s ms)', (_, latencyMs, expected) => {
    const options: ReadDeadlineOptions = { minMs: 200, maxMs: 800, latencyFactor: 8 }
    expect(deadlineMs(options, statsWithLatency(latencyMs))).toBe(expected)
  })
})

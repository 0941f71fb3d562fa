import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../../src/errors.js'
import { type HedgeConfig, normalizeHedge } from '../../src/routing/hedge-config.js'

describe('the hedge option', () => {
  it('is off when false or absent', () => {
    expect(normalizeHedge(false)).toBeUndefined()
    expect(normalizeHedge(undefined)).toBeUndefined()
  })

  it('fills in the documented defaults', () => {
    expect(normalizeHedge({})).toEqual({ budget: 0.05, minDelayMs: 2, percentile: 0.95 })
    expect(normalizeHedge({ budget: 1, minDelayMs: 0, percentile: 0.5 })).toEqual({
      budget: 1,
      minDelayMs: 0,
      percentile: 0.5,
    })
  })

  it.each<[unknown, string]>([
    [
      null,
      'hedge must be false or an object such as { budget: 0.05 }; its options are budget, minDelayMs, percentile.',
    ],
    [
      [],
      'hedge must be false or an object such as { budget: 0.05 }; its options are budget, minDelayMs, percentile.',
    ],
    [
      true,
      'hedge must be false or an object such as { budget: 0.05 }; its options are budget, minDelayMs, percentile.',
    ],
    [
      { budget: '0.5' },
      'hedge.budget must be a share of the reads in (0, 1], such as 0.05; got 0.5.',
    ],
    [{ budget: 0 }, 'hedge.budget must be a share of the reads in (0, 1], such as 0.05; got 0.'],
    [
      { minDelayMs: Number.POSITIVE_INFINITY },
      'hedge.minDelayMs must be a number of milliseconds, 0 or more; got Infinity.',
    ],
    [
      { minDelayMs: -0.5 },
      'hedge.minDelayMs must be a number of milliseconds, 0 or more; got -0.5.',
    ],
    [{ percentile: 0 }, 'hedge.percentile must be a quantile in (0, 1), such as 0.95; got 0.'],
    [
      { percentile: '0.5' },
      'hedge.percentile must be a quantile in (0, 1), such as 0.95; got 0.5.',
    ],
  ])('refuses %j, saying what it takes', (hedge, message) => {
    const normalize = () => normalizeHedge(hedge as HedgeConfig)
    expect(normalize).toThrow(InvalidConfigError)
    expect(normalize).toThrow(message)
  })
})

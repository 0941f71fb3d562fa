import { describe, expect, it } from 'vitest'
import { closestName, editDistance } from '../../src/config/check-options.js'

describe('closestName', () => {
  it.each([
    ['replica', ['primary', 'replicas'], 'replicas'],
    ['readYourWrite', ['health', 'readYourWrites'], 'readYourWrites'],
    ['ReadYourWrites', ['health', 'readYourWrites'], 'readYourWrites'],
    ['wieght', ['dialect', 'name', 'weight'], 'weight'],
    ['nodedown', ['node-up', 'node-down'], 'node-down'],
    ['probeInterval', ['probeIntervalMs', 'maxProbeIntervalMs'], 'probeIntervalMs'],
    ['secs', ['bytes', 'seconds'], 'seconds'],
  ])('takes %j for a typo or an abbreviation of one of %j', (name, names, meant) => {
    expect(closestName(name, names)).toBe(meant)
  })

  it.each([
    ['pool', ['primary', 'replicas']],
    ['x', ['dialect', 'name', 'weight']],
    ['ms', ['intervalMs', 'timeoutMs']],
  ])('suggests nothing for %j among %j', (name, names) => {
    expect(closestName(name, names)).toBeUndefined()
  })
})

describe('editDistance', () => {
  it('counts a swap of two neighbours as one edit', () => {
    expect(editDistance('wieght', 'weight')).toBe(1)
    expect(editDistance('replica', 'replicas')).toBe(1)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })
})

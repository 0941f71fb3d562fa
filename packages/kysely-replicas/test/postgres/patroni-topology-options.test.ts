import { describe, expect, it } from 'vitest'
import { normalizePatroniOptions } from '../../src/postgres/patroni-topology-options.js'

describe('patroniTopology() options', () => {
  const urls = ['http://127.0.0.1:8008']

  it('reads /cluster every 100 ms during an outage, its SQL fallback every 250 ms', () => {
    const options = normalizePatroniOptions({ urls })
    expect(options.intervalMs).toBe(1000)
    expect(options.outageIntervalMs).toBe(100)
    expect(options.fallback.outageIntervalMs).toBe(250)
  })

  it('takes a given outage interval for both, never above the interval', () => {
    expect(normalizePatroniOptions({ urls, outageIntervalMs: 400 })).toMatchObject({
      outageIntervalMs: 400,
      fallback: { outageIntervalMs: 400 },
    })
    expect(normalizePatroniOptions({ urls, intervalMs: 50 }).outageIntervalMs).toBe(50)
  })
})

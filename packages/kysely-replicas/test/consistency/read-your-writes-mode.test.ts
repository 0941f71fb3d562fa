import { type ReadYourWritesConfig, replicationOf } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase } from '../support/database.js'

const positions = {
  primaryPosition: async () => 1n,
  replayedPosition: async () => 1n,
  clusterId: async () => 'c',
}

const modeOf = (readYourWrites: ReadYourWritesConfig | false | undefined) =>
  replicationOf(createRecordedDatabase(1, { readYourWrites }).db).readYourWritesMode

// The recording dialect speaks PostgreSQL (its adapter is Kysely's PostgresAdapter).
describe('the read-your-writes mode a dialect chose, and why', () => {
  it('is off when the config says false', () => {
    expect(modeOf(false)).toEqual({ mode: 'off', reason: 'readYourWrites is false in the config' })
  })

  it('names the mode the config asked for', () => {
    expect(modeOf({ mode: 'sticky' })).toEqual({
      mode: 'sticky',
      reason: "readYourWrites.mode is 'sticky' in the config",
    })
  })

  it('names the positions the config gave', () => {
    expect(modeOf({ positions })).toEqual({
      mode: 'position',
      reason: 'readYourWrites.positions is set in the config',
    })
  })

  it("otherwise says what the primary's dialect looked like", () => {
    for (const config of [undefined, {}]) {
      const chosen = modeOf(config)
      expect(chosen.mode).toBe('position')
      expect(chosen.reason).toMatch(/^the primary's dialect speaks PostgreSQL/)
    }
  })

  it('is frozen', () => {
    expect(Object.isFrozen(modeOf(false))).toBe(true)
    expect(Object.isFrozen(modeOf({ positions }))).toBe(true)
  })
})

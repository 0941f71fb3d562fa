import * as kysely from 'kysely'
import { onPrimary } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase } from './support/database.js'

// The CI legs (compat/run-leg.mjs) alias `kysely` to another version and say which in
// KYSELY_LEG_VERSION; without it, this is the workspace's own Kysely.
const legVersion = process.env.KYSELY_LEG_VERSION

describe('the Kysely these tests run on', () => {
  it('is the copy the library uses: one Kysely in the process', () => {
    const { db } = createRecordedDatabase()
    expect(db).toBeInstanceOf(kysely.Kysely)
    // The library's augmentation patched this very class, and its views are built from it.
    expect(typeof db.onPrimary).toBe('function')
    expect(onPrimary(db)).toBeInstanceOf(kysely.Kysely)
  })

  it.runIf(legVersion !== undefined)(`is Kysely ${legVersion}, as the leg asked`, () => {
    const [, minor = ''] = (legVersion ?? '').split('.')
    // AddValueNode (ALTER TYPE … ADD VALUE) is exported from 0.29 on.
    expect('AddValueNode' in kysely).toBe(Number(minor) >= 29)
  })
})

import { readFileSync } from 'node:fs'
import * as kysely from 'kysely'
import { onPrimary } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import { createRecordedDatabase } from './support/database.js'

// The CI legs (compat/run-leg.mjs) alias `kysely` to another version and say which in
// KYSELY_LEG_VERSION; without it, this is the package's own pinned Kysely.
const pinned: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  .devDependencies.kysely
const legVersion = process.env.KYSELY_LEG_VERSION ?? pinned

describe('the Kysely these tests run on', () => {
  it('is the copy the library uses: one Kysely in the process', () => {
    const { db } = createRecordedDatabase()
    expect(db).toBeInstanceOf(kysely.Kysely)
    // The library's augmentation patched this very class, and its views are built from it.
    expect(typeof db.onPrimary).toBe('function')
    expect(onPrimary(db)).toBeInstanceOf(kysely.Kysely)
  })

  it(`is Kysely ${legVersion}, as the leg (or the package's pin) asked`, () => {
    const [, minor = ''] = legVersion.split('.')
    // AddValueNode (ALTER TYPE … ADD VALUE) is exported from 0.29 on.
    expect('AddValueNode' in kysely).toBe(Number(minor) >= 29)
  })
})

import { Kysely } from 'kysely'
import { ReplicatedDialect, type ReplicatedDialectConfig } from 'kysely-replicas'
import { afterEach, expect } from 'vitest'
import { Journal, RecordingDialect } from './recording-dialect.js'

export interface Person {
  id: number
  name: string
}

export interface Database {
  person: Person
  audit: { id: number; note: string }
}

/**
 * A Kysely over a recording primary and `replicas` recording replicas, and their journal.
 * Read-your-writes is off unless the options turn it on: its position queries would otherwise
 * show in every journal.
 */
export function createRecordedDatabase(
  replicas = 2,
  options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {},
): { db: Kysely<Database>; journal: Journal } {
  const journal = new Journal()
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      ...options,
      primary: new RecordingDialect('primary', journal),
      replicas: Array.from({ length: replicas }, (_, index) => ({
        name: `replica-${index}`,
        dialect: new RecordingDialect(`replica-${index}`, journal),
      })),
    }),
  })
  return { db, journal }
}

/**
 * {@link createRecordedDatabase} for a `describe` block: after each test, every node connection
 * must have been given back, and the journal starts empty again.
 */
export function useRecordedDatabase(...args: Parameters<typeof createRecordedDatabase>) {
  const recorded = createRecordedDatabase(...args)
  afterEach(() => {
    expect(recorded.journal.allReleased).toBe(true)
    recorded.journal.clear()
  })
  return recorded
}

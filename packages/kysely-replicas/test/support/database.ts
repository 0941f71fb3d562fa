import { Kysely } from 'kysely'
import { ReplicatedDialect, type ReplicatedDialectConfig } from 'kysely-replicas'
import { Journal, RecordingDialect } from './recording-dialect.js'

export interface Person {
  id: number
  name: string
}

export interface Database {
  person: Person
  audit: { id: number; note: string }
}

/** A Kysely over a recording primary and `replicas` recording replicas, and their journal. */
export function createRecordedDatabase(
  replicas = 2,
  options: Omit<ReplicatedDialectConfig, 'primary' | 'replicas'> = {},
): { db: Kysely<Database>; journal: Journal } {
  const journal = new Journal()
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
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

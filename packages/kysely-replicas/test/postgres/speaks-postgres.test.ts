import {
  type Dialect,
  type DialectAdapter,
  DummyDriver,
  MssqlAdapter,
  MssqlQueryCompiler,
  MysqlAdapter,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresQueryCompiler,
  type QueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { speaksPostgres } from '../../src/postgres/speaks-postgres.js'

function dialect(adapter: DialectAdapter, compiler: QueryCompiler): Dialect {
  return {
    createAdapter: () => adapter,
    createQueryCompiler: () => compiler,
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  }
}

describe('speaksPostgres', () => {
  it("knows PostgreSQL by its adapter's traits and its $1 parameters", () => {
    const verdict = speaksPostgres(dialect(new PostgresAdapter(), new PostgresQueryCompiler()))
    expect(verdict.postgres).toBe(true)
    expect(verdict.evidence).toContain('PostgresAdapter')
    expect(verdict.evidence).toContain('"$1"')
  })

  it.each([
    ['SQLite', new SqliteAdapter(), new SqliteQueryCompiler()],
    ['MySQL', new MysqlAdapter(), new MysqlQueryCompiler()],
    ['SQL Server', new MssqlAdapter(), new MssqlQueryCompiler()],
    // A PostgreSQL-like adapter over a compiler with other placeholders is not PostgreSQL.
    ['a PostgreSQL adapter with a MySQL compiler', new PostgresAdapter(), new MysqlQueryCompiler()],
  ])('does not take %s for PostgreSQL', (_name, adapter, compiler) => {
    expect(speaksPostgres(dialect(adapter, compiler)).postgres).toBe(false)
  })

  it('needs no particular class: an adapter of its own with the same traits is PostgreSQL', () => {
    const adapter: DialectAdapter = {
      supportsReturning: true,
      supportsTransactionalDdl: true,
      supportsCreateIfNotExists: true,
      acquireMigrationLock: async () => {},
      releaseMigrationLock: async () => {},
    }
    expect(speaksPostgres(dialect(adapter, new PostgresQueryCompiler())).postgres).toBe(true)
  })
})

import { createQueryId, type Dialect, RawNode, ValueNode } from 'kysely'

/** Whether a dialect looks like PostgreSQL, and what it showed to say so. */
export interface PostgresVerdict {
  readonly postgres: boolean
  readonly evidence: string
}

// One parameter, compiled by the dialect's own compiler: PostgreSQL numbers them `$1`, MySQL and
// SQLite write `?`, SQL Server `@1`.
const ONE_PARAMETER = RawNode.create(['select ', ''], [ValueNode.create(1)])

/**
 * Tells PostgreSQL dialects (Kysely's `PostgresDialect`, and others built on its adapter and
 * compiler: PGlite, postgres.js, Neon…) from the rest by what their adapter and compiler do, not
 * by `instanceof PostgresAdapter`: with two copies of Kysely in a process (an ESM build next to a
 * CommonJS one) the dialect's class is not the one this module imported.
 */
export function speaksPostgres(dialect: Dialect): PostgresVerdict {
  const adapter = dialect.createAdapter()
  const placeholder = dialect.createQueryCompiler().compileQuery(ONE_PARAMETER, createQueryId()).sql
  const traits = [
    `supportsReturning: ${adapter.supportsReturning === true}`,
    `supportsTransactionalDdl: ${adapter.supportsTransactionalDdl === true}`,
    `supportsOutput: ${adapter.supportsOutput === true}`,
    `parameters compile as ${JSON.stringify(placeholder.slice('select '.length))}`,
  ].join(', ')
  const postgres =
    adapter.supportsReturning === true &&
    adapter.supportsTransactionalDdl === true &&
    adapter.supportsOutput !== true &&
    placeholder === 'select $1'
  return Object.freeze({
    postgres,
    evidence: `${adapter.constructor.name} (${traits})`,
  })
}

import fc from 'fast-check'
import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely'
import { replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildOracleQuery,
  ORACLE_SEQUENCE,
  type OracleDatabase,
  oracleQuery,
} from './support/oracle-queries.js'
import {
  clusterNodes,
  createReplicatedDatabase,
  serverPort,
  waitForReplicas,
} from './support/replicated-database.js'
import { runOnStandby } from './support/standby-oracle.js'

// PostgreSQL is the oracle: a query that a hot standby refuses as a write must have been routed
// to the primary. Generated queries run only on a standby, inside a read-only transaction that is
// rolled back; the ReplicatedDialect only compiles and classifies them, it never runs them.

const SEED = Number(process.env.FC_SEED ?? 20_250_611)
const RUNS = Number(process.env.FC_RUNS ?? 8000)

const { db: anyDb, primaryPort } = createReplicatedDatabase()
const db = anyDb as unknown as Kysely<OracleDatabase>
const standby = new pg.Client(clusterNodes().replicas[0])
standby.on('error', () => {})
let largeObject = 0

beforeAll(async () => {
  await dropTables()
  await sql`create table oracle_person (id serial primary key, name text not null, age int)`.execute(
    db.onPrimary(),
  )
  await sql`create table oracle_pet (id serial primary key, owner_id int not null, name text not null)`.execute(
    db.onPrimary(),
  )
  await sql`create sequence ${sql.id(ORACLE_SEQUENCE)}`.execute(db.onPrimary())
  await sql`insert into oracle_person (name, age) values ('ada', 36), ('grace', 45)`.execute(
    db.onPrimary(),
  )
  await sql`insert into oracle_pet (owner_id, name) values (1, 'rex')`.execute(db.onPrimary())
  const created = await sql<{ oid: number }>`select lo_from_bytea(0, 'oracle') as oid`.execute(
    db.onPrimary(),
  )
  largeObject = created.rows[0]?.oid ?? 0
  await waitForReplicas()
  await standby.connect()
})

afterAll(async () => {
  await standby.end()
  await sql`select lo_unlink(${largeObject})`.execute(db.onPrimary())
  await dropTables()
  await db.destroy()
})

async function dropTables(): Promise<void> {
  await sql`drop table if exists oracle_person, oracle_pet, oracle_into`.execute(db.onPrimary())
  await sql`drop sequence if exists ${sql.id(ORACLE_SEQUENCE)}`.execute(db.onPrimary())
}

/** Whether the dialect sends the query to a replica. */
function routedToReplica(query: CompiledQuery): boolean {
  return replicationOf(db).explain(query).access === 'read'
}

describe('routing oracle: a hot standby judges the classifier', () => {
  it('routes to the primary every generated query a standby refuses as a write', async () => {
    const counts = { queries: 0, primary: 0, servedAnyway: 0, otherErrors: 0 }
    const otherErrors = new Map<string, number>()
    // Every hole is collected, not just the first: the list is what a fix needs.
    const holes: string[] = []
    const started = performance.now()
    await fc.assert(
      fc.asyncProperty(oracleQuery, async (spec) => {
        const compiled = buildOracleQuery(db, spec, largeObject).compile()
        const toReplica = routedToReplica(compiled)
        const verdict = await runOnStandby(standby, compiled)
        counts.queries++
        if (!toReplica) counts.primary++
        if (!toReplica && verdict.kind === 'served') {
          counts.servedAnyway++
          if (process.env.ORACLE_VERBOSE) console.info(`served anyway: ${compiled.sql}`)
        }
        if (verdict.kind === 'other-error') {
          counts.otherErrors++
          otherErrors.set(verdict.message, (otherErrors.get(verdict.message) ?? 0) + 1)
        }
        if (toReplica && verdict.kind === 'refused') {
          holes.push(`${verdict.message}:\n  ${compiled.sql}`)
        }
      }),
      { seed: SEED, numRuns: RUNS },
    )
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    console.info(
      `routing oracle (seed ${SEED}): ${counts.queries} queries in ${seconds} s, ${counts.primary} primary-routed, of which ${counts.servedAnyway} a standby would have served; ${counts.otherErrors} other errors, ${holes.length} holes`,
    )
    if (process.env.ORACLE_VERBOSE) console.info(otherErrors)
    expect(holes, `${holes.length} queries routed to a replica and refused there`).toEqual([])
    // Generated SQL is meant to be valid: a flood of other errors would make the oracle blind.
    expect(counts.otherErrors).toBeLessThan(counts.queries / 10)
  })
})

// Raw text that used to slip through to a replica (issue 9, item 12), run through the dialect:
// each one must reach the primary and succeed there. None of them changes a row.
describe('raw fragments that a replica refuses, run through the dialect', () => {
  const person = () => db.selectFrom('oracle_person as p').select(serverPort).limit(1)
  const cte = (body: RawBuilder<unknown>) =>
    db
      .with('c', () => body as RawBuilder<{ id: number }>)
      .selectFrom('oracle_person as p')
      .select(serverPort)
      .limit(1)

  it.each([
    [
      'update of sql.table() in a CTE',
      () => cte(sql`(update ${sql.table('oracle_pet')} set name = name where false returning id)`),
    ],
    [
      'UPDATE of sql.id() with an alias in a CTE',
      () =>
        cte(sql`(UPDATE ${sql.id('oracle_pet')} p SET name = p.name WHERE false RETURNING p.id)`),
    ],
    [
      'update only (t) in a CTE',
      () => cte(sql`(update only (oracle_pet) set name = name where false returning id)`),
    ],
    [
      'delete with a comment in a CTE',
      () => cte(sql`(delete /* gone */ from oracle_pet where false returning id)`),
    ],
    ['FOR /*c*/ UPDATE', () => person().modifyEnd(sql`FOR /*c*/ UPDATE`)],
    ['for -- c, then share', () => person().modifyEnd(sql`for -- c\n share`)],
    ['for sql.raw(update)', () => person().modifyEnd(sql`for ${sql.raw('update')}`)],
    ['for and update in two modifiers', () => person().modifyEnd(sql`for`).modifyEnd(sql`update`)],
    ['nextval /*c*/ (…)', () => person().select(sql`nextval /*c*/ (${ORACLE_SEQUENCE})`.as('n'))],
    ['U&"…" nextval', () => person().select(sql`U&"\\006Eextval"('oracle_seq')`.as('n'))],
    [
      'eb.fn with a comment in the name',
      () =>
        person().select((eb) =>
          eb.fn('pg_catalog . /*c*/ nextval', [sql.lit(ORACLE_SEQUENCE)]).as('n'),
        ),
    ],
    [
      'lo_open for writing, literal mode',
      () => person().select(sql`lo_open(${largeObject}, 131072)`.as('fd')),
    ],
    [
      'lo_open for writing, parameter mode',
      () => person().select(sql`lo_open(${largeObject}, ${0x20000})`.as('fd')),
    ],
    [
      'a lock after a line comment that a carriage return ends',
      () => person().modifyEnd(sql`-- lock it\rfor share`),
    ],
    [
      'a lock in the text of a node inside a line comment',
      () => person().modifyEnd(sql`-- ${db.selectNoFrom(sql.lit('\nfor update --').as('x'))}`),
    ],
    [
      'lo_open for writing through eb.fn',
      () =>
        person().select((eb) => eb.fn('lo_open', [eb.val(largeObject), eb.val(0x60000)]).as('fd')),
    ],
  ])('%s', async (_name, query) => {
    const { port } = await query().executeTakeFirstOrThrow()
    expect(port).toBe(primaryPort)
  })

  it('sends raw sql naming a column constructor to a replica', async () => {
    const { port } = await person()
      .select(sql<number>`(select 1 as constructor)`.as('c'))
      .executeTakeFirstOrThrow()
    expect(port).not.toBe(primaryPort)
  })

  it('still sends lo_open for reading to a replica', async () => {
    const { port } = await person()
      .select(sql`lo_open(${largeObject}, ${0x40000})`.as('fd'))
      .executeTakeFirstOrThrow()
    expect(port).not.toBe(primaryPort)
  })
})

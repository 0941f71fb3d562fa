// The consumer smoke checks, shared by every entry point (esm.mjs, cjs.cjs, mixed.mjs, typed.ts).
// CommonJS with no imports of its own, so that every module system can load it and each entry
// point alone decides how Kysely and kysely-replicas are loaded. run.mjs says what the cluster
// is in SMOKE_CLUSTER: pool settings, which ports are which, and the one replica that replays
// (the other one is paused).
const assert = require('node:assert/strict')

const cluster = JSON.parse(process.env.SMOKE_CLUSTER ?? '{}')

/** A Kysely through a ReplicatedDialect over the smoke cluster. */
function createDatabase({ Kysely, PostgresDialect, ReplicatedDialect, pg }) {
  const dialect = (config) => new PostgresDialect({ pool: new pg.Pool({ max: 4, ...config }) })
  return new Kysely({
    dialect: new ReplicatedDialect({
      primary: dialect(cluster.primary),
      replicas: cluster.replicas.map(dialect),
      // Long enough for the replaying replica on a busy machine: the read must not time out to
      // the primary, which is where sticky mode would send it too.
      readYourWrites: { maxWaitMs: 30_000 },
    }),
  })
}

/** Routing and read-your-writes as an application sees them; prints one line, throws on a miss. */
async function runChecks({ db, sql, replicationOf, label }) {
  const port = sql`inet_server_port()`.as('port')
  try {
    const read = await db.selectNoFrom(port).executeTakeFirstOrThrow()
    assert.ok(
      cluster.replicaPorts.includes(read.port),
      `a read ran on :${read.port}, not a replica`,
    )

    const written = await db
      .insertInto(cluster.table)
      .values({ name: label })
      .returning(['id', port])
      .executeTakeFirstOrThrow()
    assert.equal(written.port, cluster.primaryPort, 'a write ran elsewhere than on the primary')

    const { mode, reason } = replicationOf(db).readYourWritesMode
    assert.equal(mode, 'position', `read-your-writes is ${mode}: ${reason}`)
    const seen = await replicationOf(db).runInScope(async () => {
      const { id } = await db
        .insertInto(cluster.table)
        .values({ name: label })
        .returning('id')
        .executeTakeFirstOrThrow()
      return db
        .selectFrom(cluster.table)
        .select(['name', port])
        .where('id', '=', id)
        .executeTakeFirst()
    })
    assert.equal(seen?.name, label, 'a read after a write did not see it')
    // Sticky mode would have read from the primary; position mode, from the replica that replays.
    assert.equal(seen.port, cluster.liveReplicaPort, `the read after a write ran on :${seen.port}`)

    const augmented =
      typeof db.onPrimary === 'function' ? 'db.onPrimary() there' : 'no db.onPrimary()'
    console.log(
      `${label}: read on replica :${read.port}, write on primary :${written.port}, read-your-writes ${mode} (the read after a write on replica :${seen.port}); ${augmented}`,
    )
  } finally {
    await db.destroy()
  }
}

module.exports = { createDatabase, runChecks }

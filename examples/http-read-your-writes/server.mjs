// Serves the app on http://127.0.0.1:3000 (PORT) over a local primary and two streaming replicas
// (@kysely-replicas/pg-cluster) until Ctrl-C. With your own database, only the dialect changes.
import { randomBytes } from 'node:crypto'
import { serve } from '@hono/node-server'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { Kysely, PostgresDialect } from 'kysely'
import { handlePoolErrors, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { createApp, TOKEN_HEADER } from './app.mjs'

console.error('Starting a PostgreSQL primary and two replicas…')
const cluster = await PgCluster.start({ replicas: 2 })
const node = (member) => ({
  name: member.name,
  dialect: new PostgresDialect({
    pool: handlePoolErrors(new pg.Pool({ ...member.poolConfig(), connectionTimeoutMillis: 2000 })),
  }),
})
const db = new Kysely({
  dialect: new ReplicatedDialect({
    primary: node(cluster.primary),
    replicas: cluster.replicas.map(node),
    // Signed tokens: a client cannot forge one. Share the secret between servers.
    readYourWrites: { tokenSecret: process.env.RYW_SECRET ?? randomBytes(32).toString('hex') },
  }),
})
replicationOf(db).on('consistency', ({ kind, detail }) => console.error(`[${kind}] ${detail}`))
await db.schema
  .createTable('note')
  .addColumn('id', 'serial', (col) => col.primaryKey())
  .addColumn('text', 'text', (col) => col.notNull())
  .execute()
await cluster.waitForReplay()

const nodeByPort = new Map(cluster.nodes.map((member) => [member.port, member.name]))
const port = Number(process.env.PORT ?? 3000)
const server = serve(
  { fetch: createApp(db, { nodeByPort }).fetch, hostname: '127.0.0.1', port },
  () => {
    console.log(`Listening on http://127.0.0.1:${port}. Try:
  curl -si -X POST http://127.0.0.1:${port}/notes -H 'content-type: application/json' -d '{"text":"hello"}'
  curl -si http://127.0.0.1:${port}/notes/1 -H '${TOKEN_HEADER}: <the token of the POST response>'
Ctrl-C stops the server and the cluster.`)
  },
)
process.once('SIGINT', async () => {
  server.close()
  await db.destroy()
  await cluster.stop()
})

// Read-your-writes across HTTP requests: a Hono server on kysely-replicas. Every request runs in
// a consistency scope started from the client's token (header or cookie); every response carries
// the scope's token back. A client that sends its token with its next request reads what it
// wrote, from a replica that has it or from the primary, never from a replica that is behind.
//
//   node server.mjs               serve on http://127.0.0.1:3000 until Ctrl-C
//   node server.mjs --self-test   start, make the requests below against itself, stop, exit 0
import { randomBytes } from 'node:crypto'
import { serve } from '@hono/node-server'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { handlePoolErrors, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'

const TOKEN_HEADER = 'x-consistency-token'
const TOKEN_COOKIE = 'ryw'
const selfTest = process.argv.includes('--self-test')
// How late replica2 applies commits in the self-test: longer than read-your-writes waits for a
// replica (maxWaitMs, 100 ms by default), so that a read right after a write must go elsewhere.
const REPLICA2_DELAY_MS = 300

console.error('Starting a PostgreSQL primary and two replicas…')
const cluster = await PgCluster.start({ replicas: 2 })
const nodeByPort = new Map(cluster.nodes.map((node) => [node.port, node.name]))

const dialect = (node) =>
  new PostgresDialect({ pool: handlePoolErrors(new pg.Pool({ ...node.poolConfig(), max: 10 })) })
const db = new Kysely({
  dialect: new ReplicatedDialect({
    primary: { name: cluster.primary.name, dialect: dialect(cluster.primary) },
    replicas: cluster.replicas.map((node) => ({ name: node.name, dialect: dialect(node) })),
    // On by default; a secret signs the tokens, so that a client cannot forge one.
    readYourWrites: { tokenSecret: process.env.RYW_SECRET ?? randomBytes(32).toString('hex') },
  }),
})
const consistencyEvents = []
replicationOf(db).on('consistency', (event) => {
  consistencyEvents.push(event)
  console.error(`  [consistency] ${event.kind}: ${event.detail}`)
})

await db.schema
  .createTable('note')
  .addColumn('id', 'serial', (col) => col.primaryKey())
  .addColumn('text', 'text', (col) => col.notNull())
  .execute()
await cluster.waitForReplay()

const app = new Hono()

// One consistency scope per request, started from the client's token, whose token goes back in
// the response (header for API clients, cookie for browsers).
app.use(async (c, next) => {
  const token = c.req.header(TOKEN_HEADER) ?? getCookie(c, TOKEN_COOKIE)
  await replicationOf(db).runInScope(async () => {
    await next()
    const scopeToken = replicationOf(db).token()
    c.header(TOKEN_HEADER, scopeToken)
    setCookie(c, TOKEN_COOKIE, scopeToken, { path: '/', httpOnly: true, sameSite: 'Lax' })
  }, token)
})

app.post('/notes', async (c) => {
  const body = await c.req.json().catch(() => undefined)
  if (typeof body?.text !== 'string' || body.text === '') {
    return c.json({ error: 'expected { "text": "…" }' }, 400)
  }
  const note = await db
    .insertInto('note')
    .values({ text: body.text })
    .returning(['id', 'text'])
    .executeTakeFirstOrThrow()
  return c.json(note, 201)
})

app.get('/notes/:id', async (c) => {
  const id = Number(c.req.param('id'))
  if (!Number.isSafeInteger(id)) {
    return c.json({ error: 'not a note id' }, 400)
  }
  // The server's port says which node answered: shown in the response for the demo's sake.
  const row = await db
    .selectNoFrom((eb) => [
      sql`inet_server_port()`.as('port'),
      eb.selectFrom('note').select('text').where('id', '=', id).as('text'),
    ])
    .executeTakeFirstOrThrow()
  const servedBy = nodeByPort.get(row.port) ?? String(row.port)
  if (row.text === null) {
    return c.json({ error: 'not found', servedBy }, 404)
  }
  return c.json({ id, text: row.text, servedBy })
})

const server = await new Promise((resolve) => {
  const started = serve(
    {
      fetch: app.fetch,
      hostname: '127.0.0.1',
      port: selfTest ? 0 : Number(process.env.PORT ?? 3000),
    },
    () => resolve(started),
  )
})
const base = `http://127.0.0.1:${server.address().port}`

async function shutdown() {
  await new Promise((resolve) => server.close(resolve))
  await db.destroy()
  await cluster.stop()
}

if (selfTest) {
  let ok = false
  try {
    ok = await runSelfTest()
  } catch (error) {
    console.error(error)
  } finally {
    await shutdown()
  }
  process.exit(ok ? 0 : 1)
} else {
  console.log(`Listening on ${base}. Try:
  curl -si -X POST ${base}/notes -H 'content-type: application/json' -d '{"text":"hello"}'
  curl -si ${base}/notes/1 -H '${TOKEN_HEADER}: <the token of the POST response>'
Ctrl-C stops the server and the cluster.`)
  process.once('SIGINT', () => {
    shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}

async function runSelfTest() {
  const [replica1, replica2] = cluster.replicas
  await cluster.pauseReplay(replica1)
  await cluster.setApplyDelay(replica2, REPLICA2_DELAY_MS)
  console.log(
    `replica1: replay paused (never sees new rows); replica2: applies commits ${REPLICA2_DELAY_MS} ms late\n`,
  )

  const results = []
  const request = async (label, path, { token, cookie, body } = {}) => {
    const headers = {}
    if (token !== undefined) headers[TOKEN_HEADER] = token
    if (cookie !== undefined) headers.cookie = `${TOKEN_COOKIE}=${cookie}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const started = performance.now()
    const response = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = await response.json()
    const ms = performance.now() - started
    results.push({
      request: label,
      status: response.status,
      'served by': json.servedBy ?? 'primary (write)',
      ms: Number(ms.toFixed(1)),
    })
    return { status: response.status, json, token: response.headers.get(TOKEN_HEADER) }
  }

  const created = await request('POST /notes', '/notes', { body: { text: 'hello' } })
  const path = `/notes/${created.json.id}`
  const token = created.token
  console.log(`POST /notes → ${created.status} ${JSON.stringify(created.json)}`)
  console.log(`${TOKEN_HEADER}: ${token}\n`)

  const withoutToken = [
    await request(`GET ${path}, no token`, path),
    await request(`GET ${path}, no token`, path),
  ]
  const withToken = [
    await request(`GET ${path}, header token`, path, { token }),
    await request(`GET ${path}, cookie token`, path, { cookie: token }),
  ]
  const forged = `${token.slice(0, token.lastIndexOf('.'))}.forged`
  consistencyEvents.length = 0
  const withForged = await request(`GET ${path}, forged token`, path, { token: forged })
  const forgedRejected = consistencyEvents.some(
    (event) => event.kind === 'token-rejected' && event.detail === 'bad-signature',
  )
  await new Promise((resolve) => setTimeout(resolve, REPLICA2_DELAY_MS + 100))
  const later = await request(
    `GET ${path}, header token, ${REPLICA2_DELAY_MS + 100} ms later`,
    path,
    {
      token,
    },
  )
  console.table(results)

  const checks = [
    [
      'every read with the token found the note',
      [...withToken, later].every((r) => r.status === 200),
    ],
    [
      'no read with the token was served by the paused replica',
      [...withToken, later].every((r) => r.json.servedBy !== 'replica1'),
    ],
    [
      'a read without the token missed it (stale replica)',
      withoutToken.some((r) => r.status === 404),
    ],
    [
      'a forged token was refused (bad-signature) without failing the request',
      forgedRejected && (withForged.status === 200 || withForged.status === 404),
    ],
    [
      'once replica2 caught up, the token let it serve the read',
      later.json.servedBy === 'replica2',
    ],
  ]
  console.log()
  for (const [what, passed] of checks) {
    console.log(`${passed ? 'ok  ' : 'FAIL'} ${what}`)
  }
  return checks.every(([, passed]) => passed)
}

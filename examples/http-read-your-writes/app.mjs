// A Hono app on kysely-replicas whose clients read what they wrote. The whole recipe is
// `consistencyScope(db)`: each request runs in a read-your-writes scope of its own, started from
// the token the client sent back (a header or a cookie), and the response carries the scope's
// token in both.
import { Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { sql } from 'kysely'
import { replicationOf } from 'kysely-replicas'

export const TOKEN_HEADER = 'x-consistency-token'
export const TOKEN_COOKIE = 'ryw'

/** Hono middleware: one read-your-writes scope per request, its token in the response. */
export function consistencyScope(db) {
  const replication = replicationOf(db)
  return async (c, next) => {
    const token = c.req.header(TOKEN_HEADER) ?? getCookie(c, TOKEN_COOKIE)
    await replication.runInScope(async () => {
      await next()
      // After the handler, in its scope: the token carries the handler's writes.
      const scopeToken = replication.token()
      c.header(TOKEN_HEADER, scopeToken)
      setCookie(c, TOKEN_COOKIE, scopeToken, { path: '/', httpOnly: true, sameSite: 'Lax' })
    }, token)
  }
}

/**
 * The app. A read says which node served it (`servedBy`: the node's name from `nodeByPort`, by
 * the server's port), so that a demo or a test can see where read-your-writes sent it.
 */
export function createApp(db, { nodeByPort = new Map() } = {}) {
  const app = new Hono()
  app.use(consistencyScope(db))

  app.post('/notes', async (c) => {
    const body = await c.req.json().catch(() => undefined)
    if (typeof body?.text !== 'string' || body.text === '') {
      return c.json({ error: 'expected { "text": "…" }' }, 400)
    }
    const { id } = await db
      .insertInto('note')
      .values({ text: body.text })
      .returning('id')
      .executeTakeFirstOrThrow()
    // A read right after the write, in the same request: a replica that has it, or the primary.
    return c.json(await findNote(db, id, nodeByPort), 201)
  })

  app.get('/notes/:id', async (c) => {
    const id = Number(c.req.param('id'))
    if (!Number.isSafeInteger(id)) {
      return c.json({ error: 'not a note id' }, 400)
    }
    const note = await findNote(db, id, nodeByPort)
    return note.text === null ? c.json({ error: 'not found', ...note }, 404) : c.json(note)
  })

  return app
}

// One query, so that the port and the note come from the same node.
async function findNote(db, id, nodeByPort) {
  const row = await db
    .selectNoFrom((eb) => [
      sql`inet_server_port()`.as('port'),
      eb.selectFrom('note').select('text').where('id', '=', id).as('text'),
    ])
    .executeTakeFirstOrThrow()
  return { id, text: row.text, servedBy: nodeByPort.get(row.port) ?? String(row.port) }
}

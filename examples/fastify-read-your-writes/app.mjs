// A Fastify app on kysely-replicas whose clients read what they wrote. The whole recipe is
// `consistencyScope(db)`: each request runs in a read-your-writes scope of its own, started from
// the token the client sent back, and the response carries the scope's token.
import Fastify from 'fastify'
import { replicationOf } from 'kysely-replicas'

export const TOKEN_HEADER = 'x-consistency-token'

/** Fastify hooks: one read-your-writes scope per request, its token in the response. */
export function consistencyScope(app, db) {
  const replication = replicationOf(db)
  // onRequest, the first hook: the scope covers the later hooks (authentication…) and the handler.
  app.addHook('onRequest', (request, _reply, done) => {
    replication.runInScope(done, request.headers[TOKEN_HEADER]).catch(done)
  })
  // onSend runs once the handler is done, in its scope: the token carries the handler's writes.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header(TOKEN_HEADER, replication.token())
    return payload
  })
}

export function createApp(db) {
  const app = Fastify()
  consistencyScope(app, db)

  app.post('/notes', async (request, reply) => {
    if (typeof request.body?.text !== 'string' || request.body.text === '') {
      return reply.code(400).send({ error: 'expected { "text": "…" }' })
    }
    const { id } = await db
      .insertInto('note')
      .values({ text: request.body.text })
      .returning('id')
      .executeTakeFirstOrThrow()
    // A read right after the write, in the same request: a replica that has it, or the primary.
    return reply.code(201).send(await findNote(db, id))
  })

  app.get('/notes/:id', async (request, reply) => {
    const note = await findNote(db, Number(request.params.id))
    if (note === undefined) {
      return reply.code(404).send({ error: 'not found' })
    }
    return note
  })

  return app
}

function findNote(db, id) {
  if (!Number.isSafeInteger(id)) return undefined
  return db.selectFrom('note').select(['id', 'text']).where('id', '=', id).executeTakeFirst()
}

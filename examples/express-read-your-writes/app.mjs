// An Express app on kysely-replicas whose clients read what they wrote. The whole recipe is
// `consistencyScope(db)`: each request runs in a read-your-writes scope of its own, started from
// the token the client sent back, and the response carries the scope's token.
import express from 'express'
import { replicationOf } from 'kysely-replicas'
import onHeaders from 'on-headers'

export const TOKEN_HEADER = 'x-consistency-token'

/** Express middleware: one read-your-writes scope per request, its token in the response. */
export function consistencyScope(db) {
  const replication = replicationOf(db)
  return (req, res, next) => {
    replication
      .runInScope(() => {
        // Taken when the headers go out, that is after the handler's writes.
        onHeaders(res, () => res.setHeader(TOKEN_HEADER, replication.token()))
        next()
      }, req.get(TOKEN_HEADER))
      .catch(next)
  }
}

export function createApp(db) {
  const app = express()
  app.use(express.json())
  app.use(consistencyScope(db))

  app.post('/notes', async (req, res) => {
    if (typeof req.body?.text !== 'string' || req.body.text === '') {
      res.status(400).json({ error: 'expected { "text": "…" }' })
      return
    }
    const { id } = await db
      .insertInto('note')
      .values({ text: req.body.text })
      .returning('id')
      .executeTakeFirstOrThrow()
    // A read right after the write, in the same request: a replica that has it, or the primary.
    res.status(201).json(await findNote(db, id))
  })

  app.get('/notes/:id', async (req, res) => {
    const note = await findNote(db, Number(req.params.id))
    if (note === undefined) {
      res.status(404).json({ error: 'not found' })
      return
    }
    res.json(note)
  })

  return app
}

function findNote(db, id) {
  if (!Number.isSafeInteger(id)) return undefined
  return db.selectFrom('note').select(['id', 'text']).where('id', '=', id).executeTakeFirst()
}

// The checks every HTTP recipe passes, over real HTTP against the shared test cluster
// (test/global-setup.ts). A recipe gives a function that serves its app on a Kysely and returns
// the server's address; the checks create the app's `note` table in a schema of the recipe's own,
// so that recipes and the other integration tests share the cluster without meeting.
import { type Generated, Kysely, PostgresDialect, sql } from 'kysely'
import { handlePoolErrors, ReplicatedDialect } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type {} from '../../test/support/cluster-info.js'

/** The recipes' one table. */
export interface NoteDatabase {
  note: { id: Generated<number>; text: string }
}

/** A recipe's server, listening on 127.0.0.1. */
export interface RecipeServer {
  readonly url: string
  close(): Promise<void>
}

/** Serves the recipe's app on `db` (port 0: any free port). */
export type StartRecipe = (db: Kysely<NoteDatabase>) => Promise<RecipeServer>

/** What a recipe does beyond the header every recipe reads and sets. */
export interface RecipeOptions {
  /** The cookie the recipe also reads the token from and sets it in, for browsers. */
  readonly tokenCookie?: string
}

const TOKEN_HEADER = 'x-consistency-token'

/** The position in a token (tokens are opaque to applications; the checks peek). */
const tokenPosition = (token: string | null) => token?.split('.')[2] ?? 'no token'

interface Reply {
  readonly status: number
  readonly body: { id?: number; text?: string }
  readonly token: string | null
  /** The `Set-Cookie` headers of the response. */
  readonly cookies: readonly string[]
}

export function describeRecipe(
  name: string,
  start: StartRecipe,
  { tokenCookie }: RecipeOptions = {},
): void {
  describe(`${name} recipe: one read-your-writes scope per request`, () => {
    const schema = `recipe_${name.toLowerCase()}`
    let db: Kysely<NoteDatabase>
    let server: RecipeServer

    async function request(
      method: 'GET' | 'POST',
      path: string,
      { token, cookie, text }: { token?: string; cookie?: string; text?: string } = {},
    ): Promise<Reply> {
      const headers: Record<string, string> = {}
      if (token !== undefined) headers[TOKEN_HEADER] = token
      if (cookie !== undefined) headers.cookie = cookie
      if (text !== undefined) headers['content-type'] = 'application/json'
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers,
        body: text === undefined ? undefined : JSON.stringify({ text }),
      })
      return {
        status: response.status,
        body: (await response.json()) as Reply['body'],
        token: response.headers.get(TOKEN_HEADER),
        cookies: response.headers.getSetCookie(),
      }
    }

    beforeAll(async () => {
      const { nodes } = inject('cluster')
      const dialect = (node: (typeof nodes)[number]) => ({
        name: node.name,
        dialect: new PostgresDialect({
          pool: handlePoolErrors(new pg.Pool({ ...node, max: 10, connectionTimeoutMillis: 2000 })),
        }),
      })
      const primary = nodes.find((node) => node.role === 'primary')
      if (primary === undefined) throw new Error('the shared cluster has no primary')
      const root = new Kysely<NoteDatabase>({
        dialect: new ReplicatedDialect({
          primary: dialect(primary),
          replicas: nodes.filter((node) => node.role === 'replica').map(dialect),
          readYourWrites: { tokenSecret: 'http-recipe-checks-secret' },
        }),
      })
      await root.schema.dropSchema(schema).ifExists().cascade().execute()
      await root.schema.createSchema(schema).execute()
      db = root.withSchema(schema)
      await db.schema
        .createTable('note')
        .addColumn('id', 'serial', (col) => col.primaryKey())
        .addColumn('text', 'text', (col) => col.notNull())
        .execute()
      await untilEveryReplicaHasTheTable(db, `${schema}.note`, nodes.length - 1)
      server = await start(db)
    })

    afterAll(async () => {
      await server?.close()
      await db?.destroy()
    })

    it('reads a write made earlier in the same request', async () => {
      const created = await request('POST', '/notes', { text: 'written then read' })

      expect(created.status).toBe(201)
      expect(created.body.text).toBe('written then read')
      expect(tokenPosition(created.token)).toMatch(/^[0-9a-f]+$/)
    })

    it("carries a request's write to the next request through the token", async () => {
      const created = await request('POST', '/notes', { text: 'read on the next request' })
      const read = await request('GET', `/notes/${created.body.id}`, {
        token: created.token ?? '',
      })

      expect(read.status).toBe(200)
      expect(read.body.text).toBe('read on the next request')
      expect(tokenPosition(read.token)).toMatch(/^[0-9a-f]+$/)
      expect(tokenPosition(read.token)).toBe(tokenPosition(created.token))
    })

    it("keeps another client's request out of the writer's scope", async () => {
      const created = await request('POST', '/notes', { text: 'not yours' })
      const other = await request('GET', `/notes/${created.body.id}`)

      expect([200, 404]).toContain(other.status)
      expect(tokenPosition(other.token)).toBe('')
    })

    it('keeps the scopes of concurrent requests apart', async () => {
      const { body: seed, token: seedToken } = await request('POST', '/notes', { text: 'seed' })
      const rounds = Array.from({ length: 8 }, (_, i) => i)

      const [writers, readers, carriers] = await Promise.all([
        Promise.all(rounds.map((i) => request('POST', '/notes', { text: `concurrent ${i}` }))),
        Promise.all(rounds.map(() => request('GET', `/notes/${seed.id}`))),
        Promise.all(
          rounds.map(() => request('GET', `/notes/${seed.id}`, { token: seedToken ?? '' })),
        ),
      ])

      writers.forEach((writer, i) => {
        expect(writer.body.text).toBe(`concurrent ${i}`)
        expect(tokenPosition(writer.token)).toMatch(/^[0-9a-f]+$/)
      })
      for (const reader of readers) expect(tokenPosition(reader.token)).toBe('')
      for (const carrier of carriers) {
        expect(carrier.body.text).toBe('seed')
        expect(tokenPosition(carrier.token)).toBe(tokenPosition(seedToken))
      }
    })

    // Only for recipes that take a cookie: the others have no such test rather than a skipped one.
    if (tokenCookie !== undefined) {
      it("carries a request's write to the next request through the cookie", async () => {
        const created = await request('POST', '/notes', { text: 'read with the cookie' })
        const cookie = created.cookies
          .map((header) => header.split(';')[0] ?? '')
          .find((pair) => pair.startsWith(`${tokenCookie}=`))
        const read = await request('GET', `/notes/${created.body.id}`, { cookie: cookie ?? '' })

        expect(tokenPosition(created.token)).toMatch(/^[0-9a-f]+$/)
        expect(tokenPosition(cookie?.slice(tokenCookie.length + 1) ?? null)).toBe(
          tokenPosition(created.token),
        )
        expect(read.status).toBe(200)
        expect(read.body.text).toBe('read with the cookie')
        expect(tokenPosition(read.token)).toBe(tokenPosition(created.token))
      })
    }

    it('serves a request whose token is forged', async () => {
      const { body: seed } = await request('POST', '/notes', { text: 'forged token' })
      const read = await request('GET', `/notes/${seed.id}`, { token: 'ryw1.x.ffff.0.forged' })

      expect([200, 404]).toContain(read.status)
      expect(tokenPosition(read.token)).toBe('')
    })
  })
}

/** The table exists on the primary at once; reads go to the replicas, which replay it a bit later. */
async function untilEveryReplicaHasTheTable(
  db: Kysely<NoteDatabase>,
  table: string,
  replicas: number,
): Promise<void> {
  for (let index = 0; index < replicas; index++) {
    for (let attempt = 0; ; attempt++) {
      const { rows } = await sql<{
        found: boolean
      }>`select to_regclass(${table}) is not null as found`.execute(db.onReplica(index))
      if (rows[0]?.found) break
      if (attempt > 500) throw new Error(`replica #${index} never had ${table}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

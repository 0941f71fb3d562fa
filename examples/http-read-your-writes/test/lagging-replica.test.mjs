// The app over a cluster of its own whose replicas are behind: replica1 replays nothing, replica2
// applies commits 300 ms late, longer than read-your-writes waits for a replica (maxWaitMs, 100
// ms). A client with its token reads what it wrote, never from replica1; without the token a
// read may land on a replica that does not have the row yet.
import { serve } from '@hono/node-server'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { Kysely, PostgresDialect } from 'kysely'
import { handlePoolErrors, ReplicatedDialect, replicationOf } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, TOKEN_COOKIE, TOKEN_HEADER } from '../app.mjs'

const REPLICA2_DELAY_MS = 300

describe('Hono recipe with replicas that are behind', () => {
  let cluster
  let db
  let server
  let base
  const consistencyEvents = []

  beforeAll(async () => {
    cluster = await PgCluster.start({ replicas: 2 })
    const node = (member) => ({
      name: member.name,
      dialect: new PostgresDialect({
        pool: handlePoolErrors(new pg.Pool({ ...member.poolConfig(), max: 10 })),
      }),
    })
    db = new Kysely({
      dialect: new ReplicatedDialect({
        primary: node(cluster.primary),
        replicas: cluster.replicas.map(node),
        readYourWrites: { tokenSecret: 'lagging-replica-test-secret' },
      }),
    })
    replicationOf(db).on('consistency', (event) => consistencyEvents.push(event))
    await db.schema
      .createTable('note')
      .addColumn('id', 'serial', (col) => col.primaryKey())
      .addColumn('text', 'text', (col) => col.notNull())
      .execute()
    await cluster.waitForReplay()
    await cluster.pauseReplay('replica1')
    await cluster.setApplyDelay('replica2', REPLICA2_DELAY_MS)
    const nodeByPort = new Map(cluster.nodes.map((member) => [member.port, member.name]))
    server = await new Promise((resolve) => {
      const started = serve(
        { fetch: createApp(db, { nodeByPort }).fetch, hostname: '127.0.0.1', port: 0 },
        () => resolve(started),
      )
    })
    base = `http://127.0.0.1:${server.address().port}`
  })

  afterAll(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()))
    await db?.destroy()
    await cluster?.stop()
  })

  async function request(path, { token, cookie, text } = {}) {
    const headers = {}
    if (token !== undefined) headers[TOKEN_HEADER] = token
    if (cookie !== undefined) headers.cookie = `${TOKEN_COOKIE}=${cookie}`
    if (text !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${base}${path}`, {
      method: text === undefined ? 'GET' : 'POST',
      headers,
      body: text === undefined ? undefined : JSON.stringify({ text }),
    })
    return {
      status: response.status,
      body: await response.json(),
      token: response.headers.get(TOKEN_HEADER),
    }
  }

  it('reads a note with its token, in a header or a cookie, never from the paused replica', async () => {
    const created = await request('/notes', { text: 'hello' })
    const path = `/notes/${created.body.id}`
    // Round-robin over two replicas: of two reads without the token, one goes to replica1.
    const withoutToken = [await request(path), await request(path)]
    // Four of each, one after the other: without the scope, round-robin would send two to replica1.
    const withToken = []
    for (const carried of [{ token: created.token }, { cookie: created.token }]) {
      for (let i = 0; i < 4; i++) withToken.push(await request(path, carried))
    }

    expect(created.status).toBe(201)
    expect(created.body.servedBy).not.toBe('replica1')
    expect(withoutToken.map((read) => read.body.servedBy)).toContain('replica1')
    for (const read of withoutToken) {
      if (read.body.servedBy === 'replica1') expect(read.status).toBe(404)
    }
    for (const read of withToken) {
      expect(read.status).toBe(200)
      expect(read.body.text).toBe('hello')
      expect(read.body.servedBy).not.toBe('replica1')
    }
  })

  it('lets a replica that caught up serve a read with the token', async () => {
    const created = await request('/notes', { text: 'caught up' })
    await cluster.waitForReplay('replica2')
    const read = await request(`/notes/${created.body.id}`, { token: created.token })

    expect(read.status).toBe(200)
    expect(read.body.servedBy).toBe('replica2')
  })

  it('ignores a forged token, says why, and serves the request', async () => {
    const created = await request('/notes', { text: 'forged' })
    const forged = `${created.token.slice(0, created.token.lastIndexOf('.'))}.forged`
    consistencyEvents.length = 0
    const read = await request(`/notes/${created.body.id}`, { token: forged })

    expect([200, 404]).toContain(read.status)
    expect(consistencyEvents).toContainEqual({ kind: 'token-rejected', detail: 'bad-signature' })
  })
})

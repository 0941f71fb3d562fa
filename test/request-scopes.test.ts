import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import {
  connect as connectHttp2,
  createServer as createHttp2Server,
  type Http2Server,
} from 'node:http2'
import { connect } from 'node:net'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import {
  type PositionSource,
  postgresPositions,
  type ReadYourWritesConfig,
  replicationOf,
} from 'kysely-replicas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createReplicatedDatabase, serverPort } from './support/replicated-database.js'

// Read-your-writes in an HTTP server that adds no middleware: each request a node:http server
// receives has a scope of its own. The replica replays every commit 300 ms late, so a read that
// is not made to wait for a write never sees it, and one that is made to wait always does.
const APPLY_DELAY_MS = 300
const table = 'request_note'

type Database = ReturnType<typeof createReplicatedDatabase>

let cluster: PgCluster
const opened: Database[] = []
const servers: Array<Server | Http2Server> = []
/** The replay checks and waits made by the position source, whoever asked. */
let questions = 0

const countingPositions: PositionSource = {
  primaryPosition: (connection) => postgresPositions.primaryPosition(connection),
  replayedPosition: (connection) => {
    questions++
    return postgresPositions.replayedPosition(connection)
  },
  waitForReplay: (connection, position, timeoutMs) => {
    questions++
    const wait = postgresPositions.waitForReplay
    if (wait === undefined) throw new Error('postgresPositions cannot wait on the server')
    return wait.call(postgresPositions, connection, position, timeoutMs)
  },
  clusterId: (connection) => postgresPositions.clusterId(connection),
}

function open(readYourWrites: ReadYourWritesConfig = {}): Database {
  const info = (node: PgCluster['primary']) => ({ name: node.name, ...node.poolConfig(), max: 20 })
  const database = createReplicatedDatabase(
    // Long enough for the replica to catch up: a gated read waits, it does not go to the primary.
    { readYourWrites: { positions: countingPositions, maxWaitMs: 5000, ...readYourWrites } },
    { primary: info(cluster.primary), replicas: cluster.replicas.map(info) },
  )
  opened.push(database)
  return database
}

const insertNote = async ({ db }: Database, name: string) =>
  (await db.insertInto(table).values({ name }).returning('id').executeTakeFirstOrThrow()).id

const readNote = ({ db }: Database, id: number) =>
  db.selectFrom(table).select(['id', serverPort]).where('id', '=', id).executeTakeFirst()

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

type Handler = (url: URL) => Promise<unknown>

/** A plain node:http server, no middleware: each handler's result is the JSON response. */
function serve(handler: Handler): Promise<number> {
  return serveRequests((request) => handler(new URL(request.url ?? '/', 'http://localhost')))
}

/**
 * A server whose handler runs once the request's body has arrived, from the body's `end`
 * listener, as body parsers (Express's, Fastify's) call the route.
 */
function serveBodies(handler: (path: string, body: string) => Promise<unknown>): Promise<number> {
  return serveRequests(
    (request) =>
      new Promise((resolve, reject) => {
        let body = ''
        request.setEncoding('utf8')
        request.on('data', (chunk: string) => {
          body += chunk
        })
        request.on('end', () => handler(request.url ?? '/', body).then(resolve, reject))
      }),
  )
}

async function serveRequests(handler: (request: IncomingMessage) => Promise<unknown>) {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    handler(request).then(
      (body) => response.end(JSON.stringify(body ?? null)),
      (error: unknown) => {
        response.statusCode = 500
        response.end(JSON.stringify(String(error)))
      },
    )
  })
  return listen(server)
}

/** Listens on a free port of 127.0.0.1, closed after the tests. */
async function listen(server: Server | Http2Server): Promise<number> {
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function get<T>(port: number, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

/**
 * A POST whose body is sent a moment after its headers: the server gets the body in a later
 * event of the socket than the one that started the request.
 */
async function postLate<T>(port: number, path: string, body: string): Promise<T> {
  const request = httpRequest({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { 'content-length': Buffer.byteLength(body) },
  })
  request.flushHeaders()
  const responded = once(request, 'response') as Promise<[IncomingMessage]>
  await new Promise((resolve) => setTimeout(resolve, 20))
  request.end(body)
  const [response] = await responded
  let text = ''
  response.setEncoding('utf8')
  for await (const chunk of response) text += chunk
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text}`)
  return JSON.parse(text) as T
}

/** The token of a scope that wrote nothing. */
const emptyToken = ({ db }: Database) =>
  replicationOf(db).runInScope(() => replicationOf(db).token())

beforeAll(async () => {
  cluster = await PgCluster.start({ replicas: 1 })
  const setup = open()
  await setup.db.schema
    .createTable(table)
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .execute()
  await cluster.waitForReplay()
  const [replica] = cluster.replicas
  if (replica === undefined) throw new Error('one replica expected')
  await cluster.setApplyDelay(replica, APPLY_DELAY_MS)
})

afterAll(async () => {
  for (const server of servers) server.close()
  await Promise.allSettled(opened.map(({ db }) => db.destroy()))
  await cluster?.stop()
})

describe('read-your-writes in an HTTP server without middleware', () => {
  it('lets a request read what it wrote, 32 requests at a time', async () => {
    const database = open()
    const port = await serve(async (url) => {
      const id = await insertNote(database, url.pathname)
      return (await readNote(database, id))?.port
    })
    const ports = await Promise.all(
      Array.from({ length: 32 }, (_, request) => get<number | null>(port, `/write/${request}`)),
    )
    // Every read saw its row, on the replica: it waited for it there.
    expect(ports).toEqual(Array(32).fill(cluster.replicas[0]?.port))
  })

  it("does not hold up a request's reads for another request's write", async () => {
    const database = open()
    const [replica] = database.replicaPorts
    let written: (id: number) => void = () => {}
    const writtenId = new Promise<number>((resolve) => (written = resolve))
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => (release = resolve))
    const port = await serve(async (url) => {
      if (url.pathname === '/write') {
        const id = await insertNote(database, 'held')
        written(id)
        // Its read waits until the other requests are done.
        await released
        return {
          port: (await readNote(database, id))?.port,
          token: replicationOf(database.db).token(),
        }
      }
      const id = await writtenId
      const row = await readNote(database, id)
      const { port } = await database.db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
      return { found: row !== undefined, port, token: replicationOf(database.db).token() }
    })
    const writer = get<{ port: number; token: string }>(port, '/write')
    const id = await writtenId
    const asked = questions
    const readers = await Promise.all(
      Array.from({ length: 8 }, () =>
        get<{ found: boolean; port: number; token: string }>(port, '/read'),
      ),
    )
    // The other requests read on the replica at once, without a check: the row is not there yet.
    expect(questions - asked).toBe(0)
    expect(readers.map(({ found, port }) => ({ found, port }))).toEqual(
      Array(8).fill({ found: false, port: replica }),
    )
    const empty = await emptyToken(database)
    expect(readers.map(({ token }) => token)).toEqual(Array(8).fill(empty))
    release()
    const { port: writerPort, token } = await writer
    expect(writerPort).toBe(replica)
    expect(token).not.toBe(empty)
    expect(id).toBeGreaterThan(0)
  })

  it('sees a write made in one helper from a read in another, and from Promise.all', async () => {
    const database = open()
    // Each helper awaits something else before its query: a scope begun at the first query of
    // the request would not reach the handler's continuation.
    const create = async (name: string) => {
      await tick()
      return insertNote(database, name)
    }
    const show = async (id: number) => {
      await tick()
      return readNote(database, id)
    }
    const loadOther = async () => {
      return readNote(database, 1)
    }
    const port = await serve(async (url) => {
      const [id] = await Promise.all([create(url.pathname), loadOther()])
      const row = await show(id)
      return row?.port
    })
    const ports = await Promise.all(
      Array.from({ length: 8 }, (_, request) => get<number | null>(port, `/helpers/${request}`)),
    )
    expect(ports).toEqual(Array(8).fill(cluster.replicas[0]?.port))
  })

  it('gives pipelined requests on one socket a scope each', async () => {
    const database = open()
    const tokens = new Map<string, string>()
    let written: () => void = () => {}
    const write = new Promise<void>((resolve) => (written = resolve))
    const port = await serve(async (url) => {
      if (url.pathname === '/write') {
        const id = await insertNote(database, 'pipelined')
        written()
        const row = await readNote(database, id)
        tokens.set('write', replicationOf(database.db).token())
        return row?.port
      }
      await write
      await readNote(database, 1)
      tokens.set('read', replicationOf(database.db).token())
      return null
    })
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
    })
    // Both requests in one packet: node:http parses them in one go.
    socket.write(
      'GET /write HTTP/1.1\r\nHost: localhost\r\n\r\nGET /read HTTP/1.1\r\nHost: localhost\r\n\r\n',
    )
    while ((received.match(/HTTP\/1\.1 200/g) ?? []).length < 2) {
      await once(socket, 'data')
    }
    socket.end()
    expect(received).toContain(`\r\n\r\n${cluster.replicas[0]?.port}`)
    expect(tokens.get('read')).toBe(await emptyToken(database))
    expect(tokens.get('write')).not.toBe(tokens.get('read'))
  })

  // Node 24 runs the listeners of a body that arrives after the request's first packet outside
  // the request's async context, where Node 20 and 22 kept it: the scope is carried to them.
  it("keeps the request's scope in the listeners of its body", async () => {
    const database = open()
    const port = await serveRequests(async (request) => {
      // The write runs in the body's `end` listener; the read, in the request's own code.
      const id = await new Promise<number>((resolve, reject) => {
        request.resume()
        request.on('end', () => insertNote(database, 'from the body').then(resolve, reject))
      })
      return (await readNote(database, id))?.port ?? null
    })
    const ports = await Promise.all(
      Array.from({ length: 8 }, (_, request) => postLate<number | null>(port, `/${request}`, 'x')),
    )
    expect(ports).toEqual(Array(8).fill(cluster.replicas[0]?.port))
  })

  it("does not hold up a route that a body parser calls for another request's write", async () => {
    const database = open()
    const port = await serveBodies(async (path, body) => {
      if (path === '/write') return insertNote(database, body)
      const row = await readNote(database, Number(body))
      return { found: row !== undefined, token: replicationOf(database.db).token() }
    })
    const id = await postLate<number>(port, '/write', 'parsed')
    const asked = questions
    const readers = await Promise.all(
      Array.from({ length: 8 }, () =>
        postLate<{ found: boolean; token: string }>(port, '/read', String(id)),
      ),
    )
    // Their scopes wrote nothing: they read on the replica at once, without a check.
    expect(questions - asked).toBe(0)
    expect(readers).toEqual(Array(8).fill({ found: false, token: await emptyToken(database) }))
  })

  it("hands a request's writes to code outside requests (a script, a job)", async () => {
    const database = open()
    const port = await serve(async () => insertNote(database, 'for the job'))
    const id = await get<number>(port, '/write')
    // This test's own code runs outside any request: the dialect's scope.
    expect((await readNote(database, id))?.id).toBe(id)
  })

  it('keeps one scope for all requests with requestScopes: false', async () => {
    const database = open({ requestScopes: false })
    const port = await serve(async (url) => {
      if (url.pathname === '/write') return insertNote(database, 'shared')
      return replicationOf(database.db).token()
    })
    await get<number>(port, '/write')
    expect(await get<string>(port, '/read')).not.toBe(await emptyToken(database))
  })
})

describe('read-your-writes in an HTTP/2 server without middleware', () => {
  // Recent Node 22 and 24 releases publish each stream's start; on Node 20, streams share the
  // dialect's scope (reads after any stream's write wait for it).
  let published = 0
  const count = () => {
    published++
  }

  it("gives each stream a scope: its reads see its writes, another stream's do not hold them up", async () => {
    const database = open()
    subscribe('http2.server.stream.start', count)
    let written: (id: number) => void = () => {}
    const writtenId = new Promise<number>((resolve) => (written = resolve))
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => (release = resolve))
    const handle = async (path: string) => {
      if (path === '/write') {
        const id = await insertNote(database, 'over http2')
        written(id)
        await released
        return { port: (await readNote(database, id))?.port }
      }
      const row = await readNote(database, await writtenId)
      return { found: row !== undefined, token: replicationOf(database.db).token() }
    }
    const server = createHttp2Server((request, response) => {
      // The body's end listener calls the handler, as body parsers do.
      request.resume()
      request.on('end', () =>
        handle(request.url).then(
          (body) => response.end(JSON.stringify(body)),
          (error: unknown) => response.end(JSON.stringify({ error: String(error) })),
        ),
      )
    })
    const client = connectHttp2(`http://127.0.0.1:${await listen(server)}`)
    const post = async <T>(path: string): Promise<T> => {
      const stream = client.request({ ':method': 'POST', ':path': path })
      stream.write('a body')
      await new Promise((resolve) => setTimeout(resolve, 10))
      stream.end()
      let text = ''
      stream.setEncoding('utf8')
      for await (const chunk of stream) text += chunk
      return JSON.parse(text) as T
    }
    try {
      const writer = post<{ port: number }>('/write')
      await writtenId
      const asked = questions
      const readers = await Promise.all(
        Array.from({ length: 4 }, () => post<{ found: boolean; token: string }>('/read')),
      )
      const readerQuestions = questions - asked
      release()
      // The writing stream's read waited for the replica and ran there.
      expect((await writer).port).toBe(cluster.replicas[0]?.port)
      if (published === 0) {
        // One scope for all: the readers waited for the write too.
        expect(readers.map(({ found }) => found)).toEqual(Array(4).fill(true))
        expect(readerQuestions).toBeGreaterThan(0)
        return
      }
      const empty = await emptyToken(database)
      expect(readers).toEqual(Array(4).fill({ found: false, token: empty }))
      expect(readerQuestions).toBe(0)
    } finally {
      unsubscribe('http2.server.stream.start', count)
      client.close()
    }
  })
})

describe('read-your-writes in a script', () => {
  it('reads a row it inserted (the dialect is the scope)', async () => {
    const database = open()
    for (let pair = 0; pair < 5; pair++) {
      const id = await insertNote(database, `script ${pair}`)
      expect((await readNote(database, id))?.id).toBe(id)
    }
  })
})

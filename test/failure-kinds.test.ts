import { createServer, type Server, type Socket } from 'node:net'
import { isConnectionError } from 'kysely-replicas'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// Not exported from the package index yet.
import { isSaturationError } from '../packages/kysely-replicas/src/health/is-connection-error.js'
import { clusterNodes } from './support/replicated-database.js'

// The errors node-postgres really gives, told apart: a pool with every client busy (saturated),
// a server that does not answer or refuses (the node), a terminated session (the node, for that
// connection), an SQL error (the query).

let silent: Server
let silentPort = 0
const sockets: Socket[] = []

beforeAll(async () => {
  // Accepts connections and never answers: a server that hangs.
  silent = createServer((socket) => sockets.push(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  silentPort = (silent.address() as { port: number }).port
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => silent.close(resolve))
})

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

const classify = (error: unknown) => ({
  connection: isConnectionError(error),
  saturation: isSaturationError(error),
})

describe('node-postgres errors', () => {
  it('a caller that waited in a full pool is saturated, not a node failure', async () => {
    const { primary } = clusterNodes()
    const pool = new pg.Pool({ ...primary, max: 1, connectionTimeoutMillis: 200 })
    const held = await pool.connect()
    try {
      const error = await rejection(pool.connect())
      expect(error.message).toBe('timeout exceeded when trying to connect')
      expect(classify(error)).toEqual({ connection: false, saturation: true })
    } finally {
      held.release()
      await pool.end()
    }
  })

  it('a new connection to a server that does not answer is a node failure', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: silentPort, connectionTimeoutMillis: 200 })
    pool.on('error', () => {})
    const error = await rejection(pool.connect())
    await pool.end()
    expect(error.message).toBe('Connection terminated due to connection timeout')
    expect(classify(error)).toEqual({ connection: true, saturation: false })
  })

  it('a waiter behind a connection that cannot be made is saturated; the connecting one fails the node', async () => {
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port: silentPort,
      max: 1,
      connectionTimeoutMillis: 200,
    })
    pool.on('error', () => {})
    const [first, second] = await Promise.all([
      rejection(pool.connect()),
      rejection(pool.connect()),
    ])
    await pool.end()
    expect(classify(first)).toEqual({ connection: true, saturation: false })
    expect(classify(second)).toEqual({ connection: false, saturation: true })
  })

  it('a refused connection is a node failure', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 1000 })
    const error = await rejection(pool.connect())
    await pool.end()
    expect((error as { code?: string }).code).toBe('ECONNREFUSED')
    expect(classify(error)).toEqual({ connection: true, saturation: false })
  })

  it('a terminated session (57P01) is a node failure; an SQL error is not', async () => {
    const { primary } = clusterNodes()
    const client = new pg.Client(primary)
    client.on('error', () => {})
    await client.connect()
    const syntax = await rejection(client.query('selec 1'))
    const terminated = await rejection(
      client.query('select pg_terminate_backend(pg_backend_pid())'),
    )
    await client.end().catch(() => {})
    expect((terminated as { code?: string }).code).toBe('57P01')
    expect(classify(terminated)).toEqual({ connection: true, saturation: false })
    expect(classify(syntax)).toEqual({ connection: false, saturation: false })
  })
})

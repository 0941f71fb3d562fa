import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import {
  connect as connectHttp2,
  createServer as createHttp2Server,
  type Http2Server,
} from 'node:http2'
import { afterEach, describe, expect, it } from 'vitest'
import type { ConsistencyScope } from '../../src/consistency/consistency-scope.js'
import { ConsistencyState } from '../../src/consistency/consistency-state.js'

// What scope each state gives the code of a request: its handler, and the listeners of a body
// that arrives in a later packet than the request's headers (Node 24 runs those outside the
// request's async context unless they are carried to it).
const stops: Array<() => void> = []
const servers: Array<Server | Http2Server> = []

afterEach(() => {
  for (const stop of stops.splice(0)) stop()
  for (const server of servers.splice(0)) server.close()
})

interface Seen {
  readonly inHandler: ConsistencyScope[]
  readonly inEnd: ConsistencyScope[]
}

async function serve(states: readonly ConsistencyState[]): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((request: IncomingMessage, response) => {
    const inHandler = states.map((state) => state.scope())
    request.resume()
    request.on('end', () => {
      seen.push({ inHandler, inEnd: states.map((state) => state.scope()) })
      response.end()
    })
  })
  return { port: await listen(server), seen }
}

/** Listens on a free port of 127.0.0.1, closed after the test. */
async function listen(server: Server | Http2Server): Promise<number> {
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

// The body follows its headers after a pause: it reaches the server in another event. A socket
// of its own: with async hooks (Node 20, 22), a kept-alive socket's next request starts in the
// context the previous one entered.
async function postLate(port: number): Promise<void> {
  const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false })
  request.flushHeaders()
  const responded = once(request, 'response') as Promise<[IncomingMessage]>
  await new Promise((resolve) => setTimeout(resolve, 10))
  request.end('body')
  const [response] = await responded
  response.resume()
  await once(response, 'end')
}

describe('request scopes', () => {
  it("give each request a scope of its own, kept in its body's listeners", async () => {
    const state = new ConsistencyState()
    const outside = state.scope()
    stops.push(state.useRequestScopes())
    const { port, seen } = await serve([state])
    await Promise.all([postLate(port), postLate(port), postLate(port)])
    expect(seen).toHaveLength(3)
    for (const { inHandler, inEnd } of seen) {
      expect(inHandler[0]).not.toBe(outside)
      expect(inEnd[0]).toBe(inHandler[0])
    }
    expect(new Set(seen.map(({ inHandler }) => inHandler[0])).size).toBe(3)
  })

  it('keep the scope of every dialect of the process in those listeners', async () => {
    const states = [new ConsistencyState(), new ConsistencyState()]
    for (const state of states) stops.push(state.useRequestScopes())
    const { port, seen } = await serve(states)
    await postLate(port)
    const [{ inHandler, inEnd } = { inHandler: [], inEnd: [] }] = seen
    // By identity: scopes have no public fields, so any two look equal to toEqual.
    expect(inEnd[0]).toBe(inHandler[0])
    expect(inEnd[1]).toBe(inHandler[1])
    expect(inHandler[0]).not.toBe(states[0]?.scope())
    expect(inHandler[1]).not.toBe(states[1]?.scope())
  })

  it('stop with the last user', async () => {
    const state = new ConsistencyState()
    const outside = state.scope()
    const stopFirst = state.useRequestScopes()
    const stopSecond = state.useRequestScopes()
    stopFirst()
    // A second call of the same stop does not count twice.
    stopFirst()
    const { port, seen } = await serve([state])
    await postLate(port)
    expect(seen[0]?.inHandler[0]).not.toBe(outside)
    stopSecond()
    await postLate(port)
    expect(seen[1]?.inHandler[0]).toBe(outside)
    expect(seen[1]?.inEnd[0]).toBe(outside)
  })

  describe('on HTTP/2', () => {
    // Published by recent Node 22 and 24 releases; Node 20's streams share the dialect's scope.
    let published = 0
    const count = () => {
      published++
    }
    afterEach(() => unsubscribe('http2.server.stream.start', count))

    it("give each stream a scope of its own, kept in its body's listeners and in what it pushes", async () => {
      const state = new ConsistencyState()
      const outside = state.scope()
      stops.push(state.useRequestScopes())
      subscribe('http2.server.stream.start', count)
      const seen: Array<{ inHandler: unknown; inEnd: unknown; inPush: unknown }> = []
      const server = createHttp2Server((request, response) => {
        const inHandler = state.scope()
        request.resume()
        request.on('end', () => {
          const inEnd = state.scope()
          response.stream.pushStream({ ':path': '/pushed' }, (error, pushed) => {
            if (error) throw error
            seen.push({ inHandler, inEnd, inPush: state.scope() })
            pushed.respond({ ':status': 200 })
            pushed.end()
            response.end()
          })
        })
      })
      const client = connectHttp2(`http://127.0.0.1:${await listen(server)}`)
      client.on('stream', (pushed) => pushed.resume())
      try {
        await Promise.all(
          [1, 2, 3].map(async () => {
            const stream = client.request({ ':method': 'POST', ':path': '/' })
            stream.write('head')
            await new Promise((resolve) => setTimeout(resolve, 10))
            stream.end('tail')
            stream.resume()
            await once(stream, 'end')
          }),
        )
      } finally {
        client.close()
      }
      expect(seen).toHaveLength(3)
      if (published === 0) {
        for (const each of seen)
          expect([each.inHandler, each.inEnd, each.inPush]).toEqual([outside, outside, outside])
        return
      }
      for (const { inHandler, inEnd, inPush } of seen) {
        expect(inHandler).not.toBe(outside)
        expect(inEnd).toBe(inHandler)
        expect(inPush).toBe(inHandler)
      }
      expect(new Set(seen.map(({ inHandler }) => inHandler)).size).toBe(3)
    })
  })
})

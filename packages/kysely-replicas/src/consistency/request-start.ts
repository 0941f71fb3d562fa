import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'

// Published by node:http (and node:https) servers for each request, synchronously, right before
// the 'request' event: what is entered here is what the request's handlers run in, pipelined
// requests on one socket included.
const REQUEST_START = 'http.server.request.start'

// Published by node:http2 servers (recent Node 22 and 24 releases, not Node 20) for each stream,
// synchronously, right before the session's 'stream' event, from which the server emits
// 'request' (compatibility API). The stream's own events (its body, its end) run outside that
// context on every runtime. A stream the server pushes (even id) is published from the request
// that pushed it: it stays in that request's scope.
const STREAM_START = 'http2.server.stream.start'

// Deno 2.9 publishes it too, but what is entered there leaks into code outside the request (the
// continuation of a client's fetch, say); Bun 1.4 does not publish it. Node.js only, then.
const PUBLISHED_SAFELY =
  typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' &&
  typeof process === 'object' &&
  process.versions.bun === undefined

// The emitter's own `emit`, kept when it is bound, so that a second binding (a second dialect,
// or a second copy of this library) replaces the first rather than wrapping it.
const OWN_EMIT = Symbol.for('kysely-replicas.own-emit')

interface RequestStart {
  readonly request?: EventEmitter
}

interface StreamStart {
  readonly stream?: EventEmitter & { readonly id?: number }
}

type BindableEmitter = EventEmitter & { [OWN_EMIT]?: EventEmitter['emit'] }

/**
 * Calls `onRequest` as each request reaches a node:http server of this process, or each stream a
 * node:http2 server, before any of its handlers (middleware, framework, route) runs; never on
 * runtimes other than Node.js. Returns what stops it.
 */
export function onRequestStart(onRequest: () => void): () => void {
  if (!PUBLISHED_SAFELY) {
    return () => {}
  }
  const bindEvents = emittersLoseContext()
  const onHttpRequest = (message: unknown) => {
    onRequest()
    if (bindEvents) {
      emitInCurrentContext((message as RequestStart).request)
    }
  }
  const onHttp2Stream = (message: unknown) => {
    const { stream } = message as StreamStart
    if (stream?.id === undefined || stream.id % 2 === 1) {
      onRequest()
    }
    emitInCurrentContext(stream)
  }
  subscribe(REQUEST_START, onHttpRequest)
  subscribe(STREAM_START, onHttp2Stream)
  return () => {
    unsubscribe(REQUEST_START, onHttpRequest)
    unsubscribe(STREAM_START, onHttp2Stream)
  }
}

// Where async context lives in frames (Node 24's default, AsyncContextFrame), an emitter's
// listeners run in the context of whatever emits: for a request body that arrives after the
// request's first packet, the socket's, outside the request. Node 20 and 22 (async hooks) run
// them in the request's. Running the request's events in the context entered for it keeps the
// Node 20 behaviour: a body parser's `end` listener, and the route it calls, run in the request's
// scope. A snapshot, not `AsyncLocalStorage.bind()`: that makes an `AsyncResource` per request
// and enters it on every event (0.69–0.86x the requests per second of a server that only enters
// the scope, against 0.95x and 1.01x in two runs for this snapshot).
function emitInCurrentContext(emitter: BindableEmitter | undefined): void {
  if (emitter === undefined) {
    return
  }
  const own = emitter[OWN_EMIT] ?? emitter.emit
  emitter[OWN_EMIT] = own
  const runInRequest = AsyncLocalStorage.snapshot()
  emitter.emit = (event, ...args) => runInRequest(() => own.call(emitter, event, ...args))
}

let framesProbed: boolean | undefined

// Whether async context lives in frames: a store entered in a resource's scope is gone the next
// time that scope is entered (with async hooks, it stays on the resource). Probed once, with a
// storage disabled at once: an enabled one would cost every promise of the process on Node 20.
function emittersLoseContext(): boolean {
  if (framesProbed === undefined) {
    const probe = new AsyncLocalStorage<true>()
    const resource = new AsyncResource('kysely-replicas.context-probe')
    resource.runInAsyncScope(() => probe.enterWith(true))
    framesProbed = resource.runInAsyncScope(() => probe.getStore()) === undefined
    probe.disable()
  }
  return framesProbed
}

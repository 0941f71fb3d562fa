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

interface RequestStart {
  readonly request?: EventEmitter
}

interface StreamStart {
  readonly stream?: EventEmitter & { readonly id?: number }
}

/**
 * Enters a scope made by `open` in `storage` as each request reaches a node:http server of this
 * process, or each stream a node:http2 server, before any of its handlers (middleware,
 * framework, route) runs, and keeps it for the request's events; never on runtimes other than
 * Node.js. Returns what stops it.
 */
export function onRequestStart<T>(storage: AsyncLocalStorage<T>, open: () => T): () => void {
  if (!PUBLISHED_SAFELY) {
    return () => {}
  }
  const eventsLoseContext = emittersLoseContext()
  const onHttpRequest = (message: unknown) => {
    const scope = open()
    storage.enterWith(scope)
    if (eventsLoseContext) {
      runEventsIn((message as RequestStart).request, storage, scope)
    }
  }
  const onHttp2Stream = (message: unknown) => {
    const { stream } = message as StreamStart
    const pushed = stream?.id !== undefined && stream.id % 2 === 0
    const scope = pushed ? storage.getStore() : open()
    if (scope === undefined) {
      return
    }
    storage.enterWith(scope)
    runEventsIn(stream, storage, scope)
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
// request's first packet, the socket's, outside the request (HTTP/2 streams lose it on every
// runtime). Node 20 and 22 (async hooks) run an HTTP/1 request's in the request's. Running the
// request's events in its scope keeps the Node 20 behaviour: a body parser's `end` listener, and
// the route it calls, run in the request's scope. Only this storage's scope is set, so that the
// dialects of a process can each wrap `emit` in turn. Not a snapshot of every storage
// (`AsyncLocalStorage.snapshot()` or `bind()`): each makes an `AsyncResource` per request. A
// server that only reads a POST's body and answers served 0.70–0.74x as many requests per second
// with a snapshot as with the scope entered alone, 0.83–0.95x with this (Node 22 and 24).
function runEventsIn<T>(
  emitter: EventEmitter | undefined,
  storage: AsyncLocalStorage<T>,
  scope: T,
) {
  if (emitter === undefined) {
    return
  }
  const emit = emitter.emit
  emitter.emit = (event, ...args) => storage.run(scope, () => emit.call(emitter, event, ...args))
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

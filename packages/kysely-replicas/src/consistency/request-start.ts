import { subscribe, unsubscribe } from 'node:diagnostics_channel'

// Published by node:http (and node:https) servers for each request, synchronously, right before
// the 'request' event: what is entered here is what the request's handlers run in, pipelined
// requests on one socket included.
const REQUEST_START = 'http.server.request.start'

// Deno 2.9 publishes it too, but what is entered there leaks into code outside the request (the
// continuation of a client's fetch, say); Bun 1.4 does not publish it. Node.js only, then.
const PUBLISHED_SAFELY =
  typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' &&
  typeof process === 'object' &&
  process.versions.bun === undefined

/**
 * Calls `onRequest` as each request reaches a node:http server of this process, before any of
 * its handlers (middleware, framework, route) runs; never on runtimes other than Node.js.
 * Returns what stops it.
 */
export function onRequestStart(onRequest: () => void): () => void {
  if (!PUBLISHED_SAFELY) {
    return () => {}
  }
  const listener = () => onRequest()
  subscribe(REQUEST_START, listener)
  return () => {
    unsubscribe(REQUEST_START, listener)
  }
}

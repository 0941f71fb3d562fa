import { subscribe, unsubscribe } from 'node:diagnostics_channel'

// Published by node:http (and node:https) servers for each request, synchronously, right before
// the 'request' event: what is entered here is what the request's handlers run in, pipelined
// requests on one socket included.
const REQUEST_START = 'http.server.request.start'

/**
 * Calls `onRequest` as each request reaches a node:http server of this process, before any of
 * its handlers (middleware, framework, route) runs. Returns what stops it.
 */
export function onRequestStart(onRequest: () => void): () => void {
  const listener = () => onRequest()
  subscribe(REQUEST_START, listener)
  return () => {
    unsubscribe(REQUEST_START, listener)
  }
}

import { AsyncLocalStorage } from 'node:async_hooks'
import { ConsistencyScope } from './consistency-scope.js'
import { KnownReplay } from './known-replay.js'
import { onRequestStart } from './request-start.js'

/**
 * What read-your-writes knows for one `ReplicatedDialect` object, whatever the number of Kysely
 * instances built on it (one with `CamelCasePlugin`, one without): the scopes, the cluster's
 * identity and the replay positions seen on the servers. A write through one instance is then
 * seen by a read through another.
 */
export class ConsistencyState {
  readonly #storage = new AsyncLocalStorage<ConsistencyScope>()
  readonly #dialectScope = new ConsistencyScope()
  /** Replay positions seen per server and per connection. */
  readonly replay = new KnownReplay()
  /** The cluster's identity once read from any node (see `PositionSource.clusterId`). */
  clusterId: string | undefined
  #requestScopeUsers = 0
  #stopRequestScopes: (() => void) | undefined

  /**
   * The scope of the code running now: the innermost `runInScope()`, else the HTTP request's
   * (see {@link useRequestScopes}), else the dialect's own.
   */
  scope(): ConsistencyScope {
    return this.#storage.getStore() ?? this.#dialectScope
  }

  /**
   * Gives each request that a node:http or node:http2 server of this process receives a scope
   * of its own, entered before its handlers run, until the returned function is called (by every
   * user). Its writes are the dialect's too: code outside requests still sees them.
   */
  useRequestScopes(): () => void {
    this.#requestScopeUsers++
    this.#stopRequestScopes ??= onRequestStart(
      this.#storage,
      () => new ConsistencyScope(undefined, undefined, this.#dialectScope),
    )
    let used = true
    return () => {
      if (used) {
        used = false
        this.#release()
      }
    }
  }

  #release(): void {
    this.#requestScopeUsers--
    if (this.#requestScopeUsers === 0) {
      this.#stopRequestScopes?.()
      this.#stopRequestScopes = undefined
    }
  }

  /** Runs `fn` in `scope`. */
  run<T>(scope: ConsistencyScope, fn: () => Promise<T> | T): Promise<T> | T {
    return this.#storage.run(scope, fn)
  }
}

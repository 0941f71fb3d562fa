import type { ConnectionProvider, DatabaseConnection } from 'kysely'
import { asReplicated } from '../replicated-driver.js'
import type { RouteTarget } from '../routing/route-target.js'

/** Provides the connections of the wrapped provider, each routed to the view's target. */
export class TargetedConnectionProvider implements ConnectionProvider {
  readonly #provider: ConnectionProvider
  readonly #target: RouteTarget

  constructor(provider: ConnectionProvider, target: RouteTarget) {
    this.#provider = provider
    this.#target = target
  }

  provideConnection<T>(consumer: (connection: DatabaseConnection) => Promise<T>): Promise<T> {
    return this.#provider.provideConnection((connection) => {
      asReplicated(connection).pin(this.#target)
      return consumer(connection)
    })
  }
}

import type { DatabaseConnection } from 'kysely'

/** A replay position as a position source reports it: bare, or with the server that replayed it. */
export interface ReplayedPosition {
  readonly position: bigint
  /**
   * What identifies the server that answered (address and start time for PostgreSQL). Behind a
   * load-balanced endpoint, two connections of one replica entry may reach two servers.
   */
  readonly server?: string
}

/**
 * The highest replay positions seen, per server and per connection. A server never goes back, so
 * a position at or below one already seen on it needs no new check; a connection stays on its
 * server (a pool keeps the session, and so does a TCP load balancer or PgBouncer in session
 * mode), so what a connection saw holds for the next read on it. Nothing is kept per replica
 * entry: behind an endpoint, one entry is several servers at different positions.
 */
export class KnownReplay {
  readonly #servers = new Map<string, bigint>()
  readonly #connections = new WeakMap<DatabaseConnection, ConnectionReplay>()

  /** The highest position known to be replayed where `connection` reads, or -1. */
  of(connection: DatabaseConnection): bigint {
    const known = this.#connections.get(connection)
    if (known === undefined) {
      return -1n
    }
    const server = known.server === undefined ? undefined : this.#servers.get(known.server)
    return server !== undefined && server > known.position ? server : known.position
  }

  /** Records what a check on `connection` answered. */
  note(connection: DatabaseConnection, replayed: ReplayedPosition): void {
    const { position, server } = replayed
    const known = this.#connections.get(connection)
    if (known === undefined || known.server !== server) {
      this.#connections.set(connection, { server, position })
    } else if (position > known.position) {
      known.position = position
    }
    if (server !== undefined && position > (this.#servers.get(server) ?? -1n)) {
      this.#servers.set(server, position)
    }
  }
}

interface ConnectionReplay {
  readonly server: string | undefined
  position: bigint
}

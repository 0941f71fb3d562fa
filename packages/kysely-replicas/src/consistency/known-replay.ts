import type { DatabaseConnection } from 'kysely'

/**
 * A replay position as a position source reports it: bare, or with the server that replayed it.
 *
 * ```ts
 * const replayed: ReplayedPosition = { position: 0x16b3740n, server: '10.0.0.12/5432/2024-05-01 08:00:00+00' }
 * ```
 */
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
  // The check running on each server: reads waiting for the same server share it.
  readonly #checking = new Map<string, Promise<void>>()

  /** The highest position known to be replayed where `connection` reads, or -1. */
  of(connection: DatabaseConnection): bigint {
    const known = this.#connections.get(connection)
    if (known === undefined) {
      return -1n
    }
    const server = known.server === undefined ? undefined : this.#servers.get(known.server)
    return server !== undefined && server > known.position ? server : known.position
  }

  /**
   * Learns how far `connection`'s server has replayed: joins the check already running on that
   * server when there is one (then returns `true`), else runs `check` on `connection` (a
   * connection whose server is not known yet always runs its own).
   */
  async refresh(
    connection: DatabaseConnection,
    check: () => Promise<ReplayedPosition>,
  ): Promise<boolean> {
    const server = this.#connections.get(connection)?.server
    const running = server === undefined ? undefined : this.#checking.get(server)
    if (running !== undefined) {
      // A failed shared check tells nothing about this connection: the caller checks again.
      await running.catch(() => {})
      return true
    }
    const task = check().then((replayed) => this.note(connection, replayed))
    if (server !== undefined) {
      this.#checking.set(server, task)
      const done = () => {
        if (this.#checking.get(server) === task) {
          this.#checking.delete(server)
        }
      }
      task.then(done, done)
    }
    await task
    return false
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

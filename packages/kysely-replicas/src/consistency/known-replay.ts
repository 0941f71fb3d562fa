import type { DatabaseConnection } from 'kysely'

/**
 * A replay position as a position source reports it: bare, or with the server that replayed it.
 *
 * ```ts
 * const replayed: ReplayedPosition = { position: 0x16b3740n, server: '10.0.0.12/5432/2024-05-01 08:00:00+00' }
 * ```
 */
export interface ReplayedPosition {
  /** The replayed position (for PostgreSQL, an LSN as a number: see `parseLsn`). */
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
  // The check running on each server, and the newest write recorded when it was sent: reads of
  // that server whose position is no newer share it.
  readonly #checking = new Map<string, RunningCheck>()
  #written = -1n

  /** The highest position known to be replayed where `connection` reads, or -1. */
  of(connection: DatabaseConnection): bigint {
    const known = this.#connections.get(connection)
    if (known === undefined) {
      return -1n
    }
    // A server's position includes what each of its connections saw (see note()).
    return known.server === undefined
      ? known.position
      : (this.#servers.get(known.server) ?? known.position)
  }

  /** Notes the primary's position after a write recorded here. */
  noteWritten(position: bigint): void {
    if (position > this.#written) {
      this.#written = position
    }
  }

  /**
   * Learns how far `connection`'s server has replayed, for a read that needs `target`: joins the
   * check already running on that server when it was sent after `target` was written (its answer
   * is as good as a new one), else runs `check` on `connection`. A connection whose server is
   * not known yet always runs its own. A `check` that waits for the server to reach `target`
   * (`waits`) answers for the reads that need no more than that, and runs when what the
   * running check answered falls short.
   */
  async refresh(
    connection: DatabaseConnection,
    target: bigint,
    check: () => Promise<ReplayedPosition>,
    waits = false,
  ): Promise<void> {
    const server = this.#connections.get(connection)?.server
    if (server === undefined) {
      this.note(connection, await check())
      return
    }
    const running = this.#checking.get(server)
    if (running !== undefined && target <= running.covers) {
      try {
        await running.task
        if (!waits || this.of(connection) >= target) {
          return
        }
      } catch {
        // A failed shared check tells nothing about this connection: it checks for itself.
      }
    }
    const task = check().then((replayed) => this.note(connection, replayed))
    const entry = { task, covers: waits ? target : this.#written }
    this.#checking.set(server, entry)
    const done = () => {
      if (this.#checking.get(server) === entry) {
        this.#checking.delete(server)
      }
    }
    task.then(done, done)
    await task
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

interface RunningCheck {
  readonly task: Promise<void>
  /** The newest write recorded when the check was sent, or the position a waiting check waits for. */
  readonly covers: bigint
}

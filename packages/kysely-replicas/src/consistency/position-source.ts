import type { DatabaseConnection } from 'kysely'
import type { ReplayedPosition } from './known-replay.js'

/**
 * How a database tells positions in its replication stream, for read-your-writes by position:
 * a write is seen by a replica once the replica has replayed the position the primary reached
 * after the write. PostgreSQL's is `postgresPositions` (WAL LSNs).
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, readYourWrites: { mode: 'position', positions: postgresPositions } })
 * ```
 */
export interface PositionSource {
  /** The primary's position now, asked on a primary connection right after a write. */
  primaryPosition(connection: DatabaseConnection): Promise<bigint>
  /**
   * How far a replica has replayed, asked on the connection that will then run the read. With
   * the server that answered (`{ position, server }`), what is learnt serves every connection to
   * that server; a bare position serves that connection only.
   */
  replayedPosition(connection: DatabaseConnection): Promise<bigint | ReplayedPosition>
  /**
   * Optional: {@link replayedPosition} once the replica has replayed `position`, or once
   * `timeoutMs` has passed, whichever comes first, in one round trip (the server waits, not the
   * client). Without it, a read that must wait for a lagging replica asks again every few ms.
   *
   * ```ts
   * const { position } = await positions.waitForReplay(connection, 0x16b3740n, 100)
   * ```
   */
  waitForReplay?(
    connection: DatabaseConnection,
    position: bigint,
    timeoutMs: number,
  ): Promise<bigint | ReplayedPosition>
  /**
   * What identifies the cluster (the same on the primary and its physical replicas), so that a
   * token from another cluster is recognized.
   */
  clusterId(connection: DatabaseConnection): Promise<string>
}

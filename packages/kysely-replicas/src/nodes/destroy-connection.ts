import type { DatabaseConnection } from 'kysely'

/**
 * Ends a connection of a node's driver for good and gives it back to the driver, which never
 * hands it out again; a query running on it fails at once instead of waiting for the server.
 * An engine's capability (see `postgresConnectionDestroyer`).
 */
export type DestroyConnection = (connection: DatabaseConnection) => Promise<void>

import type { Dialect, Driver } from 'kysely'
import type { DestroyConnection } from '../nodes/destroy-connection.js'
import { speaksPostgres } from './speaks-postgres.js'

const REFUSED = new Error('refused: the connection is being destroyed')

/**
 * How to destroy a connection of Kysely's `PostgresDriver` whose query may hang, or `undefined`
 * for any other driver. Kysely marks a connection for discard when a rollback fails on it, and
 * gives a discarded connection back to pg-pool as broken; pg-pool then ends the client, which
 * destroys its socket when a query is running on it, so that query fails at once
 * ("Connection terminated") instead of waiting for the server. No SQL is sent: a rollback that
 * fails before reaching the wire is all it takes.
 */
export function postgresConnectionDestroyer(
  dialect: Dialect,
  driver: Driver,
): DestroyConnection | undefined {
  if (driver.constructor.name !== 'PostgresDriver' || !speaksPostgres(dialect).postgres) {
    return undefined
  }
  return async (connection) => {
    const refusing = new Proxy(connection, {
      get(target, key) {
        if (key === 'executeQuery') {
          return () => Promise.reject(REFUSED)
        }
        const value: unknown = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    try {
      await driver.rollbackTransaction(refusing)
    } catch {
      // Refused on purpose: the driver marked the connection for discard.
    }
    await driver.releaseConnection(connection)
  }
}

import { Kysely } from 'kysely'
import { onPrimary, onReplica } from './views/route-view.js'

declare module 'kysely' {
  interface Kysely<DB> {
    /**
     * This instance with every query, transaction and `connection()` block on the primary.
     *
     * ```ts
     * const order = await db.onPrimary().selectFrom('order').selectAll().executeTakeFirst()
     * ```
     */
    onPrimary(): Kysely<DB>
    /**
     * This instance with every query on a replica: `index` (0-based) or the balancer's pick.
     * Writes through it are refused before they are sent.
     *
     * ```ts
     * const rows = await db.onReplica(1).selectFrom('person').selectAll().execute()
     * ```
     */
    onReplica(index?: number): Kysely<DB>
  }

  interface Transaction<DB> {
    /** See {@link Kysely.onPrimary}: inside a transaction on a replica it throws. */
    onPrimary(): Transaction<DB>
    /** See {@link Kysely.onReplica}: inside a transaction on the primary it throws. */
    onReplica(index?: number): Transaction<DB>
  }
}

// Defined as non-enumerable methods, like the class's own. Both entries import this module; the
// build keeps it in their shared chunk, so it runs once per module format, and running it again
// (a second copy of the package) defines the same methods over the first ones.
Object.defineProperties(Kysely.prototype, {
  onPrimary: {
    configurable: true,
    writable: true,
    value: function onPrimaryMethod<DB>(this: Kysely<DB>): Kysely<DB> {
      return onPrimary(this)
    },
  },
  onReplica: {
    configurable: true,
    writable: true,
    value: function onReplicaMethod<DB>(this: Kysely<DB>, index?: number): Kysely<DB> {
      return onReplica(this, index)
    },
  },
})

import { Kysely, Transaction } from 'kysely'
import { UnknownReplicaError } from '../errors.js'
import { ANY_REPLICA_TARGET, PRIMARY_TARGET, type RouteTarget } from '../routing/route-target.js'
import { registrationOf } from './driver-registry.js'
import { TargetedConnectionProvider } from './targeted-connection-provider.js'

/**
 * A view of `db` whose queries, transactions and `connection()` blocks all run on the primary:
 * for reads that must see the latest writes. Same as `db.onPrimary()` without the module
 * augmentation.
 *
 * ```ts
 * import { onPrimary } from 'kysely-replicas'
 * const fresh = await onPrimary(db).selectFrom('order').selectAll().where('id', '=', id).executeTakeFirst()
 * ```
 */
export function onPrimary<DB>(db: Transaction<DB>): Transaction<DB>
export function onPrimary<DB>(db: Kysely<DB>): Kysely<DB>
export function onPrimary<DB>(db: Kysely<DB>): Kysely<DB> {
  return createRouteView(db, PRIMARY_TARGET, 'onPrimary()')
}

/**
 * A view of `db` whose queries run on a replica: the one at `index` (0-based, in the order of the
 * `replicas` config), or the one the balancer picks. Writes through it are refused before they
 * are sent; raw `sql` is sent as asked. `transaction()` on it is a read-only transaction on one
 * replica (a consistent snapshot). With no replicas configured, `onReplica()` uses the primary.
 * Same as `db.onReplica(index)` without the module augmentation.
 *
 * ```ts
 * import { onReplica } from 'kysely-replicas'
 * const report = await onReplica(db).transaction().execute(async (trx) => { … })
 * await sql`select count(*) from person`.execute(onReplica(db, 1))
 * ```
 */
export function onReplica<DB>(db: Transaction<DB>, index?: number): Transaction<DB>
export function onReplica<DB>(db: Kysely<DB>, index?: number): Kysely<DB>
export function onReplica<DB>(db: Kysely<DB>, index?: number): Kysely<DB> {
  return createRouteView(db, replicaTarget(db, index), 'onReplica()')
}

function replicaTarget<DB>(db: Kysely<DB>, index: number | undefined): RouteTarget {
  if (index === undefined) {
    return ANY_REPLICA_TARGET
  }
  const count = registrationOf(db, 'onReplica()').driver.router.configuredReplicas.length
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new UnknownReplicaError(index, count)
  }
  return Object.freeze({ kind: 'replica', index })
}

function createRouteView<DB>(db: Kysely<DB>, target: RouteTarget, what: string): Kysely<DB> {
  const { dialect, driver } = registrationOf(db, what)
  const executor = db.getExecutor()
  const props = {
    config: { dialect },
    dialect,
    driver,
    executor: executor.withConnectionProvider(new TargetedConnectionProvider(executor, target)),
  }
  return db.isTransaction ? new Transaction<DB>(props) : new Kysely<DB>(props)
}

import { ReplicasError } from '../errors.js'

/**
 * A balancing function returned something that is not one of the candidates it was given (or
 * threw). The read is not sent.
 *
 * ```ts
 * const db = new Kysely<DB>({
 *   dialect: new ReplicatedDialect({ primary, replicas, balancing: () => 'no-such-replica' }),
 * })
 * await db.selectFrom('person').selectAll().execute() // throws BalancerError
 * ```
 */
export class BalancerError extends ReplicasError {}

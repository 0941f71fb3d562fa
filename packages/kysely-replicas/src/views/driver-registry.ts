import type { Dialect, DialectAdapter, Kysely } from 'kysely'
import { describeValue } from '../config/describe-value.js'
import { InvalidArgumentError, NotReplicatedError } from '../errors.js'
import type { ReplicatedDriver } from '../replicated-driver.js'

/** The dialect and driver behind a Kysely instance built with a `ReplicatedDialect`. */
export interface Registration {
  readonly dialect: Dialect
  readonly driver: ReplicatedDriver
}

const registrations = new WeakMap<DialectAdapter, Registration>()

/** Ties an adapter (one per Kysely instance) to its dialect and driver. */
export function registerDriver(
  adapter: DialectAdapter,
  dialect: Dialect,
  driver: ReplicatedDriver,
): void {
  registrations.set(adapter, Object.freeze({ dialect, driver }))
}

/** The registration of a Kysely instance; `what` names the caller in the error. */
export function registrationOf<DB>(db: Kysely<DB>, what: string): Registration {
  if (typeof (db as Partial<Kysely<DB>> | null | undefined)?.getExecutor !== 'function') {
    throw new InvalidArgumentError(
      `${what} takes a Kysely instance or a transaction (new Kysely({ dialect: new ReplicatedDialect(…) })), got ${describeValue(db)}.`,
    )
  }
  const registration = registrations.get(db.getExecutor().adapter)
  if (registration === undefined) {
    throw new NotReplicatedError(what)
  }
  return registration
}

import type { DialectAdapter, Kysely, MigrationLockOptions } from 'kysely'

/**
 * The primary dialect's adapter under an identity of its own, so that `onPrimary()` can find the
 * driver of any Kysely instance from `db.getExecutor().adapter`.
 */
export class ReplicatedAdapter implements DialectAdapter {
  readonly #adapter: DialectAdapter

  constructor(adapter: DialectAdapter) {
    this.#adapter = adapter
  }

  get supportsCreateIfNotExists(): boolean {
    return this.#adapter.supportsCreateIfNotExists
  }

  get supportsTransactionalDdl(): boolean {
    return this.#adapter.supportsTransactionalDdl
  }

  get supportsReturning(): boolean {
    return this.#adapter.supportsReturning
  }

  get supportsOutput(): boolean | undefined {
    return this.#adapter.supportsOutput
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature.
  acquireMigrationLock(db: Kysely<any>, options: MigrationLockOptions): Promise<void> {
    return this.#adapter.acquireMigrationLock(db, options)
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature.
  releaseMigrationLock(db: Kysely<any>, options: MigrationLockOptions): Promise<void> {
    return this.#adapter.releaseMigrationLock(db, options)
  }
}

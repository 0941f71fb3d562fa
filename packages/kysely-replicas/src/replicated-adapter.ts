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

  // Kysely 0.30 makes the adapter's `supports…` flags optional, unset meaning no.
  get supportsCreateIfNotExists(): boolean {
    return this.#adapter.supportsCreateIfNotExists ?? false
  }

  get supportsTransactionalDdl(): boolean {
    return this.#adapter.supportsTransactionalDdl ?? false
  }

  get supportsReturning(): boolean {
    return this.#adapter.supportsReturning ?? false
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

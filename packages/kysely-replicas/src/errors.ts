/**
 * The base class of every error thrown by kysely-replicas itself. Errors of the underlying
 * drivers (a SQL error, a refused connection) reach the caller unchanged.
 *
 * ```ts
 * try {
 *   await db.onReplica().insertInto('person').values(row).execute()
 * } catch (error) {
 *   if (error instanceof ReplicasError) console.error(error.message)
 * }
 * ```
 */
export class ReplicasError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * The `ReplicatedDialect` configuration is invalid. Thrown by the constructor, before any
 * connection is made.
 *
 * ```ts
 * new ReplicatedDialect({ primary: undefined as never }) // throws InvalidConfigError
 * ```
 */
export class InvalidConfigError extends ReplicasError {}

/**
 * A query that writes was sent to a replica through `onReplica()` or inside a block pinned to a
 * replica. It is refused before anything is sent to the database.
 *
 * ```ts
 * await db.onReplica().deleteFrom('person').execute() // throws ReplicaWriteError
 * await db.onPrimary().deleteFrom('person').execute() // what was meant
 * ```
 */
export class ReplicaWriteError extends ReplicasError {
  /** The name of the replica the query was pinned to. */
  readonly node: string
  /** Why the query counts as a write: `statement`, `row-lock`, `writing-function`, … */
  readonly reason: string

  constructor(node: string, reason: string, detail: string | undefined) {
    const what = detail === undefined ? reason : `${reason}: ${detail}`
    super(
      `A query that writes (${what}) was routed to replica "${node}" and was not sent. ` +
        'Writes run on the primary: drop onReplica() for this query or use db.onPrimary().',
    )
    this.node = node
    this.reason = reason
  }
}

/**
 * `onReplica(index)` named a replica that is not configured.
 *
 * ```ts
 * db.onReplica(5) // throws UnknownReplicaError when fewer than 6 replicas are configured
 * ```
 */
export class UnknownReplicaError extends ReplicasError {
  constructor(index: unknown, count: number) {
    super(
      `onReplica(${String(index)}): there is no such replica. ` +
        (count === 0
          ? 'No replicas are configured; call onReplica() without an index or use onPrimary().'
          : `Replica indexes are 0-based integers from 0 to ${count - 1}.`),
    )
  }
}

/**
 * `onPrimary()` / `onReplica()` was called on a `Kysely` instance that does not use a
 * `ReplicatedDialect`.
 *
 * ```ts
 * new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }).onPrimary() // throws
 * ```
 */
export class NotReplicatedError extends ReplicasError {
  constructor(what: string) {
    super(
      `${what} needs a Kysely instance created with a ReplicatedDialect; this one uses another ` +
        'dialect. Create it with `new Kysely({ dialect: new ReplicatedDialect({ primary, replicas }) })`.',
    )
  }
}

/**
 * A block (transaction or `connection()`) already runs on one node, and a query inside it asked
 * for another one: a transaction on the primary cannot read from a replica, and the other way
 * round.
 *
 * ```ts
 * await db.transaction().execute(async (trx) => {
 *   await trx.onReplica().selectFrom('person').selectAll().execute() // throws PinConflictError
 * })
 * ```
 */
export class PinConflictError extends ReplicasError {
  constructor(boundTo: string, wanted: string) {
    super(
      `This block runs on "${boundTo}" from start to end, so a query inside it cannot go to ` +
        `${wanted}. Run that query outside the block, or open the block with the routing you need ` +
        '(db.onReplica().transaction(), db.onPrimary().connection(), …).',
    )
  }
}

/**
 * A transaction pinned to a replica was asked to be `read write`. Transactions on a replica are
 * always read-only.
 *
 * ```ts
 * await db.onReplica().transaction().setAccessMode('read write').execute(fn) // throws
 * ```
 */
export class ReplicaTransactionModeError extends ReplicasError {
  constructor(node: string) {
    super(
      `A transaction on replica "${node}" cannot be 'read write': replicas are read-only. ` +
        "Use db.onPrimary().transaction() to write, or leave the access mode unset ('read only').",
    )
  }
}

/**
 * A read had to run on a replica (through `onReplica()`, or with the fallback policy `none`) and
 * no replica is up; or no replica could take it and the primary already runs as many fallback
 * reads as `fallback.maxConcurrent` allows (then `fallbackLimit` is that number). Nothing was
 * sent. Retry later, or allow the primary (`fallback: 'replicas-then-primary'`, a higher
 * `fallback.maxConcurrent`).
 *
 * ```ts
 * await db.onReplica().selectFrom('person').selectAll().execute() // throws when every replica is down
 * ```
 */
export class NoReplicaAvailableError extends ReplicasError {
  /** The fallback budget that was full, when that is why; `undefined` otherwise. */
  readonly fallbackLimit: number | undefined

  constructor(down: readonly string[], fallbackLimit?: number) {
    const names = down.map((name) => `"${name}"`).join(', ')
    super(
      fallbackLimit === undefined
        ? `No replica is up to serve this read (down: ${names}). ` +
            "They are probed in the background; retry later, or read from the primary with onPrimary() or fallback: 'replicas-then-primary'."
        : `No replica could serve this read (down: ${names || 'none, their pools are full'}), and the primary already runs ${fallbackLimit} fallback reads, ` +
            'as many as fallback.maxConcurrent allows, to keep the rest of its pool for writes. ' +
            'Retry later, read from the primary with onPrimary(), or raise fallback.maxConcurrent.',
    )
    this.fallbackLimit = fallbackLimit
  }
}

/**
 * A node answered nothing, to a read or to anything else, for a read's deadline (see
 * `ReadDeadlineConfig`): it may be cut off by a network partition. The read was sent to another
 * node; this is what `stats()` and the `node-down` event show for the node if its probe does
 * not answer either. Nothing to do: the node gets reads again once a probe answers.
 *
 * ```ts
 * replicationOf(db).on('node-down', ({ node, error }) => console.warn(node, error)) // NodeUnresponsiveError: …
 * ```
 */
export class NodeUnresponsiveError extends ReplicasError {
  constructor(node: string, deadlineMs: number) {
    super(
      `Node "${node}" answered nothing for ${Math.round(deadlineMs)} ms (readDeadline); the read was sent to another node. ` +
        'It gets reads again once a probe answers; raise readDeadline.minMs if its reads are slow rather than stuck.',
    )
  }
}

/**
 * No node is known to be the primary right now (it is down, or it was demoted and no replica has
 * been promoted yet), so a write cannot be sent. Nothing was sent: the write is safe to retry once
 * a primary is back; `retryable` is `true`.
 *
 * ```ts
 * try { await db.insertInto('person').values(row).execute() }
 * catch (e) { if (e instanceof NoPrimaryError) await retryLater() }
 * ```
 */
export class NoPrimaryError extends ReplicasError {
  /** Always `true`: nothing was sent, so the write may be retried once a primary is back. */
  readonly retryable = true

  constructor() {
    super(
      'No primary is available: the primary is down and no replica has been promoted yet. The write was not ' +
        'sent; retry it once a primary is back (replicationOf(db).on("role-change", …) tells when a replica is promoted).',
    )
  }
}

/**
 * Two nodes claim to be the primary (split brain). Writes go to neither until one of them is
 * demoted; nothing was sent, and `retryable` is `true`.
 *
 * ```ts
 * catch (e) { if (e instanceof SplitBrainError) alert(e.nodes) }
 * ```
 */
export class SplitBrainError extends ReplicasError {
  /** Always `true`: nothing was sent, so the write may be retried once one primary is left. */
  readonly retryable = true
  /** The names of the nodes that claim to be the primary. */
  readonly nodes: readonly string[]

  constructor(nodes: readonly string[]) {
    super(
      `Split brain: ${nodes.map((node) => `"${node}"`).join(' and ')} all claim to be the primary, so the write ` +
        'was not sent to any of them. Demote (stop or rebuild) all but one; writes resume at once after.',
    )
    this.nodes = Object.freeze([...nodes])
  }
}

/**
 * Read-your-writes with `onTimeout: 'error'`: no replica replayed the scope's last write within
 * `maxWaitMs`. Retry, raise `maxWaitMs`, or let such reads go to the primary (the default).
 *
 * ```ts
 * new ReplicatedDialect({ primary, replicas, readYourWrites: { maxWaitMs: 200, onTimeout: 'error' } })
 * ```
 */
export class StaleReadError extends ReplicasError {
  /** Always `true`: a later read may find a replica that caught up. */
  readonly retryable = true

  constructor(waitedMs: number) {
    super(
      `No replica had replayed this scope's last write after ${waitedMs} ms, and readYourWrites.onTimeout is 'error'. ` +
        "Retry the read, raise readYourWrites.maxWaitMs, or use onTimeout: 'primary'.",
    )
  }
}

/**
 * The driver does not support an operation Kysely asked for (for example savepoints), or the
 * dialect was used after `destroy()`.
 *
 * ```ts
 * const trx = await db.startTransaction().execute()
 * await trx.savepoint('before_import').execute() // throws it if the node's driver has no savepoints
 * ```
 */
export class UnsupportedOperationError extends ReplicasError {}

/**
 * A function of kysely-replicas was called with an argument it cannot use: an event name that
 * does not exist, a listener that is not a function, something `explain()` cannot read. The
 * message says what was given and what is accepted.
 *
 * ```ts
 * replicationOf(db).on('nodedown' as never, log) // throws: did you mean 'node-down'?
 * ```
 */
export class InvalidArgumentError extends ReplicasError {}

/**
 * `init()` or `destroy()` failed on one or more nodes. `errors` holds one error per failed node;
 * every message starts with the node's name (never its connection string). `destroy()` still
 * closes every node it can before throwing this.
 *
 * ```ts
 * try { await db.destroy() } catch (e) { if (e instanceof NodeLifecycleError) console.error(e.errors) }
 * ```
 */
export class NodeLifecycleError extends AggregateError {
  /** The names of the nodes that failed. */
  readonly nodes: readonly string[]

  constructor(
    operation: 'init' | 'destroy',
    failures: ReadonlyArray<{ node: string; error: unknown }>,
  ) {
    super(
      failures.map((failure) => failure.error),
      `${operation} failed on ${failures.map((failure) => `"${failure.node}" (${describe(failure.error)})`).join(', ')}.` +
        (operation === 'init'
          ? ' Check that these nodes are reachable and their dialect configuration is right.'
          : ' The other nodes were closed.'),
    )
    this.name = 'NodeLifecycleError'
    this.nodes = Object.freeze(failures.map((failure) => failure.node))
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

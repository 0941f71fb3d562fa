/**
 * What one scope (an HTTP request, a user session, or the whole Kysely instance) has written:
 * the highest position it must read at, and when it last wrote.
 */
export class ConsistencyScope {
  readonly #parent: ConsistencyScope | undefined
  #position: bigint | undefined
  #lastWriteAt: number | undefined
  #lastWriteUnplaced: boolean

  /** With a `parent`, the writes of the scope are the parent's too (not the other way round). */
  constructor(position?: bigint, lastWriteAt?: number, parent?: ConsistencyScope) {
    this.#parent = parent
    this.#position = position
    this.#lastWriteAt = lastWriteAt
    this.#lastWriteUnplaced = position === undefined && lastWriteAt !== undefined
  }

  /** The position reads must have reached; `undefined` when the scope wrote nothing. */
  get position(): bigint | undefined {
    return this.#position
  }

  /** When the scope last wrote (epoch ms). */
  get lastWriteAt(): number | undefined {
    return this.#lastWriteAt
  }

  /** Whether the last write's position is unknown (it could not be read). */
  get lastWriteUnplaced(): boolean {
    return this.#lastWriteUnplaced
  }

  /** Records a write: its position when known, and its time. */
  noteWrite(position: bigint | undefined, at: number): void {
    if (position !== undefined && (this.#position === undefined || position > this.#position)) {
      this.#position = position
    }
    // Not by comparing times: two writes in one millisecond would look placed. A position read
    // after a write covers the writes before it.
    this.#lastWriteUnplaced = position === undefined
    this.#lastWriteAt = at
    this.#parent?.noteWrite(position, at)
  }

  /** Lowers a position nothing can reach (a token from the future) to one that exists. */
  clamp(position: bigint): void {
    if (this.#position !== undefined && this.#position > position) {
      this.#position = position
    }
  }
}

const LSN = /^([0-9a-f]{1,8})\/([0-9a-f]{1,8})$/i

/**
 * A PostgreSQL WAL position as the server prints it (`16/B374D848`: the high and low 32 bits in
 * hex) as a number of bytes, so that positions can be compared and subtracted. This is the unit
 * of `DatabaseNode.replayed`. Throws a `TypeError` for anything else.
 *
 * ```ts
 * parseLsn('0/174CF00') // 24432384n
 * parseLsn('16/B374D848') - parseLsn('16/B374D000') // 2120n bytes
 * ```
 */
export function parseLsn(lsn: string): bigint {
  const match = LSN.exec(lsn)
  if (match === null) {
    throw new TypeError(
      `Not a PostgreSQL WAL position (expected something like '16/B374D848'): ${lsn}`,
    )
  }
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`)
}

/**
 * A number of bytes as a PostgreSQL WAL position, the inverse of {@link parseLsn}. Throws a
 * `RangeError` for a negative position or one past 64 bits.
 *
 * ```ts
 * formatLsn(24432384n) // '0/174CF00'
 * ```
 */
export function formatLsn(position: bigint): string {
  if (position < 0n || position >= 1n << 64n) {
    throw new RangeError(`Not a PostgreSQL WAL position (0 to 2^64 - 1): ${position}`)
  }
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`
}

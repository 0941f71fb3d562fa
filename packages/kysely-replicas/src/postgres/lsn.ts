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

/**
 * A WAL position as PostgreSQL prints it (`16/B374D848`) turned into a number of bytes, so that
 * positions from different servers can be compared and subtracted in JavaScript.
 *
 * ```ts
 * parseLsn('16/B374D848') - parseLsn('16/B3740000') // 55368n
 * ```
 */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split('/')
  if (high === undefined || low === undefined) throw new Error(`Not a WAL position: ${lsn}`)
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

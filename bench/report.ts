/**
 * Prints rows as an aligned table: the first row is the header, the first column is left-aligned
 * and the others right-aligned.
 */
export function printTable(rows: readonly string[][]): void {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? []
  for (const [index, row] of rows.entries()) {
    console.log(
      `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ')}`,
    )
    if (index === 0) {
      console.log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`)
    }
  }
}

/** A positive integer from an environment variable, or the fallback. */
export function positiveInteger(value: string | undefined, fallback: number): number {
  const parsed = Number(value)
  return value !== undefined && Number.isInteger(parsed) && parsed > 0 ? parsed : fallback
}

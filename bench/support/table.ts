/**
 * Plain-text tables for a terminal: a header row, a rule, then the rows, each
 * column as wide as its widest cell.
 */

/** `value` with `digits` decimals, or `-` when it is not a finite number (nothing measured). */
export const fixed = (value: number, digits: number): string => Number.isFinite(value) ? value.toFixed(digits) : "-"

/** The rows (the first one is the header) laid out in columns; the columns in `rightAligned` are padded left. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)).join("  ")
      .trimEnd()
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n")
}

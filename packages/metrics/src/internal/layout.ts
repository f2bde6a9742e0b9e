/**
 * Aligned text tables: a header and rows of cells, columns two spaces apart,
 * text left-aligned and figures right-aligned, no trailing spaces.
 */

/** A column: its header, and whether its cells align right (figures). */
export interface Column {
  readonly header: string
  readonly align: "left" | "right"
}

/** A titled table as lines: the title, the header, one line per row. */
export const table = (
  title: string,
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): Array<string> => {
  const widths = columns.map((column, index) =>
    rows.reduce((width, row) => Math.max(width, (row[index] ?? "").length), column.header.length)
  )
  const line = (cells: ReadonlyArray<string>): string =>
    columns.map((column, index) => {
      const cell = cells[index] ?? ""
      return column.align === "right" ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!)
    }).join("  ").trimEnd()
  return [title, line(columns.map((column) => column.header)), ...rows.map(line)]
}

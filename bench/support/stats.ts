/**
 * The few statistics the benchmarks print: medians, quantiles, and the median
 * of ratios paired by round (see `rounds.ts`).
 */

/** The median; `NaN` for no values. */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = values.toSorted((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The value at quantile `q` (0 to 1) of values sorted ascending, the nearest rank below. */
export const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

/**
 * The median over rounds of `mine[i] / anchor[i]`: both arrays hold one value
 * per round, in round order, so each ratio compares two figures taken under
 * the same conditions. Slow drift in the machine's load cancels out, which
 * dividing two medians does not do. `NaN` when either is missing.
 */
export const medianOfRatios = (
  mine: ReadonlyArray<number> | undefined,
  anchor: ReadonlyArray<number> | undefined
): number => {
  if (mine === undefined || anchor === undefined) return Number.NaN
  return median(mine.map((value, i) => value / anchor[i]!))
}

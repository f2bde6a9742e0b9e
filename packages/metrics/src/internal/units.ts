/**
 * Human units for the table: durations (`850 µs`, `1.8 ms`, `2.4 s`,
 * `3.5 min`) and byte counts (`512 B`, `12.3 MB`, decimal prefixes). Three
 * significant figures at most: one decimal below 100, none from 100 on.
 */

const figure = (value: number): string => (Math.abs(value) < 100 ? value.toFixed(1) : value.toFixed(0))

/** `seconds` in the largest unit that keeps it at least 1 (µs, ms, s, min, h). */
export const duration = (seconds: number): string => {
  if (seconds === 0) return "0 s"
  const magnitude = Math.abs(seconds)
  if (magnitude < 1e-3) return `${figure(seconds * 1e6)} µs`
  if (magnitude < 1) return `${figure(seconds * 1e3)} ms`
  if (magnitude < 60) return `${figure(seconds)} s`
  if (magnitude < 3600) return `${figure(seconds / 60)} min`
  return `${figure(seconds / 3600)} h`
}

const byteUnits = ["kB", "MB", "GB", "TB", "PB"] as const

/** A byte count with a decimal prefix: `512 B`, `1.5 kB`, `12.3 MB`. */
export const bytes = (count: number): string => {
  if (Math.abs(count) < 1000) return `${Math.round(count)} B`
  let value = count
  let unit = "B"
  for (const next of byteUnits) {
    if (Math.abs(value) < 1000) break
    value /= 1000
    unit = next
  }
  return `${figure(value)} ${unit}`
}

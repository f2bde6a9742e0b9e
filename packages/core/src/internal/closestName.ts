/**
 * The known name a mistyped setting most likely meant: the same words in
 * another order, a group left out, or the fewest edits.
 */

/**
 * The known name a mistyped one most likely meant, or `undefined` when none
 * is close (see `Settings.closest`).
 */
export const closest = (name: string, known: ReadonlyArray<string>, prefix = ""): string | undefined => {
  const strip = (text: string): string =>
    prefix !== "" && text.startsWith(`${prefix}_`) ? text.slice(prefix.length + 1) : text
  const words = strip(name).split("_").filter((word) => word !== "")
  if (words.length === 0) return undefined
  const sorted = words.toSorted().join("_")
  const reordered = known.find((candidate) => strip(candidate).split("_").toSorted().join("_") === sorted)
  if (reordered !== undefined) return reordered
  const tail = `_${words.join("_")}`
  const grouped = known.filter((candidate) => `_${strip(candidate)}`.endsWith(tail) && tail.length >= 5)
  if (grouped.length > 0) return grouped.reduce((a, b) => (b.length < a.length ? b : a))
  const limit = Math.max(2, Math.floor(strip(name).length / 3))
  let best: string | undefined
  let bestDistance = limit + 1
  for (const candidate of known) {
    const distance = editDistance(strip(name), strip(candidate), bestDistance)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Edits between two names (optimal string alignment: insert, delete, replace, swap neighbours), or more than `bound`. */
const editDistance = (a: string, b: string, bound: number): number => {
  if (Math.abs(a.length - b.length) >= bound) return bound
  let before: Array<number> = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, before[j - 2]! + 1)
      current.push(value)
    }
    before = previous
    previous = current
  }
  return previous[b.length]!
}

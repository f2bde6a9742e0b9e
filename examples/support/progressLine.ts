/**
 * A live progress line for the examples: on a terminal, rewritten in place
 * (`\r`) at every update; into a pipe or a file, one line at most every
 * `everyMillis` (and none of the `\r`s that would make one long line of a log).
 *
 * ```ts
 * const progress = progressLine()
 * onProgress: (p) => progress.update(Progress.format(p))
 * progress.end() // before the next line of output
 * ```
 */

/** A progress line on stdout. */
export interface ProgressLine {
  readonly update: (text: string) => void
  /** Ends the line (a newline on a terminal, once something was shown). */
  readonly end: () => void
}

/** A progress line on `process.stdout`. */
export const progressLine = (everyMillis = 1_000): ProgressLine => {
  const terminal = process.stdout.isTTY === true
  let shown = false
  let lastAt = Number.NEGATIVE_INFINITY
  return {
    update: (text) => {
      if (terminal) {
        process.stdout.write(`\r${text.padEnd(60)}`)
        shown = true
        return
      }
      const now = Date.now()
      if (now - lastAt < everyMillis) return
      lastAt = now
      process.stdout.write(`${text}\n`)
    },
    end: () => {
      if (terminal && shown) process.stdout.write("\n")
      shown = false
    }
  }
}

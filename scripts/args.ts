/**
 * Command-line flags, read the same way by every example and benchmark:
 * unknown flags and bad values print a message and exit with status 2,
 * `--help` prints the usage and exits with 0.
 *
 * ```ts
 * const { values } = parseFlags({ options: { rounds: { type: "string" }, help: { type: "boolean" } } }, usage)
 * const rounds = positiveInt("--rounds", values.rounds) ?? 5
 * ```
 */
import { parseArgs, type ParseArgsConfig } from "node:util"

/** A failure the script reports in one line: `message` on stderr, then exit with `code` (2: a bad command line). */
export function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}

/**
 * `parseArgs(config)`, strict unless `config` says otherwise; an unknown flag,
 * a stray argument or a missing value fails with the usage, and `--help` (when
 * `config` has a `help` option) prints `usage` and exits.
 */
export const parseFlags = <T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> => {
  let parsed: ReturnType<typeof parseArgs<T>>
  try {
    parsed = parseArgs(config)
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${usage}`)
  }
  if ((parsed.values as { readonly help?: unknown }).help === true) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  return parsed
}

/** A positive integer given as `text` (`undefined` when it is not given), else fails naming `flag`. */
export const positiveInt = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined || text === "") return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got ${JSON.stringify(text)}`)
  return n
}

/**
 * A comma-separated list of ids, each one of `known` (else fails naming it and
 * listing the known ones, as a `noun`); `undefined` when `text` is.
 */
export const idList = <Id extends string>(
  noun: string,
  text: string | undefined,
  known: ReadonlyArray<Id>
): ReadonlyArray<Id> | undefined => {
  if (text === undefined) return undefined
  const isKnown = (id: string): id is Id => (known as ReadonlyArray<string>).includes(id)
  const ids: Array<Id> = []
  for (const item of text.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
    if (!isKnown(item)) fail(`unknown ${noun} ${JSON.stringify(item)}; known: ${known.join(", ")}`)
    ids.push(item)
  }
  if (ids.length === 0) fail(`the list of ${noun}s names none`)
  return ids
}

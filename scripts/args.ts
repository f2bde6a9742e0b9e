/**
 * Command-line flags, read the same way by every example and benchmark:
 * unknown flags and bad values print a message and exit with status 2,
 * `--help` prints the usage and exits with 0.
 *
 * ```ts
 * const { values } = parseFlags({ options: { rounds: { type: "string" }, help: { type: "boolean" } } }, usage)
 * const rounds = positiveInt("--rounds", values.rounds) ?? 5
 * ```
 *
 * Numbers are plain decimal digits (`1e3`, `0x10` and `1.0` are refused).
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
    const args = withNegativeValues(config.args ?? process.argv.slice(2), config.options)
    // The same config with its arguments rewritten: the parsed shape is `T`'s.
    parsed = parseArgs({ ...config, args }) as ReturnType<typeof parseArgs<T>>
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${usage}`)
  }
  if ((parsed.values as { readonly help?: unknown }).help === true) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  return parsed
}

/**
 * `--flag -3` as `--flag=-3` for a flag that takes a value: `parseArgs` reads
 * a value starting with a dash as a missing one, and the flag's own check then
 * says what it takes (`--rounds must be a positive integer, got "-3"`).
 */
const withNegativeValues = (args: ReadonlyArray<string>, options: ParseArgsConfig["options"]): Array<string> => {
  const joined: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const next = args[i + 1]
    const takesValue = arg.startsWith("--") && !arg.includes("=") && options?.[arg.slice(2)]?.type === "string"
    if (takesValue && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`)
      i++
    } else joined.push(arg)
  }
  return joined
}

/**
 * The integer `text` writes in plain decimal digits, or `undefined` when it
 * writes anything else: `Number` alone would also take `1e3`, `0x10`, ` 7`
 * and `1.0`.
 */
const decimal = (text: string): number | undefined => {
  if (!/^[0-9]+$/.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A positive integer given as `text` in decimal digits (`undefined` when it is not given), else fails naming `flag`. */
export const positiveInt = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined || text === "") return undefined
  const n = decimal(text)
  if (n === undefined || n < 1) fail(`${flag} must be a positive integer, got ${JSON.stringify(text)}`)
  return n
}

/** A whole number, 0 or more, given as `text` in decimal digits (`undefined` when it is not given), else fails naming `flag`. */
export const nonNegativeInt = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined || text === "") return undefined
  const n = decimal(text)
  if (n === undefined) fail(`${flag} must be a whole number (0 or more), got ${JSON.stringify(text)}`)
  return n
}

/** A TCP port, 0 to 65535 (0: any free one), given as `text` (`undefined` when it is not given), else fails naming `flag`. */
export const port = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined || text === "") return undefined
  const n = decimal(text)
  if (n === undefined || n > 65_535) fail(`${flag} must be a port, 0 to 65535, got ${JSON.stringify(text)}`)
  return n
}

/**
 * A `redis://` or `rediss://` URL given by `source` (a flag, or a variable
 * such as `REDIS_URL`), else fails naming `source`. The message does not
 * repeat the value: it may hold a password.
 */
export const redisUrlOf = (source: string, text: string): string => {
  const url = URL.parse(text)
  if (url === null || !/^rediss?:$/.test(url.protocol)) {
    fail(
      `${source} must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379${
        url === null ? "; it does not parse" : ""
      }`
    )
  }
  return text
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

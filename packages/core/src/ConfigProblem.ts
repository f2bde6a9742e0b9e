/**
 * One shape for every configuration error of every httpkit package: the
 * setting at fault, named as the user wrote it (the environment variable,
 * `HTTPKIT_RETRY_MAX_ATTEMPTS`, or the option path in code,
 * `retry.maxAttempts`), the value received, and what is expected:
 *
 * ```text
 * invalid client configuration: HTTPKIT_RETRY_MAX_ATTEMPTS is "0", expected an integer of at least 1
 * invalid downloader configuration: progressInterval is "20 sec", expected a duration such as 250ms, 20s, ...
 * ```
 *
 * Each package keeps its own error class (`ClientConfigError`,
 * `DownloadConfigError`, the rate limiter's `RedisUrlError`) and builds its
 * message here, with the problems as a field, so a program can show them as
 * it likes.
 *
 * **Gotchas**
 *
 * A received value is shown as a JSON string (so a CR or LF in it cannot
 * forge a log line), cut at 80 characters, with a URL's user-info and
 * token-like query parameters redacted. A package leaves `received` out for
 * settings that may hold a secret (header values): the message then says the
 * value is not shown.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Str from "effect/String"
import * as Redact from "./Redact.ts"

/**
 * One setting at fault.
 *
 * @category models
 * @since 0.1.0
 */
export const ConfigProblem = Schema.Struct({
  /** The environment variable (`HTTPKIT_TIMEOUT_TOTAL`) or the option path in code (`timeout.total`). */
  setting: Schema.String,
  /** The value as received, made fit to show (`show`); absent when it may hold a secret. */
  received: Schema.optionalKey(Schema.String),
  /** What the setting takes. */
  expected: Schema.String
})

/**
 * @category models
 * @since 0.1.0
 */
export type ConfigProblem = typeof ConfigProblem.Type

/**
 * One problem as text: `<setting> is <received>, expected <expected>`.
 *
 * @category utils
 * @since 0.1.0
 */
export const format = (problem: ConfigProblem): string =>
  `${problem.setting} is ${problem.received ?? "set (value not shown)"}, expected ${problem.expected}`

/**
 * The message of a configuration error: `invalid <subject>: ` then every
 * problem, separated by `; `.
 *
 * @category utils
 * @since 0.1.0
 */
export const message = (subject: string, problems: ReadonlyArray<ConfigProblem>): string =>
  `invalid ${subject}: ${problems.map(format).join("; ")}`

/**
 * The problems of two checks of one configuration, one per setting: a setting
 * already in `first` is not repeated from `second`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const merge = (
  first: ReadonlyArray<ConfigProblem>,
  second: ReadonlyArray<ConfigProblem>
): ReadonlyArray<ConfigProblem> => {
  const named = new Set(first.map((problem) => problem.setting))
  return [...first, ...second.filter((problem) => !named.has(problem.setting))]
}

const maxShown = 80
const urlLike = /^\s*[a-z][a-z0-9+.-]*:\/\//i

/**
 * A received value fit for a message: strings as JSON (URL credentials
 * redacted, cut at 80 characters), numbers and booleans as they are, a list
 * or an object by its kind only.
 *
 * @category utils
 * @since 0.1.0
 */
export const show = (value: unknown): string => {
  switch (typeof value) {
    case "string": {
      // A value with `@` may be a URL with a typo (`http//user:pass@host`, `user:pass@host`): redacted too.
      const text = urlLike.test(value) || value.includes("@") ? Redact.url(value.trim()) : value
      return JSON.stringify(text.length > maxShown ? `${text.slice(0, maxShown - 3)}...` : text)
    }
    case "number":
    case "boolean":
    case "bigint":
      return String(value)
    case "undefined":
      return "absent"
    case "function":
      return "a function"
    default:
      return value === null ? "null" : Array.isArray(value) ? `a list of ${value.length}` : "an object"
  }
}

/**
 * The option path of a setting in code: `retry.maxAttempts`,
 * `retry.statuses[1]`, `headers.x-api-key`.
 *
 * @category utils
 * @since 0.1.0
 */
export const optionPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, segment) =>
      typeof segment === "number" ? `${out}[${segment}]` : out === "" ? String(segment) : `${out}.${String(segment)}`,
    ""
  )

/**
 * The environment variable of a setting: the prefix and each path segment in
 * CONSTANT_CASE, joined by `_`, the way `ConfigProvider.constantCase` reads
 * them (`variableName("httpkit", ["retry", "maxAttempts"])` is
 * `HTTPKIT_RETRY_MAX_ATTEMPTS`).
 *
 * @category utils
 * @since 0.1.0
 */
export const variableName = (prefix: string, path: ReadonlyArray<PropertyKey>): string =>
  [prefix, ...path].filter((segment) => segment !== "").map((segment) =>
    typeof segment === "number" ? String(segment) : Str.configCase(String(segment))
  ).join("_")

/**
 * How the settings of one source are named and shown.
 *
 * @category models
 * @since 0.1.0
 */
export interface Naming {
  /** The setting's name for a path of the decoded input. */
  readonly setting: (path: ReadonlyArray<PropertyKey>) => string
  /** The value received at a path, shown (`show`), or `undefined` to withhold it. */
  readonly received: (path: ReadonlyArray<PropertyKey>) => string | undefined
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Effect's names for types, and for the string forms of the environment, as a sentence says them. */
const plainWords: Record<string, string> = {
  array: "a list",
  object: "an object",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  "a string representing a finite number": "a number",
  "\"true\" | \"false\"": "true or false"
}

/**
 * The problems of a `Schema` decoding failure, one per failing setting (the
 * first issue of each), named by `naming`. `expected` is Effect's own
 * description of what failed, or the schema's `expected` annotation.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromIssue = (issue: SchemaIssue.Issue, naming: Naming): ReadonlyArray<ConfigProblem> => {
  const seen = new Set<string>()
  const problems: Array<ConfigProblem> = []
  for (const entry of formatter(issue).issues) {
    const path = (entry.path ?? []).map((segment) =>
      typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
    ) as ReadonlyArray<PropertyKey>
    const setting = naming.setting(path)
    if (seen.has(setting)) continue
    seen.add(setting)
    const received = naming.received(path)
    const described = entry.message.replace(/^Expected /, "")
    const expected = plainWords[described] ?? described
    problems.push(received === undefined ? { setting, expected } : { setting, received, expected })
  }
  return problems
}

/**
 * The value at `path` in a decoded input, own keys only.
 *
 * @category utils
 * @since 0.1.0
 */
export const at = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = input
  for (const segment of path) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, segment)) return undefined
    current = (current as Record<PropertyKey, unknown>)[segment]
  }
  return current
}

/**
 * The environment variables of the httpkit packages: which names each package
 * reads (`registry`), reading a package's settings from the current
 * `ConfigProvider` with errors that name the variable (`read`), and the
 * check that reports a variable under a package's prefix that no package
 * reads, with the closest known name (`warnUnknown`):
 *
 * ```text
 * HTTPKIT_RETRY_MAX_ATEMPTS is not a known setting of @httpkit/client and is ignored; did you mean HTTPKIT_RETRY_MAX_ATTEMPTS?
 * ```
 *
 * **Details**
 *
 * - Prefix spaces: `@httpkit/client` reads `HTTPKIT_*`, `@httpkit/downloader`
 *   reads `HTTPKIT_DOWNLOAD_*`, `@httpkit/metrics` `HTTPKIT_METRICS_*`. Each package checks its own space when its
 *   `layerConfig` reads it, leaving out the spaces of the other packages
 *   inside it (the client does not report `HTTPKIT_DOWNLOAD_*`), so a name is
 *   reported once, by the package whose space it is in. Suggestions come from
 *   every package's names: a client that finds `HTTPKIT_DOWNLOD_SEGMENTS`
 *   suggests `HTTPKIT_DOWNLOAD_SEGMENTS`.
 * - The names live here, in one table, because a package cannot import
 *   another that does not depend on it; each package's tests check that its
 *   entry is exactly the names its `Options` schema reads (`namesOf`).
 * - An unknown name is a warning (`Effect.logWarning`), not a failure: an
 *   environment is shared by programs and by versions, and a setting that a
 *   newer version reads must not stop an older one from starting. The value
 *   of an unknown variable is never read or logged.
 *
 * @since 0.1.0
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ConfigProblem from "./ConfigProblem.ts"
import * as ClosestName from "./internal/closestName.ts"
import { fieldsOf, itemNode, listNode, problemsOf, readOnce } from "./internal/envRead.ts"

/**
 * The variables one package reads under its default prefix: names after the
 * prefix, CONSTANT_CASE; a name ending in `_*` stands for itself and every
 * name under it (a list's `_0`, `_1`, a record's keys).
 *
 * @category models
 * @since 0.1.0
 */
export interface Space {
  readonly package: string
  /** The default prefix, as passed to the package's `layerConfig` (`httpkit`, `httpkit_download`). */
  readonly prefix: string
  readonly names: ReadonlyArray<string>
}

/**
 * `@httpkit/client`'s variables (`ClientConfig.Options`), under `HTTPKIT_`.
 *
 * @category constants
 * @since 0.1.0
 */
export const client: Space = {
  package: "@httpkit/client",
  prefix: "httpkit",
  names: [
    "NAME",
    "BASE_URL",
    "HEADERS_*",
    "USER_AGENT",
    "TIMEOUT_CONNECT",
    "TIMEOUT_HEADERS",
    "TIMEOUT_IDLE",
    "TIMEOUT_ATTEMPT",
    "TIMEOUT_TOTAL",
    "RETRY_MAX_ATTEMPTS",
    "RETRY_MIN_DELAY",
    "RETRY_MAX_DELAY",
    "RETRY_MULTIPLIER",
    "RETRY_JITTER",
    "RETRY_STATUSES_*",
    "RETRY_RETRY_AFTER_CEILING",
    "RETRY_METHODS_*",
    "RETRY_IDEMPOTENCY_KEYS",
    "CIRCUIT_BREAKER_ENABLED",
    "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
    "CIRCUIT_BREAKER_OPEN_DURATION",
    "CIRCUIT_BREAKER_KEY_BY",
    "BULKHEAD_MAX_CONCURRENCY",
    "BULKHEAD_ACQUIRE_TIMEOUT",
    "BULKHEAD_MAX_WAITING",
    "BULKHEAD_PER_HOST",
    "REDIRECTS_FOLLOW",
    "REDIRECTS_MAX_HOPS",
    "REDIRECTS_ALLOW_DOWNGRADE",
    "HTTP2",
    "POOL_CONNECTIONS_PER_ORIGIN",
    "POOL_KEEP_ALIVE_TIMEOUT",
    "TLS_CA",
    "TLS_DANGEROUSLY_DISABLE_VERIFICATION",
    "LOGGING_LEVEL",
    "LOGGING_JSON",
    "METRICS",
    "TRACING",
    "MAX_BODY_BYTES",
    "REQUEST_ID_HEADER",
    "IDEMPOTENCY_KEY_HEADER",
    "SECRET_HEADERS_*"
  ]
}

/**
 * `@httpkit/downloader`'s variables (`DownloadConfig.Options`), under
 * `HTTPKIT_DOWNLOAD_`.
 *
 * @category constants
 * @since 0.1.0
 */
export const downloader: Space = {
  package: "@httpkit/downloader",
  prefix: "httpkit_download",
  names: [
    "SEGMENTS",
    "SEGMENT_THRESHOLD",
    "RESUME",
    "IF_EXISTS",
    "RESTART_ON_CHANGE",
    "MAX_RESTARTS",
    "MAX_STALLS",
    "PROGRESS_INTERVAL",
    "CHECKPOINT_INTERVAL",
    "WRITE_BATCH",
    "ALLOW_SYMLINKS",
    "CREATE_FOLDERS",
    "METRICS",
    "MAX_BYTES",
    "TIMEOUT"
  ]
}

/**
 * `@httpkit/metrics`'s variables (`MetricsConfig.Options`: the Prometheus
 * endpoint), under `HTTPKIT_METRICS_`.
 *
 * @category constants
 * @since 0.1.0
 */
export const metrics: Space = {
  package: "@httpkit/metrics",
  prefix: "httpkit_metrics",
  names: ["PORT", "HOST", "PATH"]
}

/**
 * Every package's variables.
 *
 * @category constants
 * @since 0.1.0
 */
export const registry: ReadonlyArray<Space> = [client, downloader, metrics]

/**
 * The variable names (after the prefix) that `Config.schema` reads for a
 * struct schema through `read`: one per field, nested structs joined by `_`,
 * lists and records as `NAME_*`. Each package's tests compare it with its
 * `registry` entry.
 *
 * @category utils
 * @since 0.1.0
 */
export const namesOf = (schema: Schema.Top): ReadonlyArray<string> => [
  ...new Set(fieldsOf(schema).map((field) => field.kind === "value" ? field.name : `${field.name}_*`))
]

/** A prefix as the environment spells it: `httpkit_download` is `HTTPKIT_DOWNLOAD`. */
const envPrefix = (prefix: string): string => ConfigProblem.variableName(prefix, [])

/**
 * What `read` found: the encoded options from every variable that could be
 * read, and a problem for each one that could not.
 *
 * @category models
 * @since 0.1.0
 */
export interface Read<A> {
  readonly encoded: A
  readonly problems: ReadonlyArray<ConfigProblem.ConfigProblem>
}

/** At most this many unreadable variables are reported at once. */
const maxProblems = 64

/**
 * Reads the fields of `schema` from the current `ConfigProvider` under
 * `prefix`, in CONSTANT_CASE (`HTTPKIT_TIMEOUT_CONNECT` for `timeout.connect`
 * under `httpkit`), as their encoded form; an empty object when no variable
 * under the prefix is set. A list is one value separated by commas
 * (`HTTPKIT_RETRY_STATUSES=500,503`) or one variable per item
 * (`HTTPKIT_RETRY_STATUSES_0=500`). A value that cannot be read (`"two"` for
 * a number) is a problem named by its variable, and the rest is still read,
 * so that every problem is reported at once.
 *
 * **Details**
 *
 * `ConfigProvider.fromEnv` finds a group (a nested struct) by splitting
 * variable names on `_`, so a group whose name has several words
 * (`circuitBreaker`: `HTTPKIT_CIRCUIT_BREAKER_...`) or a prefix of several
 * words (`httpkit_download`) is found only with one path segment per word;
 * values are still read by their whole names. Effect's `Config` stops at the
 * first value it cannot read: that variable is then hidden and the reading
 * done again, up to 64 times.
 *
 * @category constructors
 * @since 0.1.0
 */
export const read = <S extends Schema.Top>(schema: S, prefix: string): Effect.Effect<Read<S["Encoded"]>> =>
  Effect.gen(function*() {
    const provider = yield* ConfigProvider.ConfigProvider
    const root = envPrefix(prefix)
    const lists = new Set(
      fieldsOf(schema).filter((field) => field.kind === "list").map((field) => `${root}_${field.name}`)
    )
    const values = new Set(
      fieldsOf(schema).filter((field) => field.kind === "value").map((field) => `${root}_${field.name}`)
    )
    const hidden = new Set<string>()
    const problems: Array<ConfigProblem.ConfigProblem> = []
    while (problems.length < maxProblems) {
      const visible = ConfigProvider.make((path) => {
        const name = path.join("_")
        if (hidden.has(name)) return Effect.succeed(undefined)
        if (lists.has(name)) return Effect.map(provider.load(path), listNode)
        // The prefix is a group even when a variable has its name (`HTTPKIT_METRICS`, the client's switch, under
        // which `@httpkit/metrics` reads `HTTPKIT_METRICS_PORT`): the environment would load it as a plain value.
        if (name === root && path.length === 1) return provider.load(root.split("_"))
        // A value is absent when only names under it are set (`HTTPKIT_METRICS_PORT` without `HTTPKIT_METRICS`).
        if (values.has(name)) {
          return Effect.map(
            provider.load(path),
            (node) => node?._tag === "Record" && node.value === undefined ? undefined : node
          )
        }
        const parent = path.slice(0, -1).join("_")
        const index = path[path.length - 1]
        return lists.has(parent) && /^\d+$/.test(String(index))
          ? Effect.flatMap(
            provider.load(path.slice(0, -1)),
            (node) => node?._tag === "Value" ? Effect.succeed(itemNode(node.value, Number(index))) : provider.load(path)
          )
          : provider.load(path)
      })
      const result = yield* Effect.result(readOnce(schema, prefix, visible))
      if (result._tag === "Success") return { encoded: result.success, problems }
      const found = (yield* problemsOf(result.failure, provider, schema.ast, lists)).filter((problem) =>
        !hidden.has(problem.setting)
      )
      problems.push(...found)
      if (found.length === 0 || !Schema.isSchemaError(result.failure.cause)) break
      for (const problem of found) {
        hidden.add(problem.setting)
        // An item of a list: the list goes, since a list with a hole cannot be read.
        const list = /^(.*)_\d+$/.exec(problem.setting)
        if (list !== null && lists.has(list[1]!)) hidden.add(list[1]!)
      }
    }
    return { encoded: {} as S["Encoded"], problems }
  })

/**
 * A variable under a package's prefix that no package reads.
 *
 * @category models
 * @since 0.1.0
 */
export interface UnknownVariable {
  readonly variable: string
  /** The closest known name, when one is close enough to be a likely meaning. */
  readonly suggestion: string | undefined
}

/** At most this many variables are looked at under a prefix, and this many items of a list. */
const maxVariables = 1_000
const maxItems = 100

/**
 * The variables set under `prefix` (by default the package's own) that the
 * package does not read and that are not in another package's space inside
 * it, each with the closest known name of any package. Reads the names from
 * the current `ConfigProvider` (the environment by default), never the values.
 *
 * @category constructors
 * @since 0.1.0
 */
export const unknownVariables = (
  space: Space,
  prefix: string = space.prefix
): Effect.Effect<ReadonlyArray<UnknownVariable>> =>
  Effect.gen(function*() {
    const provider = yield* ConfigProvider.ConfigProvider
    const root = envPrefix(prefix)
    const own = expand(root, space.names)
    // Other packages' spaces inside this one, moved under this prefix (`HTTPKIT_DOWNLOAD` under `HTTPKIT`).
    const defaultRoot = envPrefix(space.prefix)
    const inner: Array<string> = []
    const others: Array<Pattern> = []
    for (const other of registry) {
      if (other === space) continue
      const otherRoot = envPrefix(other.prefix)
      if (otherRoot.startsWith(`${defaultRoot}_`)) {
        const moved = root + otherRoot.slice(defaultRoot.length)
        inner.push(moved)
        others.push(...expand(moved, other.names))
      } else {
        others.push(...expand(otherRoot, other.names))
      }
    }
    const found: Array<string> = []
    const depth = root.split("_").length
    const walk = (path: ReadonlyArray<string>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (found.length >= maxVariables) return
        const name = path.join("_")
        if (inner.some((other) => name === other || name.startsWith(`${other}_`))) return
        const below = path.length > depth
        if (below && own.some((pattern) => pattern.wildcard && matches(pattern, name))) return
        const node = yield* provider.load(path).pipe(Effect.orElseSucceed(() => undefined))
        if (node === undefined) return
        if (below && node.value !== undefined && !own.some((pattern) => matches(pattern, name))) found.push(name)
        if (node._tag === "Record") {
          for (const key of node.keys) yield* walk([...path, key])
        } else if (node._tag === "Array") {
          for (let index = 0; index < Math.min(node.length, maxItems); index++) yield* walk([...path, String(index)])
        }
      })
    yield* walk(root.split("_"))
    const known = [...own, ...others].map((pattern) => pattern.name)
    return found.map((variable) => ({ variable, suggestion: closest(variable, known, root) }))
  })

/**
 * Logs a warning for each variable of `unknownVariables`, naming it and the
 * closest known name; the value is never read.
 *
 * @category constructors
 * @since 0.1.0
 */
export const warnUnknown = (space: Space, prefix: string = space.prefix): Effect.Effect<void> =>
  Effect.flatMap(
    unknownVariables(space, prefix),
    (unknown) =>
      Effect.forEach(unknown, (entry) =>
        Effect.logWarning(unknownMessage(space, entry)).pipe(
          Effect.annotateLogs(
            entry.suggestion === undefined
              ? { variable: entry.variable }
              : { variable: entry.variable, suggestion: entry.suggestion }
          )
        ), { discard: true })
  )

/**
 * The warning for one unknown variable.
 *
 * @category utils
 * @since 0.1.0
 */
export const unknownMessage = (space: Space, entry: UnknownVariable): string =>
  `${entry.variable} is not a known setting of ${space.package} and is ignored; ${
    entry.suggestion === undefined ? "no known setting has a similar name" : `did you mean ${entry.suggestion}?`
  }`

interface Pattern {
  readonly name: string
  readonly wildcard: boolean
}

const expand = (root: string, names: ReadonlyArray<string>): Array<Pattern> =>
  names.map((name) =>
    name.endsWith("_*")
      ? { name: `${root}_${name.slice(0, -2)}`, wildcard: true }
      : { name: `${root}_${name}`, wildcard: false }
  )

const matches = (pattern: Pattern, name: string): boolean =>
  name === pattern.name || (pattern.wildcard && name.startsWith(`${pattern.name}_`))

/**
 * The known name a mistyped one most likely meant, or `undefined` when none
 * is close: the same words in another order (`HTTPKIT_CONNECT_TIMEOUT`), the
 * name with a group left out (`HTTPKIT_MAX_ATTEMPTS` for
 * `HTTPKIT_RETRY_MAX_ATTEMPTS`), or the fewest edits (letters added,
 * dropped, changed or swapped), at most a third of the name after the
 * prefix (and at least 2).
 *
 * @category utils
 * @since 0.1.0
 */
export const closest: (name: string, known: ReadonlyArray<string>, prefix?: string) => string | undefined =
  ClosestName.closest

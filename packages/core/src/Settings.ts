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
 *   reads `HTTPKIT_DOWNLOAD_*`. Each package checks its own space when its
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
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as ConfigProblem from "./ConfigProblem.ts"

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
    "METRICS"
  ]
}

/**
 * Every package's variables.
 *
 * @category constants
 * @since 0.1.0
 */
export const registry: ReadonlyArray<Space> = [client, downloader]

/**
 * The variable names (after the prefix) that `Config.schema` reads for a
 * struct schema through `read`: one per field, nested structs joined by `_`,
 * lists and records as `NAME_*`. Each package's tests compare it with its
 * `registry` entry.
 *
 * @category naming
 * @since 0.1.0
 */
export const namesOf = (schema: Schema.Top): ReadonlyArray<string> => [
  ...new Set(fieldsOf(schema).map((field) => field.kind === "value" ? field.name : `${field.name}_*`))
]

/** Each field `Config.schema` reads for a struct schema, by variable name after the prefix, and its shape. */
const fieldsOf = (
  schema: Schema.Top
): ReadonlyArray<{ readonly name: string; readonly kind: "value" | "list" | "record" }> => {
  const out: Array<{ readonly name: string; readonly kind: "value" | "list" | "record" }> = []
  const walk = (ast: SchemaAST.AST, name: string): void => {
    const encoded = SchemaAST.toEncoded(ast)
    if (encoded._tag === "Objects") {
      for (const property of encoded.propertySignatures) {
        walk(property.type, ConfigProblem.variableName(name, [property.name]))
      }
      if (encoded.indexSignatures.length > 0) out.push({ name, kind: "record" })
    } else if (encoded._tag === "Arrays") {
      out.push({ name, kind: "list" })
    } else if (encoded._tag === "Union" && encoded.types.some((member) => member._tag === "Objects")) {
      for (const member of encoded.types) walk(member, name)
    } else {
      out.push({ name, kind: "value" })
    }
  }
  walk(schema.ast, "")
  return out
}

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
    const hidden = new Set<string>()
    const problems: Array<ConfigProblem.ConfigProblem> = []
    while (problems.length < maxProblems) {
      const visible = ConfigProvider.make((path) => {
        const name = path.join("_")
        if (hidden.has(name)) return Effect.succeed(undefined)
        if (lists.has(name)) return Effect.map(provider.load(path), listNode)
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

/** A list given as one value, `500, 502,503`: its items, trimmed, empty ones left out. */
const items = (value: string): ReadonlyArray<string> =>
  value.split(",").map((item) => item.trim()).filter((item) => item !== "")

/** A list's node: one value separated by commas is a list of its items; one variable per item stays as it is. */
const listNode = (node: ConfigProvider.Node | undefined): ConfigProvider.Node | undefined =>
  node?._tag === "Value" ? ConfigProvider.makeArray(items(node.value).length) : node

const itemNode = (value: string, index: number): ConfigProvider.Node | undefined => {
  const item = items(value)[index]
  return item === undefined ? undefined : ConfigProvider.makeValue(item)
}

const readOnce = <S extends Schema.Top>(
  schema: S,
  prefix: string,
  provider: ConfigProvider.ConfigProvider
): Effect.Effect<S["Encoded"], Config.ConfigError> => {
  const cased = ConfigProvider.constantCase(provider)
  const perWord = ConfigProvider.mapInput(
    cased,
    (path) =>
      path.flatMap((segment): ReadonlyArray<string | number> =>
        typeof segment === "number" ? [segment] : segment.split("_")
      )
  )
  return Config.schema(Schema.toEncoded(schema), prefix).pipe(
    Config.withDefault({} as S["Encoded"]),
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.orElse(cased, perWord))
  )
}

/** The problems of a `ConfigError`, with each value as the provider holds it. */
const problemsOf = (
  error: Config.ConfigError,
  provider: ConfigProvider.ConfigProvider,
  ast: SchemaAST.AST,
  lists: ReadonlySet<string>
): Effect.Effect<ReadonlyArray<ConfigProblem.ConfigProblem>> => {
  if (!Schema.isSchemaError(error.cause)) {
    return Effect.succeed([{
      setting: "the configuration",
      expected: `a source that can be read (${error.cause.message})`
    }])
  }
  const issue = error.cause.issue
  return Effect.gen(function*() {
    const paths = new Map<string, ReadonlyArray<PropertyKey>>()
    const named = ConfigProblem.fromIssue(issue, {
      setting: (path) => {
        const name = ConfigProblem.variableName("", path)
        paths.set(name, path)
        return name
      },
      received: () => undefined
    })
    const problems: Array<ConfigProblem.ConfigProblem> = []
    for (const draft of named) {
      // "two" for a number: say what the field takes ("an integer of at least 1"), not only "a number".
      const field = draft.expected === "a number"
        ? expectedAt(ast, (paths.get(draft.setting) ?? []).slice(1))
        : undefined
      const problem = field === undefined ? draft : { ...draft, expected: field }
      const value = yield* rawValue(provider, problem.setting)
      const list = /^(.*)_(\d+)$/.exec(problem.setting)
      if (value === undefined && list !== null && lists.has(list[1]!)) {
        // An item of a list given as one value: the problem is the list's, the item named.
        const whole = (yield* rawValue(provider, list[1]!)) ?? ""
        const item = items(whole)[Number(list[2])] ?? ""
        problems.push({
          setting: list[1]!,
          received: ConfigProblem.show(whole),
          expected: `${problem.expected} in every item (${ConfigProblem.show(item)} is not)`
        })
      } else {
        problems.push(value === undefined ? problem : { ...problem, received: ConfigProblem.show(value) })
      }
    }
    return problems
  })
}

/** What the field at `path` of a struct schema takes, from its last check's `expected` annotation or its own. */
const expectedAt = (ast: SchemaAST.AST, path: ReadonlyArray<PropertyKey>): string | undefined => {
  let current = ast
  for (const segment of path) {
    const next: SchemaAST.AST | undefined = current._tag === "Objects"
      ? current.propertySignatures.find((property) => property.name === segment)?.type
      : current._tag === "Arrays"
      ? current.rest[0]
      : undefined
    if (next === undefined) return undefined
    current = next
  }
  const last = current.checks?.[current.checks.length - 1]
  const expected = last?.annotations?.expected ?? current.annotations?.expected
  return typeof expected === "string" ? expected : undefined
}

/** The value of one variable as the provider holds it (the environment joins path segments with `_`). */
const rawValue = (provider: ConfigProvider.ConfigProvider, name: string): Effect.Effect<string | undefined> =>
  provider.load([name]).pipe(
    Effect.map((node) => node?.value),
    Effect.orElseSucceed(() => undefined)
  )

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
          Effect.annotateLogs({ variable: entry.variable, suggestion: entry.suggestion ?? "" })
        ), { discard: true })
  )

/**
 * The warning for one unknown variable.
 *
 * @category formatting
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
 * @category naming
 * @since 0.1.0
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

/**
 * The configuration of a `ResilientClient`, described with `Schema` so the same
 * fields load from code (`ResilientClient.layer(options)`) and from the
 * environment (`ResilientClient.layerConfig()`, variables under `HTTPKIT_`,
 * for example `HTTPKIT_BASE_URL`, `HTTPKIT_TIMEOUT_CONNECT`,
 * `HTTPKIT_RETRY_MAX_ATTEMPTS`).
 *
 * Invalid configuration fails when the layer is built, with a
 * `ClientConfigError` whose message names each setting at fault as the user
 * wrote it (the variable, `HTTPKIT_RETRY_MAX_ATTEMPTS`, or the option path,
 * `retry.maxAttempts`), the value received and what is expected. A variable
 * under `HTTPKIT_` that no httpkit package reads is reported as a warning
 * with the closest known name (`@httpkit/core/Settings`).
 *
 * Durations are milliseconds (a number, or a string of digits) or a
 * duration as people write it: `250ms`, `20s`, `1.5 min`, `2m`, `1h`,
 * `1h30m`, `"5 seconds"` (`@httpkit/core/DurationInput`).
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import { DurationInput, fromInput as durationMillis } from "@httpkit/core/DurationInput"
import * as HeaderSyntax from "@httpkit/core/HeaderSyntax"
import * as Own from "@httpkit/core/Own"
import * as Redact from "@httpkit/core/Redact"
import * as Settings from "@httpkit/core/Settings"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { ownData } from "./internal/own.ts"

// What each check expects, worded for a `ConfigProblem` ("expected an integer of at least 1").
const PositiveInt = Schema.Int.annotate({ expected: "an integer" }).check(
  Schema.isGreaterThanOrEqualTo(1, { expected: "an integer of at least 1" })
)
const NonNegativeInt = Schema.Int.annotate({ expected: "an integer" }).check(
  Schema.isGreaterThanOrEqualTo(0, { expected: "an integer of at least 0" })
)
const Status = Schema.Int.annotate({ expected: "an HTTP status from 100 to 599" }).check(
  Schema.isGreaterThanOrEqualTo(100, { expected: "an HTTP status from 100 to 599" }),
  Schema.isLessThanOrEqualTo(599, { expected: "an HTTP status from 100 to 599" })
)
const HeaderName = Schema.String.check(
  Schema.isPattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, {
    expected: "a header name (letters, digits and !#$%&'*+.^_`|~-, no spaces)"
  })
)

/** The timeouts a call may set for itself (every one but `connect`, which belongs to the connection). */
const CallTimeout = Schema.Struct({
  /** From sending the request to the response head. */
  headers: Schema.optionalKey(DurationInput),
  /** Between two chunks of a body. */
  idle: Schema.optionalKey(DurationInput),
  /** One attempt: connection, head and (for buffered helpers) body. */
  attempt: Schema.optionalKey(DurationInput),
  /** The whole call, retries and their waits included. */
  total: Schema.optionalKey(DurationInput)
})

/**
 * The per-call options that are configuration too (`timeout`, and
 * `retry.maxAttempts`), checked by the same field schemas as the client's
 * `Options`: `client.get(url, { timeout: { attempt: "5 seconds" } })` takes
 * what `timeout.attempt` takes in `Options`, and is refused with the same
 * field-named message.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CallOptions = Schema.Struct({
  timeout: Schema.optionalKey(CallTimeout),
  retry: Schema.optionalKey(Schema.Struct({
    /** Attempts in all, the first included; 1 turns retries off. */
    maxAttempts: Schema.optionalKey(PositiveInt)
  }))
})

/**
 * Every configurable field; all optional, defaults in `defaults`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Options = Schema.Struct({
  /** This client's name, in the `client` attribute of its metrics. */
  name: Schema.optionalKey(
    Schema.String.check(
      Schema.isPattern(/^[A-Za-z0-9_.:-]{1,64}$/, { expected: "1 to 64 letters, digits or _ . : -" })
    )
  ),
  /**
   * Prefixed to relative request URLs: an http or https URL with a host, a valid port, and neither a query nor a
   * fragment (refused with `ClientConfigError`: a path would be joined into them).
   */
  baseUrl: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(/^https?:\/\//i, { expected: "an absolute http:// or https:// URL" }))
  ),
  /** Sent with every request; a request's own headers win. */
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  userAgent: Schema.optionalKey(Schema.String),
  timeout: Schema.optionalKey(Schema.Struct({
    /** Establishing the TCP (and TLS) connection. */
    connect: Schema.optionalKey(DurationInput),
    ...CallTimeout.fields
  })),
  retry: Schema.optionalKey(Schema.Struct({
    /** Attempts in all, the first included; 1 turns retries off. */
    maxAttempts: Schema.optionalKey(PositiveInt),
    minDelay: Schema.optionalKey(DurationInput),
    maxDelay: Schema.optionalKey(DurationInput),
    multiplier: Schema.optionalKey(
      Schema.Finite.annotate({ expected: "a number" }).check(
        Schema.isGreaterThanOrEqualTo(1, { expected: "a number of at least 1" })
      )
    ),
    /** Full jitter: each delay is uniform between 0 and the exponential step. */
    jitter: Schema.optionalKey(Schema.Boolean),
    statuses: Schema.optionalKey(Schema.Array(Status)),
    /** The longest `Retry-After` honoured; a longer one fails at once. */
    retryAfterCeiling: Schema.optionalKey(DurationInput),
    /** Methods retried without an idempotency key. */
    methods: Schema.optionalKey(Schema.Array(Schema.String)),
    /** Generate an idempotency key for every POST and PATCH of this client. */
    idempotencyKeys: Schema.optionalKey(Schema.Boolean)
  })),
  circuitBreaker: Schema.optionalKey(Schema.Struct({
    enabled: Schema.optionalKey(Schema.Boolean),
    /** Consecutive failures that open the circuit. */
    failureThreshold: Schema.optionalKey(PositiveInt),
    openDuration: Schema.optionalKey(DurationInput),
    /** One circuit per origin (scheme, host, port) or per host name. */
    keyBy: Schema.optionalKey(Schema.Literals(["origin", "host"]))
  })),
  bulkhead: Schema.optionalKey(Schema.Struct({
    /** Calls in flight at once; absent: no bulkhead. */
    maxConcurrency: Schema.optionalKey(PositiveInt),
    /** How long a call waits for a slot before `BulkheadFullError` (`reason: "wait-timeout"`). */
    acquireTimeout: Schema.optionalKey(DurationInput),
    /**
     * Calls waiting for a slot at most (per bulkhead); past it a call fails at once with `BulkheadFullError`
     * (`reason: "queue-full"`).
     * Absent: 10 times `maxConcurrency`.
     */
    maxWaiting: Schema.optionalKey(NonNegativeInt),
    /** One bulkhead per origin instead of one for the client. */
    perHost: Schema.optionalKey(Schema.Boolean)
  })),
  redirects: Schema.optionalKey(Schema.Struct({
    follow: Schema.optionalKey(Schema.Boolean),
    maxHops: Schema.optionalKey(NonNegativeInt),
    /** Follow https to http (credentials are dropped either way). */
    allowDowngrade: Schema.optionalKey(Schema.Boolean)
  })),
  /** Offer HTTP/2 by ALPN on https. */
  http2: Schema.optionalKey(Schema.Boolean),
  pool: Schema.optionalKey(Schema.Struct({
    connectionsPerOrigin: Schema.optionalKey(PositiveInt),
    /** The longest an idle connection is kept; a server's shorter `Keep-Alive: timeout=` hint (less 2 s) wins. */
    keepAliveTimeout: Schema.optionalKey(DurationInput)
  })),
  tls: Schema.optionalKey(Schema.Struct({
    /** Extra trusted certificate authorities, PEM. */
    ca: Schema.optionalKey(Schema.String),
    /** Turns certificate verification off for this client. Never in production. */
    dangerouslyDisableVerification: Schema.optionalKey(Schema.Boolean)
  })),
  logging: Schema.optionalKey(Schema.Struct({
    /** The level of the line logged per attempt, or `none`. */
    level: Schema.optionalKey(Schema.Literals(["none", "trace", "debug", "info", "warning", "error"])),
    /** Log lines as JSON (installs `Logger.consoleJson` for the client's lines). */
    json: Schema.optionalKey(Schema.Boolean)
  })),
  /** Report `ClientMetrics` (Effect `Metric`s); on by default. */
  metrics: Schema.optionalKey(Schema.Boolean),
  /**
   * Make spans (one per call, one per request sent) and send `traceparent`; on by default. Off: no span at all,
   * Effect's own client spans included, and no trace header.
   */
  tracing: Schema.optionalKey(Schema.Boolean),
  /** Largest body the buffered helpers (json, text, bytes) read. */
  maxBodyBytes: Schema.optionalKey(PositiveInt),
  requestIdHeader: Schema.optionalKey(HeaderName),
  idempotencyKeyHeader: Schema.optionalKey(HeaderName),
  /** More header names to treat as secret (redacted in logs, dropped on cross-origin redirects). */
  secretHeaders: Schema.optionalKey(Schema.Array(HeaderName))
})

/**
 * The options as written in code or configuration.
 *
 * @category models
 * @since 0.1.0
 */
export type Options = typeof Options.Encoded

/**
 * Options with every default filled in; durations in milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolved {
  readonly name: string
  readonly baseUrl: string | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly userAgent: string
  readonly timeout: {
    readonly connect: number
    readonly headers: number
    readonly idle: number
    readonly attempt: number
    readonly total: number
  }
  readonly retry: {
    readonly maxAttempts: number
    readonly minDelay: number
    readonly maxDelay: number
    readonly multiplier: number
    readonly jitter: boolean
    readonly statuses: ReadonlySet<number>
    readonly retryAfterCeiling: number
    readonly methods: ReadonlySet<string>
    readonly idempotencyKeys: boolean
  }
  readonly circuitBreaker: {
    readonly enabled: boolean
    readonly failureThreshold: number
    readonly openDuration: number
    readonly keyBy: "origin" | "host"
  }
  readonly bulkhead: {
    readonly maxConcurrency: number | undefined
    readonly acquireTimeout: number
    /** Calls waiting for a slot at most; undefined: 10 times `maxConcurrency`. */
    readonly maxWaiting: number | undefined
    readonly perHost: boolean
  }
  readonly redirects: { readonly follow: boolean; readonly maxHops: number; readonly allowDowngrade: boolean }
  readonly http2: boolean
  readonly pool: { readonly connectionsPerOrigin: number | undefined; readonly keepAliveTimeout: number }
  readonly tls: { readonly ca: string | undefined; readonly dangerouslyDisableVerification: boolean }
  readonly logging: {
    readonly level: "none" | "trace" | "debug" | "info" | "warning" | "error"
    readonly json: boolean
  }
  readonly metrics: boolean
  readonly tracing: boolean
  readonly maxBodyBytes: number
  readonly requestIdHeader: string
  readonly idempotencyKeyHeader: string
  readonly secretHeaders: ReadonlySet<string>
}

/**
 * The defaults, as `Resolved` values.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults: Resolved = {
  name: "default",
  baseUrl: undefined,
  headers: {},
  userAgent: "httpkit/0.1",
  timeout: { connect: 10_000, headers: 30_000, idle: 30_000, attempt: 60_000, total: 120_000 },
  retry: {
    maxAttempts: 3,
    minDelay: 100,
    maxDelay: 10_000,
    multiplier: 2,
    jitter: true,
    statuses: new Set([408, 425, 429, 500, 502, 503, 504]),
    retryAfterCeiling: 60_000,
    methods: new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]),
    idempotencyKeys: false
  },
  circuitBreaker: { enabled: true, failureThreshold: 5, openDuration: 30_000, keyBy: "origin" },
  bulkhead: { maxConcurrency: undefined, acquireTimeout: 10_000, maxWaiting: undefined, perHost: false },
  redirects: { follow: true, maxHops: 10, allowDowngrade: false },
  http2: true,
  pool: { connectionsPerOrigin: undefined, keepAliveTimeout: 4_000 },
  tls: { ca: undefined, dangerouslyDisableVerification: false },
  logging: { level: "debug", json: false },
  metrics: true,
  tracing: true,
  maxBodyBytes: 10 * 1024 * 1024,
  requestIdHeader: "x-request-id",
  idempotencyKeyHeader: "idempotency-key",
  secretHeaders: new Set()
}

/**
 * Invalid client configuration. `problems` names each setting at fault as
 * the user wrote it (`HTTPKIT_RETRY_MAX_ATTEMPTS` from the environment,
 * `retry.maxAttempts` in code), the value received (left out for header
 * values, which may be secrets) and what is expected; the message is
 * `invalid client configuration: ` and each problem as
 * `<setting> is <received>, expected <expected>`, separated by `; `
 * (`@httpkit/core/ConfigProblem`).
 *
 * @category errors
 * @since 0.1.0
 */
export class ClientConfigError extends Own.fields(
  Schema.TaggedError<ClientConfigError>()("ClientConfigError", {
    message: Schema.String,
    /** Each setting at fault. */
    problems: Schema.Array(ConfigProblem.ConfigProblem)
  })
) {}

const configError = (problems: ReadonlyArray<ConfigProblem.ConfigProblem>): ClientConfigError =>
  new ClientConfigError({ message: ConfigProblem.message("client configuration", problems), problems })

const millis = (value: number | undefined, fallback: number): number => value ?? fallback

const decodeOptions = Schema.decodeUnknownEffect(Options)

/** Where the options came from: code (`retry.maxAttempts`) or the environment under a prefix (`HTTPKIT_RETRY_MAX_ATTEMPTS`). */
interface Source {
  readonly name: (path: ReadonlyArray<PropertyKey>) => string
  /** The options as given, to show what was received. */
  readonly input: unknown
}

/** A header value may be a secret: never shown. */
const secretPath = (path: ReadonlyArray<PropertyKey>): boolean => path[0] === "headers" && path.length > 1

const namingOf = (source: Source): ConfigProblem.Naming => ({
  setting: source.name,
  received: (path) => secretPath(path) ? undefined : ConfigProblem.show(ConfigProblem.at(source.input, path))
})

/** A problem found after decoding, named like the decoding ones. */
const problem = (
  source: Source,
  path: ReadonlyArray<PropertyKey>,
  expected: string
): ConfigProblem.ConfigProblem => {
  const received = namingOf(source).received(path)
  return received === undefined
    ? { setting: source.name(path), expected }
    : { setting: source.name(path), received, expected }
}

const absent: object = Object.freeze(Object.create(null))
/** A group of options, or when absent an empty one with nothing to inherit. */
const orAbsent = <A extends object>(group: A | undefined): A => group ?? (absent as A)

/**
 * Validates options and fills in the defaults.
 *
 * **Details**
 *
 * Only the options' own keys count (RELIABILITY 10): they are copied, own keys
 * only, before decoding (`Schema` reads optional fields with `in`, which would
 * pick up a key set on `Object.prototype`), and the decoded value is read the
 * same way, so a polluted prototype changes nothing.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (options: Options = {}): Effect.Effect<Resolved, ClientConfigError> => {
  const input = ownData(options)
  return resolveFrom(input, { name: ConfigProblem.optionPath, input })
}

const resolveFrom = (input: unknown, source: Source): Effect.Effect<Resolved, ClientConfigError> =>
  decodeOptions(input, { errors: "all" }).pipe(
    Effect.mapError((error) => configError(ConfigProblem.fromIssue(error.issue, namingOf(source)))),
    Effect.flatMap((decoded) => {
      // Decoding builds ordinary objects again: read them, own keys only, through a null-prototype copy.
      const o = ownData(decoded)
      const d = defaults
      const timeout = orAbsent(o.timeout)
      const retry = orAbsent(o.retry)
      const breaker = orAbsent(o.circuitBreaker)
      const bulkhead = orAbsent(o.bulkhead)
      const redirects = orAbsent(o.redirects)
      const resolved: Resolved = {
        name: o.name ?? d.name,
        baseUrl: o.baseUrl?.replace(/\/+$/, ""),
        headers: lowerCaseKeys(orAbsent(o.headers)),
        userAgent: o.userAgent ?? d.userAgent,
        timeout: {
          connect: millis(timeout.connect, d.timeout.connect),
          headers: millis(timeout.headers, d.timeout.headers),
          idle: millis(timeout.idle, d.timeout.idle),
          attempt: millis(timeout.attempt, d.timeout.attempt),
          total: millis(timeout.total, d.timeout.total)
        },
        retry: {
          maxAttempts: retry.maxAttempts ?? d.retry.maxAttempts,
          minDelay: millis(retry.minDelay, d.retry.minDelay),
          maxDelay: millis(retry.maxDelay, d.retry.maxDelay),
          multiplier: retry.multiplier ?? d.retry.multiplier,
          jitter: retry.jitter ?? d.retry.jitter,
          statuses: retry.statuses === undefined ? d.retry.statuses : new Set(retry.statuses),
          retryAfterCeiling: millis(retry.retryAfterCeiling, d.retry.retryAfterCeiling),
          methods: retry.methods === undefined
            ? d.retry.methods
            : new Set(retry.methods.map((method) => method.toUpperCase())),
          idempotencyKeys: retry.idempotencyKeys ?? d.retry.idempotencyKeys
        },
        circuitBreaker: {
          enabled: breaker.enabled ?? d.circuitBreaker.enabled,
          failureThreshold: breaker.failureThreshold ?? d.circuitBreaker.failureThreshold,
          openDuration: millis(breaker.openDuration, d.circuitBreaker.openDuration),
          keyBy: breaker.keyBy ?? d.circuitBreaker.keyBy
        },
        bulkhead: {
          maxConcurrency: bulkhead.maxConcurrency,
          acquireTimeout: millis(bulkhead.acquireTimeout, d.bulkhead.acquireTimeout),
          maxWaiting: bulkhead.maxWaiting,
          perHost: bulkhead.perHost ?? d.bulkhead.perHost
        },
        redirects: {
          follow: redirects.follow ?? d.redirects.follow,
          maxHops: redirects.maxHops ?? d.redirects.maxHops,
          allowDowngrade: redirects.allowDowngrade ?? d.redirects.allowDowngrade
        },
        http2: o.http2 ?? d.http2,
        pool: {
          connectionsPerOrigin: o.pool?.connectionsPerOrigin,
          keepAliveTimeout: millis(o.pool?.keepAliveTimeout, d.pool.keepAliveTimeout)
        },
        tls: {
          ca: o.tls?.ca,
          dangerouslyDisableVerification: o.tls?.dangerouslyDisableVerification ?? false
        },
        logging: { level: o.logging?.level ?? d.logging.level, json: o.logging?.json ?? d.logging.json },
        metrics: o.metrics ?? d.metrics,
        tracing: o.tracing ?? d.tracing,
        maxBodyBytes: o.maxBodyBytes ?? d.maxBodyBytes,
        requestIdHeader: (o.requestIdHeader ?? d.requestIdHeader).toLowerCase(),
        idempotencyKeyHeader: (o.idempotencyKeyHeader ?? d.idempotencyKeyHeader).toLowerCase(),
        secretHeaders: new Set((o.secretHeaders ?? []).map((name) => name.toLowerCase()))
      }
      return crossCheck(resolved, source)
    })
  )

const decodeCallOptions = Schema.decodeUnknownExit(CallOptions)

/** A call's own configuration, in milliseconds: what it overrides of the client's. */
export interface CallOverrides {
  readonly timeout: {
    readonly headers: number | undefined
    readonly idle: number | undefined
    readonly attempt: number | undefined
    readonly total: number | undefined
  } | undefined
  readonly maxAttempts: number | undefined
}

/**
 * A `Duration`, or any other `Duration.Input` given in code (an object such as `{ seconds: 30 }`, a
 * `[seconds, nanos]` pair, nanoseconds as a bigint), as the milliseconds the schema takes, read by
 * `DurationInput.fromInput`; numbers, strings and what is no duration at all as given, for the schema to judge.
 */
const durationAsMillis = (value: unknown): unknown => {
  if (typeof value === "number" || typeof value === "string") return value
  if (Duration.isDuration(value)) return Duration.toMillis(value)
  return durationMillis(value) ?? value
}

/**
 * Checks a call's own `timeout` and `retry.maxAttempts` (given in code: a
 * `Duration` is taken too; `retry: false` is no override) against `CallOptions`: the overrides in
 * milliseconds, or the problem, worded like a `ClientConfigError`'s.
 * Only own keys count (RELIABILITY 10).
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolveCall = (timeout: unknown, retry: unknown): CallOverrides | { readonly problem: string } => {
  const input: Record<string, unknown> = Object.create(null)
  if (typeof timeout === "object" && timeout !== null) {
    const fields: Record<string, unknown> = Object.create(null)
    for (const name of Object.keys(timeout)) {
      // `undefined` is "not given", as the options' type allows.
      const value = (timeout as Record<string, unknown>)[name]
      if (value !== undefined) fields[name] = durationAsMillis(value)
    }
    input.timeout = fields
  } else if (timeout !== undefined) {
    input.timeout = timeout
  }
  if (typeof retry === "object" && retry !== null) {
    const maxAttempts = Object.hasOwn(retry, "maxAttempts")
      ? (retry as { readonly maxAttempts?: unknown }).maxAttempts
      : undefined
    if (maxAttempts !== undefined) input.retry = { maxAttempts }
  } else if (retry !== undefined && retry !== false) {
    input.retry = retry
  }
  const decoded = decodeCallOptions(input, { errors: "all" })
  if (decoded._tag === "Failure") {
    const error = Exit.findErrorOption(decoded)
    if (error._tag === "None") return { problem: "invalid request options: not decodable" }
    const problems = ConfigProblem.fromIssue(error.value.issue, namingOf({ name: ConfigProblem.optionPath, input }))
    return { problem: ConfigProblem.message("request options", problems) }
  }
  const o = ownData(decoded.value)
  const t = o.timeout === undefined ? undefined : ownData(o.timeout)
  return {
    timeout: t === undefined
      ? undefined
      : {
        headers: t.headers,
        idle: t.idle,
        attempt: t.attempt,
        total: t.total
      },
    maxAttempts: o.retry?.maxAttempts
  }
}

/**
 * Why a `baseUrl` cannot be one, or `undefined`: an http or https URL that
 * parses, with a host (`https:///x` has none) and a valid port, and without
 * a query or fragment, which a relative path would be joined into.
 */
const baseUrlProblem = (text: string): string | undefined => {
  if (!/^https?:\/\/[^/?#\\]/i.test(text) || URL.parse(text) === null) {
    return "an absolute http:// or https:// URL with a host and a valid port"
  }
  if (/[?#]/.test(text)) return "a URL without a query or fragment (give query parameters per call: `query`)"
  return undefined
}

const invalidHeaderValue = "a header value without CR, LF, NUL, other control characters or characters above U+00FF"

/** Checks that need more than one field, or the whole of one (header values). */
/** Headers HTTP, the transport or the client itself sets: no request id or idempotency key goes there. */
const ownedHeaderNames: ReadonlySet<string> = new Set([
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "content-length",
  "content-type",
  "content-encoding",
  "range",
  "if-range",
  "user-agent",
  "accept",
  "accept-encoding",
  "traceparent",
  "tracestate",
  "b3"
])

const crossCheck = (resolved: Resolved, source: Source): Effect.Effect<Resolved, ClientConfigError> => {
  const problems: Array<ConfigProblem.ConfigProblem> = []
  if (resolved.retry.minDelay > resolved.retry.maxDelay) {
    problems.push(
      problem(
        source,
        ["retry", "minDelay"],
        `at most ${
          source.name(["retry", "maxDelay"])
        } (${resolved.retry.maxDelay} ms; this is ${resolved.retry.minDelay} ms)`
      )
    )
  }
  const baseUrl = ConfigProblem.at(source.input, ["baseUrl"])
  const baseProblem = typeof baseUrl === "string" ? baseUrlProblem(baseUrl) : undefined
  if (baseProblem !== undefined) problems.push(problem(source, ["baseUrl"], baseProblem))
  const given = ConfigProblem.at(source.input, ["headers"])
  for (const name of typeof given === "object" && given !== null ? Object.keys(given) : []) {
    if (!HeaderSyntax.token.test(name)) {
      problems.push({
        setting: source.name(["headers"]),
        received: `an object with the key ${ConfigProblem.show(name)}`,
        expected: "header names as keys (letters, digits and !#$%&'*+.^_`|~-, no spaces)"
      })
    } else if (HeaderSyntax.invalidValue.test(String(resolved.headers[name.toLowerCase()]))) {
      problems.push(problem(source, ["headers", name], invalidHeaderValue))
    } else {
      const refused = HeaderSyntax.headerProblem({ [name.toLowerCase()]: resolved.headers[name.toLowerCase()]! })
      if (refused !== undefined) {
        problems.push(problem(source, ["headers", name], `a header the transport can send (${refused})`))
      }
    }
  }
  if (HeaderSyntax.invalidValue.test(resolved.userAgent)) {
    problems.push(problem(source, ["userAgent"], invalidHeaderValue))
  }
  // A request id or idempotency key written over `Host`, `Authorization` or the body's framing would break every request.
  for (const setting of ["requestIdHeader", "idempotencyKeyHeader"] as const) {
    const name = resolved[setting]
    if (ownedHeaderNames.has(name) || Redact.isSecretHeader(name)) {
      problems.push(problem(source, [setting], "a header name of its own, not one HTTP, the client or a secret uses"))
    }
  }
  if (resolved.requestIdHeader === resolved.idempotencyKeyHeader) {
    problems.push(problem(source, ["idempotencyKeyHeader"], `another header than requestIdHeader`))
  }
  return problems.length === 0 ? Effect.succeed(resolved) : Effect.fail(configError(problems))
}

const lowerCaseKeys = (record: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(record)) out[name.toLowerCase()] = value
  return out
}

/**
 * Reads the options from the current `ConfigProvider` under `prefix`, in
 * CONSTANT_CASE: with the default provider (the environment) `HTTPKIT_BASE_URL`,
 * `HTTPKIT_TIMEOUT_CONNECT`, `HTTPKIT_RETRY_MAX_ATTEMPTS`,
 * `HTTPKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD`, and so on. No variable at all
 * gives the defaults.
 *
 * **Details**
 *
 * A `ClientConfigError` names the variables at fault
 * (`HTTPKIT_RETRY_MAX_ATTEMPTS is "0", expected an integer of at least 1`).
 * A variable under the prefix that no httpkit package reads is logged as a
 * warning with the closest known name, and otherwise ignored
 * (`@httpkit/core/Settings.warnUnknown`); `HTTPKIT_DOWNLOAD_*` is left to
 * `@httpkit/downloader`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfig = (prefix = "httpkit"): Effect.Effect<Resolved, ClientConfigError> =>
  Settings.warnUnknown(Settings.client, prefix).pipe(
    Effect.andThen(Settings.read(Options, prefix)),
    Effect.flatMap(({ encoded, problems }) => {
      const resolved = resolveFrom(encoded, {
        name: (path) => ConfigProblem.variableName(prefix, path),
        input: encoded
      })
      // What could not be read is reported with what is wrong in the rest, all at once.
      return problems.length === 0 ? resolved : resolved.pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.fail(configError(ConfigProblem.merge(problems, error.problems))),
          onSuccess: () => Effect.fail(configError(problems))
        })
      )
    })
  )

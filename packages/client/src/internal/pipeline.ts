/**
 * The request pipeline of `ResilientClient`, in this order:
 *
 *   request id and idempotency key (once per call) -> bulkhead -> rate limit
 *   -> circuit breaker (per origin) -> retry loop { auth -> headers, profile,
 *   cookies -> per-attempt timeout -> transport -> redirects -> status }
 *   -> overall deadline around everything
 *
 * One loop rather than a stack of `HttpClient` combinators: each combinator
 * re-runs request preprocessing and adds fibers and spans per attempt, which
 * is where a stacked pipeline spends its CPU (see bench/client.ts).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Headers from "effect/http/Headers"
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as UrlParams from "effect/http/UrlParams"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as Pull from "effect/Pull"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import type { Resolved } from "../ClientConfig.ts"
import {
  AuthenticationError,
  CircuitOpenError,
  type ClientError,
  fromStatus,
  InvalidRequestError,
  type RateLimiterUnavailableError,
  type RateLimitExceededError,
  RedirectError,
  TimeoutError
} from "../ClientError.ts"
import * as Redact from "../Redact.ts"
import * as RetryAfter from "../RetryAfter.ts"
import type { Bulkhead } from "./bulkhead.ts"
import { type ErrorContext, fromTransport } from "./failure.ts"
import * as MemoryBreaker from "./memoryBreaker.ts"
import * as Redirect from "./redirect.ts"
import { AttemptDeadline, type DeadlineOptions } from "./transport.ts"

/** What the pipeline needs from an auth provider (`Auth.Auth`). */
export interface AuthHook {
  readonly current: Effect.Effect<{
    readonly headers: ReadonlyArray<readonly [string, unknown]>
    readonly generation: number
  }>
  readonly refresh: (generation: number) => Effect.Effect<boolean>
  readonly secretHeaderNames: ReadonlySet<string>
}

/** What the pipeline needs from a cookie jar (`CookieJar.CookieJar`). */
export interface CookieHook {
  readonly cookieHeader: (url: URL) => Effect.Effect<string | undefined>
  readonly store: (url: URL, setCookie: ReadonlyArray<string>) => Effect.Effect<void>
}

/** What the pipeline needs from browser profiles (`BrowserProfile.BrowserProfiles`). */
export interface ProfileHook {
  readonly next: Effect.Effect<{ readonly headers: ReadonlyArray<readonly [string, string]> }>
}

/** One attempt as a rate limiter sees it. */
export interface LimitedRequest {
  readonly method: string
  readonly url: URL
  /** The caller's own key for this call (`CallOptions.rateLimit.key`); the limiter's default otherwise. */
  readonly key: string | undefined
  /** What the attempt costs against token budgets (`CallOptions.rateLimit.tokens`); default 1. */
  readonly tokens: number
  /** 1 for the first attempt. */
  readonly attempt: number
  /** The longest this attempt may wait for a slot: what is left of the call's total deadline. */
  readonly maxWaitMillis: number
  /** Method, redacted URL and request id, for the limiter's errors. */
  readonly context: ErrorContext
}

/** What the pipeline needs from a rate limiter (`@httpkit/rate-limiter` provides it). */
export interface RateLimitHook {
  /**
   * Runs one attempt inside the limit: waits for (or is refused) a slot first,
   * and holds any concurrency slot until the attempt ends.
   */
  readonly around: <A, E, R>(
    request: LimitedRequest,
    attempt: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RateLimitExceededError | RateLimiterUnavailableError, R>
  /** Reports a response so server feedback (429, rate-limit headers) slows every caller of the key. */
  readonly observe?: (
    request: LimitedRequest,
    response: { readonly status: number; readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>> }
  ) => Effect.Effect<void>
}

/** Per-call options, as `ResilientClient`'s methods take them. */
export interface CallOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | ReadonlyArray<string>>> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly json?: unknown
  readonly body?: HttpBody.HttpBody | undefined
  readonly timeout?: {
    readonly headers?: Duration.Input | undefined
    readonly idle?: Duration.Input | undefined
    readonly attempt?: Duration.Input | undefined
    readonly total?: Duration.Input | undefined
  } | undefined
  readonly retry?: false | {
    readonly maxAttempts?: number | undefined
    readonly schedule?: Schedule.Schedule<unknown, ClientError> | undefined
  } | undefined
  /** An idempotency key for this call, or `true` to generate one. */
  readonly idempotencyKey?: string | true | undefined
  /** The request id (`X-Request-ID`) for this call; generated when absent. */
  readonly requestId?: string | undefined
  /** Statuses accepted as success; default 200-299. */
  readonly acceptStatus?: ((status: number) => boolean) | undefined
  /** For a rate limiter: this call's key (default: the limiter's, per host) and token cost (default 1). */
  readonly rateLimit?: { readonly key?: string | undefined; readonly tokens?: number | undefined } | undefined
}

/** Everything a pipeline instance is built from. */
export interface PipelineEnv {
  readonly options: Resolved
  readonly transport: HttpClient.HttpClient
  /** The in-memory breaker, or Effect's `CircuitBreaker` over a shared store; none when disabled. */
  readonly breaker:
    | { readonly _tag: "Memory"; readonly breaker: MemoryBreaker.MemoryBreaker }
    | { readonly _tag: "Effect"; readonly breaker: CircuitBreaker.CircuitBreaker }
    | undefined
  readonly bulkhead: Bulkhead | undefined
  readonly auth: AuthHook | undefined
  readonly cookies: CookieHook | undefined
  readonly profiles: ProfileHook | undefined
  readonly rateLimit: RateLimitHook | undefined
  readonly retrySchedule: Schedule.Schedule<unknown, ClientError> | undefined
  /**
   * Whether the transport enforces the headers and idle deadlines itself (our
   * undici dispatcher does); otherwise the pipeline times them with Effect.
   */
  readonly transportDeadlines: boolean
}

/** What an attempt hands to the consumer of a response. */
export interface Received {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly context: ErrorContext
  readonly url: URL
  readonly attempt: number
  readonly deadlines: Deadlines
  /** Whether the transport enforces the idle deadline itself. */
  readonly transportDeadlines: boolean
}

/** The deadlines of one attempt, in milliseconds. */
export interface Deadlines {
  readonly connect: number
  readonly headers: number
  readonly idle: number
  /** The attempt's own deadline, or the call's when that comes first. */
  readonly attempt: { readonly phase: "attempt" | "total"; readonly timeoutMillis: number }
}

const ok = (status: number): boolean => status >= 200 && status < 300

/** The retry hint given while a half-open circuit's probe runs, at most. */
export const halfOpenRetryMillis = 1_000
/** How far before the call's deadline a running attempt is cut, so it ends inside the breaker. */
const deadlineMargin = 5

const levels = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warning: "Warn",
  error: "Error"
} as const

/**
 * Logs one structured line per attempt (request id, method, redacted URL,
 * status, attempt, duration, error tag) at the configured level, or nothing.
 * Whether a call logs is decided once per call from the fiber's minimum level,
 * so a disabled level costs nothing per attempt.
 */
const attemptLogger = (logging: Resolved["logging"]) => {
  if (logging.level === "none") return undefined
  const log = Effect.logWithLevel(levels[logging.level])
  const jsonLoggers = new Set([Logger.consoleJson])
  return (fields: Record<string, string | number>): Effect.Effect<void> => {
    const line = Effect.annotateLogs(log("http attempt"), fields)
    return logging.json ? Effect.provideService(line, Logger.CurrentLoggers, jsonLoggers) : line
  }
}

const unsafeValue = /[\r\n\0]/

/** Builds the absolute URL of a call, or explains why it cannot. */
const buildUrl = (
  base: string | undefined,
  input: string | URL,
  query: CallOptions["query"]
): URL | string => {
  let url: URL
  try {
    url = typeof input === "string"
      ? (base !== undefined && !/^[a-z][a-z0-9+.-]*:/i.test(input)
        ? new URL(base + (input.startsWith("/") ? input : `/${input}`))
        : new URL(input))
      : new URL(input.href)
  } catch {
    return "the URL is not valid"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `the scheme ${url.protocol} is not http or https`
  if (query !== undefined) {
    for (const [name, value] of Object.entries(query)) {
      if (Array.isArray(value)) { for (const item of value) url.searchParams.append(name, String(item)) }
      else url.searchParams.append(name, String(value))
    }
  }
  url.hash = ""
  return url
}

const toMillis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(input)

/** The value of a header from an auth snapshot, which holds `Redacted` values. */
const revealed = (value: unknown): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) as string : String(value)

/**
 * Returns the function that runs one logical call through the pipeline and
 * hands a successful response to `consume` (inside the attempt, so a body
 * read that fails is retried like any other attempt).
 */
export const make = (env: PipelineEnv) => {
  const { options } = env
  const secretNames = new Set([...Redact.secretHeaderNames, ...options.secretHeaders])
  // Auth's header names are read live: `Auth.set` may add names after the client was made.
  const isSecret = (name: string): boolean => secretNames.has(name) || (env.auth?.secretHeaderNames.has(name) ?? false)
  const idempotentMethods = options.retry.methods
  const logAttempt = attemptLogger(options.logging)
  const logLevel = options.logging.level === "none" ? undefined : levels[options.logging.level]
  const logEnabled = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
    logLevel !== undefined && LogLevel.isGreaterThanOrEqualTo(logLevel, fiber.getRef(References.MinimumLogLevel))
  // Spans of the transport redact every header and query parameter we treat as secret (RELIABILITY 8).
  const staticRedactedNames: ReadonlyArray<string> = [...secretNames]
  const redactedHeaderNames = (): ReadonlyArray<string> =>
    env.auth === undefined || env.auth.secretHeaderNames.size === 0
      ? staticRedactedNames
      : [...staticRedactedNames, ...env.auth.secretHeaderNames]
  const redactedParams: ReadonlyArray<RegExp> = [Redact.secretParamPattern]
  // A browser profile must not be given away by trace propagation headers no browser sends.
  const send = env.profiles === undefined
    ? env.transport.execute
    : (request: HttpClientRequest.HttpClientRequest) =>
      Effect.provideService(env.transport.execute(request), HttpClient.TracerPropagationEnabled, false)

  const backoff = (attempt: number): Effect.Effect<number> => {
    const step = Math.min(options.retry.maxDelay, options.retry.minDelay * options.retry.multiplier ** (attempt - 1))
    return options.retry.jitter ? Effect.map(Random.next, (r) => Math.floor(r * step)) : Effect.succeed(step)
  }

  return <A, E, R>(
    method: string,
    input: string | URL,
    call: CallOptions,
    consume: (received: Received) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, ClientError | E, R> =>
    Effect.withFiber((fiber) => {
      const upper = method.toUpperCase()
      const requestId = call.requestId ?? crypto.randomUUID()
      const built = buildUrl(options.baseUrl, input, call.query)
      if (typeof built === "string") {
        return Effect.fail(
          new InvalidRequestError({
            method: upper,
            url: Redact.url(String(input)),
            requestId,
            retryable: false,
            detail: built
          })
        )
      }
      const url = built
      // The redacted URL is only needed for errors and log lines: made on first use.
      let redactedUrl: string | undefined
      const context: ErrorContext = {
        method: upper,
        get url() {
          return redactedUrl ??= Redact.url(url)
        },
        requestId
      }

      // Headers: defaults, then the caller's (which win); refused if unsafe.
      const headers: Record<string, string> = { "user-agent": options.userAgent, ...options.headers }
      for (const [name, value] of Object.entries(call.headers ?? {})) headers[name.toLowerCase()] = value
      for (const [name, value] of Object.entries(headers)) {
        if (unsafeValue.test(value) || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
          return Effect.fail(
            new InvalidRequestError({
              ...context,
              retryable: false,
              detail: `the header ${JSON.stringify(name.slice(0, 64))} has a CR, LF or NUL, or is not a header name`
            })
          )
        }
      }
      if (unsafeValue.test(requestId)) {
        return Effect.fail(
          new InvalidRequestError({ ...context, retryable: false, detail: "the request id has CR, LF or NUL" })
        )
      }
      const tokens = call.rateLimit?.tokens
      if (tokens !== undefined && !(Number.isFinite(tokens) && tokens >= 0)) {
        return Effect.fail(
          new InvalidRequestError({
            ...context,
            retryable: false,
            detail: `rateLimit.tokens must be a finite number of at least 0, not ${String(tokens)}`
          })
        )
      }
      headers[options.requestIdHeader] = requestId
      const wantsKey = call.idempotencyKey === true ||
        (call.idempotencyKey === undefined && options.retry.idempotencyKeys && (upper === "POST" || upper === "PATCH"))
      const idempotencyKey = typeof call.idempotencyKey === "string"
        ? call.idempotencyKey
        : wantsKey
        ? crypto.randomUUID()
        : undefined
      if (idempotencyKey !== undefined) {
        if (unsafeValue.test(idempotencyKey)) {
          return Effect.fail(
            new InvalidRequestError({ ...context, retryable: false, detail: "the idempotency key has CR, LF or NUL" })
          )
        }
        headers[options.idempotencyKeyHeader] = idempotencyKey
      }

      let base = HttpClientRequest.make(upper as "GET")(url, { headers })
      if (call.json !== undefined) base = HttpClientRequest.bodyJsonUnsafe(base, call.json)
      else if (call.body !== undefined) base = HttpClientRequest.setBody(base, call.body)

      const timeouts = {
        headers: toMillis(call.timeout?.headers, options.timeout.headers),
        idle: toMillis(call.timeout?.idle, options.timeout.idle),
        attempt: toMillis(call.timeout?.attempt, options.timeout.attempt),
        total: toMillis(call.timeout?.total, options.timeout.total)
      }
      const ownDeadlines: DeadlineOptions | undefined =
        call.timeout?.headers === undefined && call.timeout?.idle === undefined
          ? undefined
          : { httpkitHeadersTimeout: timeouts.headers, httpkitBodyTimeout: timeouts.idle }
      const maxAttempts = call.retry === false ? 1 : call.retry?.maxAttempts ?? options.retry.maxAttempts
      const schedule = call.retry === false ? undefined : call.retry?.schedule ?? env.retrySchedule
      const accept = call.acceptStatus ?? ok
      const key = options.circuitBreaker.keyBy === "host" ? url.hostname : url.origin
      const limiterKey = call.rateLimit?.key
      const limiterTokens = call.rateLimit?.tokens ?? 1
      let limiterRequest: LimitedRequest | undefined

      /** One attempt: headers for this attempt, the transport, redirects, the status. */
      const attempt = (number: number, deadlines: Deadlines, native: AttemptDeadline | undefined) =>
        Effect.gen(function*() {
          const snapshot = env.auth === undefined ? undefined : yield* env.auth.current
          const profile = env.profiles === undefined || number > 1 ? profileOfCall : yield* env.profiles.next
          if (number === 1) profileOfCall = profile
          let current = base
          if (profile !== undefined) {
            // Profile headers go first; the call's own headers (already in `base`) win.
            const merged: Record<string, string> = {}
            for (const [name, value] of profile.headers) {
              if (!(name in headers) || name === "user-agent") merged[name] = value
            }
            if (options.userAgent !== headers["user-agent"] || call.headers?.["user-agent"] !== undefined) {
              delete merged["user-agent"]
            }
            current = HttpClientRequest.setHeaders(HttpClientRequest.make(upper as "GET")(url, { headers: merged }), {
              ...current.headers,
              ...(merged["user-agent"] === undefined ? {} : { "user-agent": merged["user-agent"] })
            })
            current = HttpClientRequest.setBody(current, base.body)
          }
          if (snapshot !== undefined) {
            for (const [name, value] of snapshot.headers) {
              current = HttpClientRequest.setHeader(current, name, revealed(value))
            }
          }
          let currentUrl = url
          let authorized = snapshot !== undefined
          let hops = 0
          while (true) {
            if (env.cookies !== undefined) {
              const cookie = yield* env.cookies.cookieHeader(currentUrl)
              current = cookie === undefined
                ? HttpClientRequest.removeHeader(current, "cookie")
                : HttpClientRequest.setHeader(current, "cookie", cookie)
            }
            const sent = send(current).pipe(
              Effect.catch((error) =>
                Effect.fail(
                  fromTransport((error as { reason?: { cause?: unknown } }).reason?.cause ?? error, context, deadlines)
                )
              )
            )
            const response = yield* native !== undefined
              ? Effect.provideService(
                sent,
                NodeHttpClient.UndiciOptions,
                { ...ownDeadlines, httpkitAttempt: native } as typeof NodeHttpClient.UndiciOptions.Service
              )
              : Effect.timeoutOrElse(sent, {
                duration: deadlines.headers,
                orElse: () =>
                  Effect.fail(
                    new TimeoutError({
                      ...context,
                      retryable: true,
                      phase: "headers",
                      timeoutMillis: deadlines.headers
                    })
                  )
              })
            if (env.cookies !== undefined) {
              const setCookie = response.headers["set-cookie"]
              if (setCookie !== undefined) {
                yield* env.cookies.store(currentUrl, Array.isArray(setCookie) ? setCookie : [setCookie])
              }
            }
            if (env.rateLimit?.observe !== undefined && limiterRequest !== undefined) {
              yield* env.rateLimit.observe(limiterRequest, { status: response.status, headers: response.headers })
            }
            const location = response.headers["location"]
            if (options.redirects.follow && Redirect.redirectStatuses.has(response.status) && location !== undefined) {
              yield* discard(response)
              const decision = Redirect.decide(
                currentUrl,
                response.status,
                location,
                current.method,
                options.redirects.allowDowngrade
              )
              if (decision._tag === "Refuse") {
                return yield* new RedirectError({
                  ...context,
                  retryable: false,
                  reason: decision.reason,
                  location: Redact.url(decision.location)
                })
              }
              hops += 1
              if (hops > options.redirects.maxHops) {
                return yield* new RedirectError({
                  ...context,
                  retryable: false,
                  reason: "too-many",
                  location: Redact.url(decision.url)
                })
              }
              let next = HttpClientRequest.setUrl(current, decision.url)
              if (next.method !== decision.method) {
                next = HttpClientRequest.setMethod(next, decision.method as "GET")
              }
              if (!decision.keepBody) {
                next = HttpClientRequest.setBody(next, HttpClientRequest.empty.body)
                for (const name of Redirect.bodyHeaders) next = HttpClientRequest.removeHeader(next, name)
              }
              if (decision.crossOrigin || currentUrl.protocol !== decision.url.protocol) {
                // Credentials never cross an origin (RELIABILITY 6): drop every secret header.
                for (const name of Object.keys(next.headers)) {
                  if (isSecret(name)) next = HttpClientRequest.removeHeader(next, name)
                }
                authorized = false
              }
              current = next
              currentUrl = decision.url
              continue
            }
            if (accept(response.status)) {
              return yield* consume({
                response,
                context,
                url: currentUrl,
                attempt: number,
                deadlines,
                transportDeadlines: env.transportDeadlines
              })
            }
            const now = yield* Clock.currentTimeMillis
            const retryAfterMillis = RetryAfter.parse(response.headers["retry-after"], now)
            yield* discard(response)
            const error = fromStatus({
              ...context,
              status: response.status,
              retryAfterMillis,
              retryableStatuses: options.retry.statuses
            })
            if (
              error._tag === "AuthenticationError" && response.status === 401 && authorized && snapshot !== undefined
            ) {
              return yield* new Unauthorized({ error, generation: snapshot.generation })
            }
            return yield* error
          }
        })

      let profileOfCall: { readonly headers: ReadonlyArray<readonly [string, string]> } | undefined

      /** An attempt, with its log line. */
      const loggedAttempt = logAttempt === undefined || !logEnabled(fiber) ?
        attempt :
        (number: number, deadlines: Deadlines, native: AttemptDeadline | undefined) =>
          Effect.flatMap(Clock.currentTimeMillis, (started) =>
            attempt(number, deadlines, native).pipe(
              Effect.onExit((exit) =>
                Effect.flatMap(Clock.currentTimeMillis, (ended) => {
                  const failure = exit._tag === "Failure" ? findFailure(exit.cause) : undefined
                  const error = (failure instanceof Unauthorized ? failure.error : failure) as
                    | { readonly _tag?: string; readonly status?: unknown }
                    | undefined
                  return logAttempt({
                    request_id: requestId,
                    method: upper,
                    url: context.url,
                    attempt: number,
                    duration_ms: ended - started,
                    status: exit._tag === "Success"
                      ? "ok"
                      : typeof error?.status === "number"
                      ? error.status
                      : "-",
                    error: exit._tag === "Success" ? "-" : error?._tag ?? "interrupted"
                  })
                })
              )
            ))

      /** May this error be retried for this call? */
      const mayRetry = (error: ClientError): boolean => {
        if (
          !error.retryable || error._tag === "RateLimitExceededError" || error._tag === "RateLimiterUnavailableError"
        ) {
          return false
        }
        if (idempotentMethods.has(upper) || idempotencyKey !== undefined) return true
        // A non-idempotent request without a key: only when it cannot have reached the server.
        return (error._tag === "ConnectionError" && !error.sent) ||
          (error._tag === "TimeoutError" && error.phase === "connect")
      }

      /** When the whole call must end: set when the call starts, before any bulkhead or limiter wait. */
      let deadline = Number.POSITIVE_INFINITY

      /**
       * One attempt under one deadline: the attempt's own, or the call's when that comes first. An
       * attempt still running at the call's deadline ends just before it, inside the breaker, so a
       * service that hangs counts as failing (the outer timeout would be seen as an interruption).
       * Our undici transport enforces it with a native timer (no fiber); other transports get an
       * Effect timer.
       */
      const runAttempt = (number: number) => {
        const rateLimit = env.rateLimit
        if (rateLimit === undefined) return runAttemptNow(number)
        // Every attempt spends a slot: a retry reaches the server like the first attempt did.
        return Effect.suspend(() => {
          limiterRequest = {
            method: upper,
            url,
            key: limiterKey,
            tokens: limiterTokens,
            attempt: number,
            maxWaitMillis: Math.max(
              0,
              deadline - fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() - deadlineMargin
            ),
            context
          }
          return rateLimit.around(limiterRequest, runAttemptNow(number))
        })
      }

      /** The attempt itself, its deadline starting now (after any limiter wait). */
      const runAttemptNow = (number: number) =>
        Effect.suspend(() => {
          const left = deadline - fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() - deadlineMargin
          const byTotal = left < timeouts.attempt
          const budget = byTotal ? Math.max(0, left) : timeouts.attempt
          const deadlines: Deadlines = {
            connect: options.timeout.connect,
            headers: timeouts.headers,
            idle: timeouts.idle,
            attempt: byTotal
              ? { phase: "total", timeoutMillis: timeouts.total }
              : { phase: "attempt", timeoutMillis: timeouts.attempt }
          }
          const native = env.transportDeadlines ? new AttemptDeadline(Date.now() + budget) : undefined
          const running = loggedAttempt(number, deadlines, native)
          return native !== undefined
            ? Effect.ensuring(running, Effect.sync(() => native.cancel()))
            : Effect.timeoutOrElse(running, {
              duration: budget,
              orElse: () =>
                Effect.fail(
                  byTotal
                    ? new TimeoutError({ ...context, retryable: false, phase: "total", timeoutMillis: timeouts.total })
                    : new TimeoutError({
                      ...context,
                      retryable: true,
                      phase: "attempt",
                      timeoutMillis: timeouts.attempt
                    })
                )
            })
        })

      /** State of the retry loop across attempts, used only once an attempt has failed. */
      let stepper: ((now: number, input: ClientError) => Effect.Effect<number | undefined, never>) | undefined
      let refreshed = false

      /** Runs attempt `number`, and on failure decides whether and when to try again. */
      const attemptFrom = (number: number): Effect.Effect<A, ClientError | E, R> =>
        Effect.catch(runAttempt(number), (failure) => afterFailure(number, failure as ClientError | E | Unauthorized))

      /** What follows a failed attempt: a refresh and the same attempt again, a wait and the next, or the error. */
      const afterFailure = (number: number, failure: ClientError | E | Unauthorized) =>
        Effect.gen(function*() {
          let error: ClientError | E
          if (failure instanceof Unauthorized) {
            if (!refreshed && env.auth !== undefined) {
              refreshed = true
              // The retry with new credentials does not count as an attempt.
              if (yield* env.auth.refresh(failure.generation)) return yield* attemptFrom(number)
            }
            error = failure.error
          } else {
            error = failure
          }
          if (!isClientError(error) || number >= maxAttempts || !mayRetry(error)) return yield* Effect.fail(error)
          const now = yield* Clock.currentTimeMillis
          let delay: number | undefined
          if (schedule === undefined) {
            delay = yield* backoff(number)
          } else {
            stepper ??= yield* makeStepper(schedule)
            delay = yield* stepper(now, error)
            if (delay === undefined) return yield* Effect.fail(error)
          }
          const retryAfter = "retryAfterMillis" in error ? error.retryAfterMillis : undefined
          if (retryAfter !== undefined) {
            // A wait beyond the ceiling fails fast with the server's own error (RELIABILITY 15).
            if (retryAfter > options.retry.retryAfterCeiling) return yield* Effect.fail(error)
            delay = Math.max(delay, retryAfter)
          }
          if (now + delay >= deadline) return yield* Effect.fail(error)
          yield* Effect.sleep(delay)
          return yield* attemptFrom(number + 1)
        })

      // The first attempt runs directly; the retry machinery is entered only when it fails.
      const retryLoop = attemptFrom(1)

      let program: Effect.Effect<A, ClientError | E, R> = retryLoop as Effect.Effect<A, ClientError | E, R>
      if (env.breaker?._tag === "Memory") {
        program = env.breaker.breaker.execute(
          key,
          program,
          outcomeOf,
          (refusal) =>
            new CircuitOpenError({ ...context, retryable: true, key, retryAfterMillis: refusal.retryAfterMillis })
        )
      } else if (env.breaker?._tag === "Effect") {
        program = env.breaker.breaker.execute(program, { key, classify: classifyForBreaker }).pipe(
          Effect.catchTag("CircuitBreakerError", (error) => {
            const reason = (error as CircuitBreaker.CircuitBreakerError).reason
            if (reason._tag === "CircuitBreakerStoreError") {
              return Effect.die(error)
            }
            return Effect.fail(
              new CircuitOpenError({
                ...context,
                retryable: true,
                key,
                // Half-open: a probe is running and its outcome is known soon, so a short hint.
                retryAfterMillis: reason._tag === "CircuitOpen"
                  ? Duration.toMillis(reason.retryAfter)
                  : Math.min(options.circuitBreaker.openDuration, halfOpenRetryMillis)
              })
            )
          })
        ) as Effect.Effect<A, ClientError | E, R>
      }
      if (env.bulkhead !== undefined) {
        program = env.bulkhead.run(key, context, program)
      }
      const started = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        deadline = now + timeouts.total
        return program
      }).pipe(
        Effect.provideService(Headers.CurrentRedactedNames, redactedHeaderNames()),
        Effect.provideService(UrlParams.CurrentRedactedNames, redactedParams)
      )
      // The retry loop (limiter waits included) never outlives the deadline; only a bulkhead wait outside it can.
      if (env.bulkhead === undefined) {
        return started
      }
      return started.pipe(
        Effect.timeoutOrElse({
          duration: timeouts.total,
          orElse: () =>
            Effect.fail(
              new TimeoutError({ ...context, retryable: false, phase: "total", timeoutMillis: timeouts.total })
            )
        })
      )
    })
}

/** A 401 that the retry loop may answer with an auth refresh. */
class Unauthorized {
  readonly error: AuthenticationError
  readonly generation: number
  constructor(options: { readonly error: AuthenticationError; readonly generation: number }) {
    this.error = options.error
    this.generation = options.generation
  }
  [Symbol.iterator]() {
    return Effect.fail(this)[Symbol.iterator]()
  }
}

const clientErrorTags = new Set([
  "ConnectionError",
  "TimeoutError",
  "AuthenticationError",
  "NotFoundError",
  "InvalidRequestError",
  "ServerTimeoutError",
  "RateLimitedError",
  "ServiceUnavailableError",
  "ServerError",
  "ClientStatusError",
  "BulkheadFullError",
  "CircuitOpenError",
  "DecodeError",
  "ResponseTooLargeError",
  "RedirectError",
  "RateLimitExceededError",
  "RateLimiterUnavailableError"
])

const isClientError = (error: unknown): error is ClientError =>
  typeof error === "object" && error !== null && clientErrorTags.has((error as { _tag?: string })._tag ?? "")

/** The breaker sees one outcome per call: the remote service's failures count, the caller's mistakes do not. */
/** How a call's outcome counts for the breaker. */
const outcomeOf = (exit: { readonly _tag: string; readonly cause?: unknown }): MemoryBreaker.Outcome => {
  if (exit._tag === "Success") return "Success"
  const error = findError(exit.cause)
  if (error === undefined) return "Ignored"
  switch (error._tag) {
    case "ConnectionError":
    case "ServiceUnavailableError":
    case "ServerError":
    case "ServerTimeoutError":
      return "Failure"
    case "TimeoutError":
      // "total" inside the breaker means an attempt was in flight at the deadline (the loop never sleeps past it).
      return error.phase === "bulkhead" ? "Ignored" : "Failure"
    case "RateLimitedError":
    case "RateLimitExceededError":
    case "RateLimiterUnavailableError":
      return "Ignored"
    default:
      return "Success"
  }
}

const effectOutcomes: Record<MemoryBreaker.Outcome, CircuitBreaker.Outcome> = {
  Success: { _tag: "Success" } as CircuitBreaker.Outcome,
  Ignored: { _tag: "Ignored" } as CircuitBreaker.Outcome,
  Failure: { _tag: "Failure" } as CircuitBreaker.Outcome
}

/** The breaker sees one outcome per call: the remote service's failures count, the caller's mistakes do not. */
const classifyForBreaker = (exit: { readonly _tag: string; readonly cause?: unknown }) =>
  effectOutcomes[outcomeOf(exit)]

/** The failure value of a cause, whatever its type. */
const findFailure = (cause: unknown): unknown => {
  const reasons = (cause as { reasons?: ReadonlyArray<{ _tag: string; error?: unknown }> } | undefined)?.reasons ?? []
  for (const reason of reasons) if (reason._tag === "Fail") return reason.error
  return undefined
}

const findError = (cause: unknown): ClientError | undefined => {
  const reasons = (cause as { reasons?: ReadonlyArray<{ _tag: string; error?: unknown }> } | undefined)?.reasons ?? []
  for (const reason of reasons) {
    if (reason._tag === "Fail" && isClientError(reason.error)) return reason.error
  }
  return undefined
}

/** Steps a user's retry `Schedule` by hand, so `Retry-After` can lengthen its delays. */
const makeStepper = (schedule: Schedule.Schedule<unknown, ClientError>) =>
  Effect.map(Schedule.toStep(schedule), (step) => (now: number, input: ClientError) =>
    step(now, input).pipe(
      Effect.map(([, delay]) => Duration.toMillis(delay)),
      Pull.catchDone(() => Effect.succeed(undefined)),
      Effect.orElseSucceed(() => undefined)
    ))

/** Releases a response we will not read (redirects, error statuses), bounded in time and size. */
const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.arrayBuffer.pipe(Effect.timeout(1_000), Effect.ignore)

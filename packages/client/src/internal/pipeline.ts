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
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Headers from "effect/http/Headers"
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as UrlParams from "effect/http/UrlParams"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as Pull from "effect/Pull"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import type { Resolved } from "../ClientConfig.ts"
import {
  AuthenticationError,
  BodyNotReplayableError,
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
import { callContext, type ErrorContext, fromTransport } from "./failure.ts"
import * as MemoryBreaker from "./memoryBreaker.ts"
import type { Recorder } from "./metrics.ts"
import { own as ownKey } from "./own.ts"
import * as Redirect from "./redirect.ts"
import * as ReplayBody from "./replayBody.ts"
import { AttemptDeadline } from "./transport.ts"

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
  /**
   * The request body, or a function that makes a fresh one for every send. A
   * body that can be read only once (a stream) is sent again, by a retry or a
   * 307/308 redirect, only when it is given as a function (or was never read);
   * otherwise that resend fails with `BodyNotReplayableError`.
   */
  readonly body?: HttpBody.HttpBody | (() => HttpBody.HttpBody) | undefined
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
  /** Where calls, retries and their outcomes are counted; none when the client's metrics are off. */
  readonly metrics?: Recorder | undefined
}

/** What an attempt hands to the consumer of a response. */
export interface Received {
  readonly response: HttpClientResponse.HttpClientResponse
  /** The response's headers, read once (Effect's own responses copy them on every read of `response.headers`). */
  readonly headers: Headers.Headers
  readonly context: ErrorContext
  readonly url: URL
  readonly attempt: number
  readonly deadlines: Deadlines
  /** Whether the transport enforces the idle deadline itself. */
  readonly transportDeadlines: boolean
  /**
   * When the attempt's deadline passes (`Clock` milliseconds): a body read after the call returns is bounded by
   * it too. With our undici transport, `nativeDeadline` enforces it; `hold` it to keep it running past the call.
   */
  readonly endsAt: number
  readonly nativeDeadline: AttemptDeadline | undefined
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
  if (url.hash !== "") url.hash = ""
  return url
}

const toMillis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(input)

/** The value of a header from an auth snapshot, which holds `Redacted` values. */
const revealed = (value: unknown): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) as string : String(value)

const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/** Why a set of headers may not be sent (the first offender, in order), or undefined. */
const headerProblem = (headers: Readonly<Record<string, string>>): string | undefined => {
  for (const [name, value] of Object.entries(headers)) {
    if (unsafeValue.test(value) || !headerName.test(name)) {
      return `the header ${JSON.stringify(name.slice(0, 64))} has a CR, LF or NUL, or is not a header name`
    }
  }
  return undefined
}

/**
 * Whether a call's own headers can be merged in place: string values without
 * CR, LF or NUL under valid names. Anything else (an offender, a value that is
 * not a string, a `__proto__` key) takes the general path, which reports or
 * normalises it.
 */
const plainHeaders = (headers: Readonly<Record<string, string>>): boolean => {
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    const lower = name.toLowerCase()
    if (typeof value !== "string" || unsafeValue.test(value) || !headerName.test(lower) || lower === "__proto__") {
      return false
    }
  }
  return true
}

/** The prototype of Effect's `Headers`: a request's headers are built on it directly, already lower-case. */
const headersProto: object = Object.getPrototypeOf(Headers.empty)

/** The timeouts of one call, in milliseconds. */
interface Timeouts {
  readonly headers: number
  readonly idle: number
  readonly attempt: number
  readonly total: number
}

/** What a call's Effect transport reads from `NodeHttpClient.UndiciOptions`; the attempt's deadline is set per attempt. */
interface CallUndiciOptions {
  readonly httpkitHeadersTimeout?: number
  readonly httpkitBodyTimeout?: number
  httpkitAttempt: AttemptDeadline | undefined
}

/**
 * Returns the function that runs one logical call through the pipeline and
 * hands a successful response to `consume` (inside the attempt, so a body
 * read that fails is retried like any other attempt).
 *
 * **Details**
 *
 * The common call (a first attempt that succeeds) is kept cheap: everything
 * that does not depend on the call is prepared here, once per client; a call
 * builds its request in place, reads the clock once, sets the fiber's context
 * once (span redaction and the transport's options), and chains its effects
 * without generators. Generators remain on the paths that follow a failure.
 */
export const make = (env: PipelineEnv) => {
  const { options } = env
  const secretNames = new Set([...Redact.secretHeaderNames, ...options.secretHeaders])
  // Auth's header names are read live: `Auth.set` may add names after the client was made.
  const isSecret = (name: string): boolean => secretNames.has(name) || (env.auth?.secretHeaderNames.has(name) ?? false)
  const idempotentMethods = options.retry.methods
  const metrics = env.metrics
  const logAttempt = attemptLogger(options.logging)
  const logLevel = options.logging.level === "none" ? undefined : levels[options.logging.level]
  /**
   * What a call reads from its fiber's context (the clock, whether its attempts log), kept for the last
   * context seen: a context never changes, and the calls of one fiber (or of fibers forked from one) share it.
   */
  let lastContext: Context.Context<never> | undefined
  let lastClock: Clock.Clock = Clock.Clock.defaultValue()
  let lastLogs = false
  const fromContext = (fiber: Fiber.Fiber<unknown, unknown>): void => {
    if (fiber.context === lastContext) return
    lastClock = fiber.getRef(Clock.Clock)
    lastLogs = logLevel !== undefined &&
      LogLevel.isGreaterThanOrEqualTo(logLevel, fiber.getRef(References.MinimumLogLevel))
    lastContext = fiber.context
  }
  // Spans of the transport redact every header and query parameter we treat as secret (RELIABILITY 8).
  const staticRedactedNames: ReadonlyArray<string> = [...secretNames]
  const redactedParams: ReadonlyArray<RegExp> = [Redact.secretParamPattern]
  // Auth's names only ever grow (`Auth.set` adds): the list is rebuilt when their number changes.
  let authNamesSeen = 0
  let withAuthNames = staticRedactedNames
  const redactedHeaderNames = (): ReadonlyArray<string> => {
    const authNames = env.auth?.secretHeaderNames
    if (authNames === undefined || authNames.size === 0) return staticRedactedNames
    if (authNames.size !== authNamesSeen) {
      authNamesSeen = authNames.size
      withAuthNames = [...staticRedactedNames, ...authNames]
    }
    return withAuthNames
  }
  /**
   * The caller's context with span redaction set, kept for the last context and names seen (each
   * `Context.add` copies the context): calls from one fiber, or from fibers forked from one, share it.
   */
  let redactionBase: Context.Context<never> | undefined
  let redactionNames: ReadonlyArray<string> | undefined
  let redactionContext: Context.Context<never> | undefined
  const withRedaction = (outer: Context.Context<never>, names: ReadonlyArray<string>): Context.Context<never> => {
    if (outer !== redactionBase || names !== redactionNames) {
      redactionContext = Context.add(
        Context.add(outer, Headers.CurrentRedactedNames, names),
        UrlParams.CurrentRedactedNames,
        redactedParams
      )
      redactionBase = outer
      redactionNames = names
    }
    return redactionContext!
  }
  // A browser profile must not be given away by trace propagation headers no browser sends.
  const send = env.profiles === undefined
    ? env.transport.execute
    : (request: HttpClientRequest.HttpClientRequest) =>
      Effect.provideService(env.transport.execute(request), HttpClient.TracerPropagationEnabled, false)

  // Prepared once per client: the default headers (checked once), timeouts and deadlines.
  const defaultHeaders: Record<string, string> = { "user-agent": options.userAgent, ...options.headers }
  const defaultsProblem = headerProblem(defaultHeaders)
  const requestIdHeader = options.requestIdHeader.toLowerCase()
  const idempotencyKeyHeader = options.idempotencyKeyHeader.toLowerCase()
  const defaultTimeouts: Timeouts = {
    headers: options.timeout.headers,
    idle: options.timeout.idle,
    attempt: options.timeout.attempt,
    total: options.timeout.total
  }
  const attemptDeadlines = (timeouts: Timeouts): Deadlines => ({
    connect: options.timeout.connect,
    headers: timeouts.headers,
    idle: timeouts.idle,
    attempt: { phase: "attempt", timeoutMillis: timeouts.attempt }
  })
  const defaultDeadlines = attemptDeadlines(defaultTimeouts)
  // Nothing can wait between the start of a call and its first attempt: that attempt is built at once.
  const firstAttemptAtOnce = env.bulkhead === undefined && env.rateLimit === undefined &&
    env.breaker?._tag !== "Effect"
  /**
   * Whether anything can wait outside an attempt's own deadline: a bulkhead, a breaker over a shared store, a
   * rate limiter, or the auth, cookie and profile hooks (a token refresh is a request of its own). Such a call
   * also runs under an outer timer at its total deadline, so that no store or hook that stops answering can
   * hold it past that (RELIABILITY 12). Without them, attempts and retry sleeps are all the call waits for,
   * and each is bounded by the deadline already.
   */
  const outerDeadline = env.bulkhead !== undefined || env.breaker?._tag === "Effect" || env.rateLimit !== undefined ||
    env.auth !== undefined || env.cookies !== undefined || env.profiles !== undefined

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
      fromContext(fiber)
      const clock = lastClock
      const logs = lastLogs
      const upper = method.toUpperCase()
      // The call's options, read by their own keys only: a polluted `Object.prototype` changes no request.
      const givenRequestId = ownKey(call, "requestId")
      const requestId = givenRequestId ?? crypto.randomUUID()
      const built = buildUrl(options.baseUrl, input, ownKey(call, "query"))
      /** A call refused before anything was sent, counted like any other. */
      const refuse = (error: InvalidRequestError) => {
        if (metrics !== undefined) {
          metrics.started()
          metrics.ended(fiber.context, upper, typeof built === "string" ? undefined : built, undefined, error._tag, 0)
        }
        return Effect.fail(error)
      }
      if (typeof built === "string") {
        return refuse(
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
      // The URL as errors and log lines show it: the URL itself when it holds no secret, else redacted on first use.
      const context = callContext(upper, url, requestId)

      // Headers: defaults, then the caller's (which win); refused if unsafe.
      let headers: Record<string, string>
      const own = ownKey(call, "headers")
      const inPlace = defaultsProblem === undefined && (own === undefined || plainHeaders(own))
      if (inPlace) {
        headers = Object.assign(Object.create(headersProto), defaultHeaders)
        if (own !== undefined) { for (const name of Object.keys(own)) headers[name.toLowerCase()] = own[name]! }
      } else {
        headers = Object.assign(Object.create(null), defaultHeaders)
        for (const [name, value] of Object.entries(own ?? {})) headers[name.toLowerCase()] = value
        const problem = headerProblem(headers)
        if (problem !== undefined) {
          return refuse(new InvalidRequestError({ ...context, retryable: false, detail: problem }))
        }
      }
      if (givenRequestId !== undefined && unsafeValue.test(requestId)) {
        return refuse(
          new InvalidRequestError({ ...context, retryable: false, detail: "the request id has CR, LF or NUL" })
        )
      }
      const rateLimitOption = ownKey(call, "rateLimit")
      const tokens = ownKey(rateLimitOption, "tokens")
      if (tokens !== undefined && !(Number.isFinite(tokens) && tokens >= 0)) {
        return refuse(
          new InvalidRequestError({
            ...context,
            retryable: false,
            detail: `rateLimit.tokens must be a finite number of at least 0, not ${String(tokens)}`
          })
        )
      }
      headers[requestIdHeader] = requestId
      const givenKey = ownKey(call, "idempotencyKey")
      const wantsKey = givenKey === true ||
        (givenKey === undefined && options.retry.idempotencyKeys && (upper === "POST" || upper === "PATCH"))
      const idempotencyKey = typeof givenKey === "string"
        ? givenKey
        : wantsKey
        ? crypto.randomUUID()
        : undefined
      if (idempotencyKey !== undefined) {
        if (unsafeValue.test(idempotencyKey)) {
          return refuse(
            new InvalidRequestError({ ...context, retryable: false, detail: "the idempotency key has CR, LF or NUL" })
          )
        }
        headers[idempotencyKeyHeader] = idempotencyKey
      }

      // The request as Effect's own constructor would make it, without its copies: a URL with a query goes
      // through `setUrl`, which moves the query into `urlParams` (so the query is encoded as before).
      let base: HttpClientRequest.HttpClientRequest
      if (inPlace) {
        base = HttpClientRequest.makeWith(
          upper,
          url.search === "" ? url.href : "",
          UrlParams.empty,
          Option.none(),
          headers as unknown as Headers.Headers,
          HttpClientRequest.empty.body
        )
        if (url.search !== "") base = HttpClientRequest.setUrl(base, url)
      } else {
        base = HttpClientRequest.make(upper as "GET")(url, { headers })
      }
      /** Where a resend gets its body, when the body is not a value every send can reuse (RELIABILITY 20). */
      let bodySource: ReplayBody.Source | undefined
      const json = ownKey(call, "json")
      const body = json === undefined ? ownKey(call, "body") : undefined
      if (json !== undefined) base = HttpClientRequest.bodyJsonUnsafe(base, json)
      else if (body !== undefined) {
        const made = ReplayBody.make(body)
        if (ReplayBody.isSource(made)) bodySource = made
        base = HttpClientRequest.setBody(base, ReplayBody.isSource(made) ? made.next() : made.body)
      }
      /** Whether a request has been handed to the transport: every send after that is a resend. */
      let sentOnce = false
      /** The refusal of a resend whose body cannot be read again. */
      const notReplayable = (reason: "retry" | "redirect", after: string, status: number | undefined) =>
        new BodyNotReplayableError({
          ...context,
          retryable: false,
          reason,
          after,
          ...(status === undefined ? {} : { status })
        })

      const timeoutOption = ownKey(call, "timeout")
      const timeouts: Timeouts = timeoutOption === undefined ? defaultTimeouts : {
        headers: toMillis(ownKey(timeoutOption, "headers"), options.timeout.headers),
        idle: toMillis(ownKey(timeoutOption, "idle"), options.timeout.idle),
        attempt: toMillis(ownKey(timeoutOption, "attempt"), options.timeout.attempt),
        total: toMillis(ownKey(timeoutOption, "total"), options.timeout.total)
      }
      const deadlinesOfAttempt = timeouts === defaultTimeouts ? defaultDeadlines : attemptDeadlines(timeouts)
      // Our undici transport reads the call's deadlines, and each attempt's, from these options.
      const undiciOptions: CallUndiciOptions | undefined = !env.transportDeadlines
        ? undefined
        : ownKey(timeoutOption, "headers") === undefined && ownKey(timeoutOption, "idle") === undefined
        ? { httpkitAttempt: undefined }
        : {
          httpkitHeadersTimeout: timeouts.headers,
          httpkitBodyTimeout: timeouts.idle,
          httpkitAttempt: undefined
        }
      const retryOption = ownKey(call, "retry")
      const maxAttempts = retryOption === false
        ? 1
        : ownKey(retryOption, "maxAttempts") ?? options.retry.maxAttempts
      const schedule = retryOption === false ? undefined : ownKey(retryOption, "schedule") ?? env.retrySchedule
      const accept = ownKey(call, "acceptStatus") ?? ok
      const key = options.circuitBreaker.keyBy === "host" ? url.hostname : url.origin
      const limiterKey = ownKey(rateLimitOption, "key")
      const limiterTokens = tokens ?? 1
      let limiterRequest: LimitedRequest | undefined
      /** The status of the last response routed (accepted or an error), for the metrics. */
      let lastStatus: number | undefined
      let profileOfCall: { readonly headers: ReadonlyArray<readonly [string, string]> } | undefined

      /** One attempt: headers for this attempt, the transport, redirects, the status. */
      const attempt = (
        number: number,
        deadlines: Deadlines,
        native: AttemptDeadline | undefined,
        endsAt: number
      ): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
        type Snapshot = Effect.Success<AuthHook["current"]>
        let snapshot: Snapshot | undefined

        const toClientError = (error: unknown) =>
          fromTransport((error as { reason?: { cause?: unknown } }).reason?.cause ?? error, context, deadlines)

        /** This attempt's request: profile headers, then the call's own (in `base`), then auth. */
        const prepare = (profile: typeof profileOfCall) => {
          let current = base
          if (profile !== undefined) {
            // Profile headers go first; the call's own headers (already in `base`) win.
            const merged: Record<string, string> = {}
            for (const [name, value] of profile.headers) {
              if (!(name in headers) || name === "user-agent") merged[name] = value
            }
            if (
              options.userAgent !== headers["user-agent"] ||
              (own !== undefined && ownKey(own, "user-agent") !== undefined)
            ) {
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
          // A resend (the retry loop checked that it can be made) carries a fresh body, or the unread one again.
          if (bodySource !== undefined && sentOnce) current = HttpClientRequest.setBody(current, bodySource.next())
          return hop(current, url, snapshot !== undefined, 0)
        }

        const withProfile = (): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
          if (env.profiles === undefined || number > 1) return prepare(profileOfCall)
          return Effect.flatMap(env.profiles.next, (profile) => {
            profileOfCall = profile
            return prepare(profile)
          })
        }

        /** One hop: cookies for its URL, then the exchange. */
        const hop = (
          current: HttpClientRequest.HttpClientRequest,
          currentUrl: URL,
          authorized: boolean,
          hops: number
        ): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
          if (env.cookies === undefined) return exchange(current, currentUrl, authorized, hops)
          return Effect.flatMap(env.cookies.cookieHeader(currentUrl), (cookie) =>
            exchange(
              cookie === undefined
                ? HttpClientRequest.removeHeader(current, "cookie")
                : HttpClientRequest.setHeader(current, "cookie", cookie),
              currentUrl,
              authorized,
              hops
            ))
        }

        const exchange = (
          current: HttpClientRequest.HttpClientRequest,
          currentUrl: URL,
          authorized: boolean,
          hops: number
        ): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
          const received = (response: HttpClientResponse.HttpClientResponse) => {
            const responseHeaders = response.headers
            const route = () => routeResponse(response, responseHeaders, current, currentUrl, authorized, hops)
            const observed = env.rateLimit?.observe === undefined || limiterRequest === undefined
              ? route
              : () =>
                Effect.flatMap(
                  env.rateLimit!.observe!(limiterRequest!, { status: response.status, headers: responseHeaders }),
                  route
                )
            if (env.cookies !== undefined) {
              const setCookie = responseHeaders["set-cookie"]
              if (setCookie !== undefined) {
                return Effect.flatMap(
                  env.cookies.store(currentUrl, Array.isArray(setCookie) ? setCookie : [setCookie]),
                  observed
                )
              }
            }
            return observed()
          }
          sentOnce = true
          // Our transport times the headers itself: one frame takes the response or maps the failure.
          if (native !== undefined) {
            return Effect.matchEffect(send(current), {
              onFailure: (error) => Effect.fail(toClientError(error)),
              onSuccess: received
            })
          }
          const sent = Effect.catch(send(current), (error) => Effect.fail(toClientError(error)))
          return Effect.flatMap(
            Effect.timeoutOrElse(sent, {
              duration: deadlines.headers,
              orElse: () =>
                Effect.fail(
                  new TimeoutError({ ...context, retryable: true, phase: "headers", timeoutMillis: deadlines.headers })
                )
            }),
            received
          )
        }

        /** A redirect (followed or refused), the accepted response, or the status's error. */
        const routeResponse = (
          response: HttpClientResponse.HttpClientResponse,
          responseHeaders: Headers.Headers,
          current: HttpClientRequest.HttpClientRequest,
          currentUrl: URL,
          authorized: boolean,
          hops: number
        ): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
          const location = responseHeaders["location"]
          if (options.redirects.follow && Redirect.redirectStatuses.has(response.status) && location !== undefined) {
            return Effect.flatMap(
              discard(response),
              () => follow(response.status, location, current, currentUrl, authorized, hops)
            )
          }
          lastStatus = response.status
          if (accept(response.status)) {
            return consume({
              response,
              headers: responseHeaders,
              context,
              url: currentUrl,
              attempt: number,
              deadlines,
              transportDeadlines: env.transportDeadlines,
              endsAt,
              nativeDeadline: native
            })
          }
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const retryAfterMillis = RetryAfter.parse(responseHeaders["retry-after"], now)
            return Effect.flatMap(discard(response), (): Effect.Effect<never, ClientError | Unauthorized> => {
              const error = fromStatus({
                ...context,
                status: response.status,
                retryAfterMillis,
                retryableStatuses: options.retry.statuses
              })
              if (
                error._tag === "AuthenticationError" && response.status === 401 && authorized && snapshot !== undefined
              ) {
                return Effect.fail(new Unauthorized({ error, generation: snapshot.generation }))
              }
              return Effect.fail(error)
            })
          })
        }

        const follow = (
          status: number,
          location: string,
          current: HttpClientRequest.HttpClientRequest,
          currentUrl: URL,
          authorized: boolean,
          hops: number
        ): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
          const decision = Redirect.decide(
            currentUrl,
            status,
            location,
            current.method,
            options.redirects.allowDowngrade
          )
          if (decision._tag === "Refuse") {
            return Effect.fail(
              new RedirectError({
                ...context,
                retryable: false,
                reason: decision.reason,
                location: Redact.url(decision.location)
              })
            )
          }
          if (hops + 1 > options.redirects.maxHops) {
            return Effect.fail(
              new RedirectError({
                ...context,
                retryable: false,
                reason: "too-many",
                location: Redact.url(decision.url)
              })
            )
          }
          let next = HttpClientRequest.setUrl(current, decision.url)
          if (next.method !== decision.method) {
            next = HttpClientRequest.setMethod(next, decision.method as "GET")
          }
          if (!decision.keepBody) {
            next = HttpClientRequest.setBody(next, HttpClientRequest.empty.body)
            for (const name of Redirect.bodyHeaders) next = HttpClientRequest.removeHeader(next, name)
          } else if (bodySource !== undefined) {
            // A 307 or 308 sends the body again: a fresh one, or the refusal (never an empty or partial resend).
            if (!bodySource.replayable()) return Effect.fail(notReplayable("redirect", "RedirectError", status))
            next = HttpClientRequest.setBody(next, bodySource.next())
          }
          let stillAuthorized = authorized
          if (decision.crossOrigin || currentUrl.protocol !== decision.url.protocol) {
            // Credentials never cross an origin (RELIABILITY 6): drop every secret header.
            for (const name of Object.keys(next.headers)) {
              if (isSecret(name)) next = HttpClientRequest.removeHeader(next, name)
            }
            stillAuthorized = false
          }
          return hop(next, decision.url, stillAuthorized, hops + 1)
        }

        if (env.auth === undefined) return withProfile()
        return Effect.flatMap(env.auth.current, (current) => {
          snapshot = current
          return withProfile()
        })
      }

      /** An attempt, with its log line. */
      const loggedAttempt = logAttempt === undefined || !logs ?
        attempt :
        (number: number, deadlines: Deadlines, native: AttemptDeadline | undefined, endsAt: number) =>
          Effect.flatMap(Clock.currentTimeMillis, (started) =>
            attempt(number, deadlines, native, endsAt).pipe(
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

      /** When the call started, and when it must end: before any bulkhead or limiter wait. */
      const startedAt = clock.currentTimeMillisUnsafe()
      const deadline = startedAt + timeouts.total
      /** The transport's deadline of the running (or last) attempt, cancelled when the next starts or the call ends. */
      let attemptDeadline: AttemptDeadline | undefined

      /**
       * Attempt `number`, built when it is about to run: its deadline starts now (after any bulkhead,
       * breaker or limiter wait). An attempt runs under one deadline: its own, or the call's when that
       * comes first. An attempt still running at the call's deadline ends just before it, inside the
       * breaker, so a service that hangs counts as failing (the outer timeout would be seen as an
       * interruption). Our undici transport enforces it with a native timer (no fiber); other
       * transports get an Effect timer.
       */
      const startAttempt = (number: number, now: number): Effect.Effect<A, ClientError | E | Unauthorized, R> => {
        const left = deadline - now - deadlineMargin
        const byTotal = left < timeouts.attempt
        const budget = byTotal ? Math.max(0, left) : timeouts.attempt
        const deadlines: Deadlines = byTotal
          ? {
            connect: options.timeout.connect,
            headers: timeouts.headers,
            idle: timeouts.idle,
            attempt: { phase: "total", timeoutMillis: timeouts.total }
          }
          : deadlinesOfAttempt
        if (undiciOptions !== undefined) {
          // An attempt that ended keeps no timer: a body read after the call is bounded by the idle deadline only.
          attemptDeadline?.cancel()
          const native = new AttemptDeadline(budget)
          attemptDeadline = native
          undiciOptions.httpkitAttempt = native
          return loggedAttempt(number, deadlines, native, now + budget)
        }
        return Effect.timeoutOrElse(loggedAttempt(number, deadlines, undefined, now + budget), {
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
      }

      /** Attempt `number` from now on, its deadline starting now. */
      const startAttemptNow = (number: number) =>
        Effect.suspend(() => startAttempt(number, clock.currentTimeMillisUnsafe()))

      /** Attempt `number`, through the rate limiter when there is one. */
      const runAttempt = (number: number, atOnce: boolean) => {
        const rateLimit = env.rateLimit
        if (rateLimit === undefined) return atOnce ? startAttempt(number, startedAt) : startAttemptNow(number)
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
              deadline - clock.currentTimeMillisUnsafe() - deadlineMargin
            ),
            context
          }
          // The attempt, and its deadline, start once the limiter has let it through.
          return rateLimit.around(limiterRequest, startAttemptNow(number))
        })
      }

      /** State of the retry loop across attempts, used only once an attempt has failed. */
      let stepper: ((now: number, input: ClientError) => Effect.Effect<number | undefined, never>) | undefined
      let refreshed = false

      /**
       * Runs attempt `number`, and on failure decides whether and when to try again. `atOnce`: the
       * attempt runs as soon as it is built (nothing waits in between), so it needs no suspension.
       */
      const attemptFrom = (number: number, atOnce: boolean): Effect.Effect<A, ClientError | E, R> =>
        Effect.catch(
          runAttempt(number, atOnce),
          (failure) => afterFailure(number, failure as ClientError | E | Unauthorized)
        )

      /** What follows a failed attempt: a refresh and the same attempt again, a wait and the next, or the error. */
      const afterFailure = (number: number, failure: ClientError | E | Unauthorized) =>
        Effect.gen(function*() {
          let error: ClientError | E
          if (failure instanceof Unauthorized) {
            if (!refreshed && env.auth !== undefined) {
              if (bodySource !== undefined && !bodySource.replayable()) {
                return yield* Effect.fail(notReplayable("retry", failure.error._tag, failure.error.status))
              }
              refreshed = true
              // The retry with new credentials does not count as an attempt.
              if (yield* env.auth.refresh(failure.generation)) {
                metrics?.retried(fiber.context, url, failure.error._tag)
                return yield* attemptFrom(number, false)
              }
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
          if (bodySource !== undefined && !bodySource.replayable()) {
            return yield* Effect.fail(
              notReplayable("retry", error._tag, "status" in error ? error.status as number | undefined : undefined)
            )
          }
          metrics?.retried(fiber.context, url, error._tag)
          yield* Effect.sleep(delay)
          return yield* attemptFrom(number + 1, false)
        })

      // The first attempt runs directly; the retry machinery is entered only when it fails.
      let program: Effect.Effect<A, ClientError | E, R> = attemptFrom(1, firstAttemptAtOnce)
      // Without a bulkhead, nothing runs between the start of the call and its breaker: the in-memory
      // breaker is then asked and told inside the call's own exit handler below, without a frame of its own.
      const inlineBreaker = env.breaker?._tag === "Memory" && env.bulkhead === undefined
        ? env.breaker.breaker
        : undefined
      let admission: MemoryBreaker.Admission | undefined
      if (env.breaker?._tag === "Memory" && inlineBreaker === undefined) {
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
      // One change of the fiber's context for the whole call (span redaction, the transport's options), set
      // inside the exit handler that restores it and cancels the last attempt's deadline.
      const redactedNames = redactedHeaderNames()
      let running: Fiber.Fiber<unknown, unknown> | undefined
      let outer: Context.Context<never> | undefined
      /** Counts the call as ended, if it was counted as started. */
      const recordEnd = metrics === undefined ? undefined : (exit: Exit.Exit<unknown, unknown>) => {
        if (!counted) return
        counted = false
        const error = exit._tag === "Failure" ? findFailure(exit.cause) : undefined
        const status = exit._tag === "Success" ? lastStatus : (error as { status?: unknown } | undefined)?.status
        metrics.ended(
          fiber.context,
          upper,
          url,
          typeof status === "number" ? status : undefined,
          exit._tag === "Success" ? "success" : failureLabel(exit.cause, error),
          clock.currentTimeMillisUnsafe() - startedAt
        )
      }
      let counted = false
      /** Starts the call in `self`: counted, admitted by the breaker, the call's context set; then the program. */
      const begin = (self: Fiber.Fiber<unknown, unknown>): Effect.Effect<A, ClientError | E, R> => {
        running = self
        outer = self.context
        if (metrics !== undefined) {
          metrics.started()
          counted = true
        }
        if (inlineBreaker !== undefined) {
          const admitted = inlineBreaker.admit(key, startedAt, outer)
          if (admitted._tag === "Refused") {
            return Effect.fail(
              new CircuitOpenError({ ...context, retryable: true, key, retryAfterMillis: admitted.retryAfterMillis })
            )
          }
          admission = admitted
        }
        const named = withRedaction(outer, redactedNames)
        self.setContext(
          undiciOptions === undefined
            ? named
            : Context.add(
              named,
              NodeHttpClient.UndiciOptions,
              undiciOptions as typeof NodeHttpClient.UndiciOptions.Service
            )
        )
        return program
      }
      /** Ends the call: the context restored, the last deadline cancelled, the breaker told; nothing to run after. */
      const finish = (exit: Exit.Exit<A, ClientError | E>): undefined => {
        if (outer !== undefined) running!.setContext(outer)
        attemptDeadline?.cancel()
        if (admission !== undefined) {
          inlineBreaker!.settle(admission, exit, outcomeOf, clock.currentTimeMillisUnsafe(), outer!)
        }
        if (recordEnd !== undefined && !outerDeadline) recordEnd(exit)
        return undefined
      }
      // Begun inside the exit handler's frame, never before it: the fiber may yield, and be interrupted, between
      // any two steps, and a call counted and admitted must always be ended (or a half-open probe stays taken).
      const started = Effect.onExitPrimitive(Effect.withFiber(begin), finish)
      // The retry loop never outlives the deadline; what can wait outside it runs under the outer timer too.
      if (!outerDeadline) {
        return started
      }
      const timed = started.pipe(
        Effect.timeoutOrElse({
          duration: timeouts.total,
          orElse: () =>
            Effect.fail(
              new TimeoutError({ ...context, retryable: false, phase: "total", timeoutMillis: timeouts.total })
            )
        })
      )
      return recordEnd === undefined ? timed : Effect.onExitPrimitive(timed, (exit) => {
        recordEnd(exit)
        return undefined
      })
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
  "BodyNotReplayableError",
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
  // A resend refused for its body counts as the failure that asked for it.
  if (error._tag === "BodyNotReplayableError") return outcomeOfTag(error.after, undefined)
  return outcomeOfTag(error._tag, error._tag === "TimeoutError" ? error.phase : undefined)
}

/** How an error, by its tag (and a timeout's phase), counts for the breaker. */
const outcomeOfTag = (tag: string, phase: string | undefined): MemoryBreaker.Outcome => {
  switch (tag) {
    case "ConnectionError":
    case "ServiceUnavailableError":
    case "ServerError":
    case "ServerTimeoutError":
      return "Failure"
    case "TimeoutError":
      // "total" inside the breaker means an attempt was in flight at the deadline (the loop never sleeps past it).
      return phase === "bulkhead" ? "Ignored" : "Failure"
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

/** A failed call's outcome as the metrics name it: the client error's tag, `defect` or `interrupted`. */
const failureLabel = (cause: unknown, error: unknown): string => {
  if (error !== undefined) {
    const tag = (error as { _tag?: unknown })._tag
    return typeof tag === "string" && clientErrorTags.has(tag) ? tag : "other"
  }
  const reasons = (cause as { reasons?: ReadonlyArray<{ _tag: string }> } | undefined)?.reasons ?? []
  return reasons.some((reason) => reason._tag === "Die") ? "defect" : "interrupted"
}

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

/**
 * What a client's pipeline is built from (`PipelineEnv`: its configuration,
 * transport and plug-ins), and what it prepares from them once per client
 * (`ClientState`), so that a call does only what depends on the call.
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import type * as Schedule from "effect/Schedule"
import type { Resolved } from "../ClientConfig.ts"
import type { ClientError } from "../ClientError.ts"
import type { RateLimitHook } from "../RateLimitHook.ts"
import * as AttemptLog from "./attemptLog.ts"
import type * as Breaker from "./breaker.ts"
import type { Bulkhead } from "./bulkhead.ts"
import * as Deadline from "./deadline.ts"
import { headerProblem } from "./headerSyntax.ts"
import type * as MemoryBreaker from "./memoryBreaker.ts"
import type { Recorder } from "./metrics.ts"
import { Redaction } from "./redaction.ts"
import * as Tracing from "./tracing.ts"

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

/** Everything a pipeline instance is built from. */
export interface PipelineEnv {
  readonly options: Resolved
  readonly transport: HttpClient.HttpClient
  /** The in-memory breaker, or Effect's `CircuitBreaker` over a shared store; none when disabled. */
  readonly breaker: Breaker.Breaker
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

/** What a pipeline prepares once per client, and what it reads from the caller's fiber. */
export class ClientState {
  readonly env: PipelineEnv
  readonly options: Resolved
  readonly redaction: Redaction
  readonly metrics: Recorder | undefined
  readonly logger: AttemptLog.AttemptLogger | undefined
  readonly deadlines: Deadline.Defaults
  /** Sends one request; without trace propagation headers when a browser profile is in use (no browser sends them). */
  readonly send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown>
  /** The default headers (`user-agent` and `headers`), checked once: why they may not be sent, if so. */
  readonly defaultHeaders: Record<string, string>
  readonly defaultsProblem: string | undefined
  readonly requestIdHeader: string
  readonly idempotencyKeyHeader: string
  /** Nothing can wait between the start of a call and its first attempt: that attempt is built at once. */
  readonly firstAttemptAtOnce: boolean
  /**
   * Whether anything can wait outside an attempt's own deadline: a bulkhead, a breaker over a shared store, a
   * rate limiter, or the auth, cookie and profile hooks (a token refresh is a request of its own). Such a call
   * also runs under an outer timer at its total deadline, so that no store or hook that stops answering can
   * hold it past that (RELIABILITY 12). Without them, attempts and retry sleeps are all the call waits for,
   * and each is bounded by the deadline already.
   */
  readonly outerDeadline: boolean
  /**
   * The in-memory breaker when no bulkhead runs: nothing then runs between the start of a call and its
   * breaker, so the breaker is asked and told inside the call's own exit handler, without a frame of its own.
   */
  readonly inlineBreaker: MemoryBreaker.MemoryBreaker | undefined
  /** The context of calls that are not traced, though their fiber traces: Effect's client spans off. */
  readonly untraced: Tracing.Untraced
  /** Whether a header is a secret, for header attributes of spans. */
  readonly isSecret: Tracing.IsSecret

  readonly #logLevel: LogLevel.LogLevel | undefined
  // What a call reads from its fiber's context, kept for the last context seen (a context never changes).
  #lastContext: Context.Context<never> | undefined = undefined
  #lastClock: Clock.Clock = Clock.Clock.defaultValue()
  #lastLogs = false
  #lastTraces = false
  #lastSetup: Tracing.Setup | undefined = undefined

  constructor(env: PipelineEnv) {
    const { options } = env
    this.env = env
    this.options = options
    this.redaction = new Redaction(options.secretHeaders, env.auth?.secretHeaderNames)
    this.metrics = env.metrics
    this.logger = AttemptLog.make(options.logging)
    this.#logLevel = AttemptLog.levelOf(options.logging)
    this.deadlines = Deadline.defaults(options.timeout)
    this.send = env.profiles === undefined
      ? env.transport.execute
      : (request) => Effect.provideService(env.transport.execute(request), HttpClient.TracerPropagationEnabled, false)
    this.defaultHeaders = { "user-agent": options.userAgent, ...options.headers }
    this.defaultsProblem = headerProblem(this.defaultHeaders)
    this.requestIdHeader = options.requestIdHeader.toLowerCase()
    this.idempotencyKeyHeader = options.idempotencyKeyHeader.toLowerCase()
    this.firstAttemptAtOnce = env.bulkhead === undefined && env.rateLimit === undefined &&
      env.breaker?._tag !== "Effect"
    this.outerDeadline = env.bulkhead !== undefined || env.breaker?._tag === "Effect" ||
      env.rateLimit !== undefined || env.auth !== undefined || env.cookies !== undefined || env.profiles !== undefined
    this.inlineBreaker = env.breaker?._tag === "Memory" && env.bulkhead === undefined ? env.breaker.breaker : undefined
    this.untraced = new Tracing.Untraced()
    this.isSecret = (name) => this.redaction.isSecret(name)
  }

  /** Reads the fiber's clock, whether its attempts log and how its calls are traced, once per distinct context. */
  observe(fiber: Fiber.Fiber<unknown, unknown>): void {
    if (fiber.context === this.#lastContext) return
    const context = fiber.context
    this.#lastClock = fiber.getRef(Clock.Clock)
    this.#lastLogs = this.#logLevel !== undefined &&
      LogLevel.isGreaterThanOrEqualTo(this.#logLevel, fiber.getRef(References.MinimumLogLevel))
    this.#lastTraces = Tracing.traces(context)
    // Browser profiles send no trace headers: no browser does.
    this.#lastSetup = this.options.tracing && this.#lastTraces
      ? new Tracing.Setup(context, this.#lastClock, this.env.profiles === undefined)
      : undefined
    this.#lastContext = context
  }

  /** The clock of the fiber last observed. */
  get clock(): Clock.Clock {
    return this.#lastClock
  }

  /** Whether the calls of the fiber last observed log their attempts. */
  get logs(): boolean {
    return this.#lastLogs
  }

  /** Whether the fiber last observed traces at all (`References.TracerEnabled`), whatever the client's option. */
  get fiberTraces(): boolean {
    return this.#lastTraces
  }

  /** How the calls of the fiber last observed are traced; undefined when they are not. */
  get tracing(): Tracing.Setup | undefined {
    return this.#lastSetup
  }
}

/**
 * The state of one logical call, in one object: its request, its resolved
 * options (timeouts, retry, accepted statuses, keys) and what changes while
 * it runs (attempts sent, the profile chosen, the last status, the retry
 * schedule's state, the attempt deadline armed). Every stage of the pipeline
 * reads and writes the call through it, instead of closures over shared
 * locals.
 */
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as Schedule from "effect/Schedule"
import { BodyNotReplayableError, type ClientError, fromStatus } from "../ClientError.ts"
import type { LimitedRequest } from "../RateLimitHook.ts"
import type { RequestOptions } from "../RequestOptions.ts"
import type { Received } from "./attempt.ts"
import * as Breaker from "./breaker.ts"
import * as Deadline from "./deadline.ts"
import type { ClientState } from "./env.ts"
import type { ErrorContext } from "./failure.ts"
import type * as MemoryBreaker from "./memoryBreaker.ts"
import { own } from "./own.ts"
import type * as ReplayBody from "./replayBody.ts"
import type { Request } from "./request.ts"
import type * as Retry from "./retry.ts"
import type * as Tracing from "./tracing.ts"

/** A browser profile's headers, chosen once per call. */
export interface Profile {
  readonly headers: ReadonlyArray<readonly [string, string]>
}

const ok = (status: number): boolean => status >= 200 && status < 300

/** One logical call through the pipeline, handing an accepted response to `consume`. */
export class Call<A, E, R> {
  declare readonly state: ClientState
  /** The fiber that made the call (its context is where metrics are recorded). */
  declare readonly fiber: Fiber.Fiber<unknown, unknown>
  declare readonly clock: Clock.Clock
  /** Whether this call's attempts are logged. */
  declare readonly logs: boolean
  declare readonly method: string
  declare readonly url: URL
  declare readonly requestId: string
  declare readonly context: ErrorContext
  declare readonly headers: Record<string, string>
  declare readonly ownHeaders: Readonly<Record<string, string>> | undefined
  declare readonly idempotencyKey: string | undefined
  declare readonly base: HttpClientRequest.HttpClientRequest
  declare readonly bodySource: ReplayBody.Source | undefined
  declare readonly timeouts: Deadline.Timeouts
  /** The deadlines of an attempt that ends by its own deadline. */
  declare readonly attemptDeadlines: Deadline.Deadlines
  /** What our undici transport enforces for the call (its own deadlines, each attempt's), when it enforces them. */
  declare readonly transportDeadlines: Deadline.TransportDeadlines | undefined
  declare readonly maxAttempts: number
  declare readonly schedule: Schedule.Schedule<unknown, ClientError> | undefined
  declare readonly accept: (status: number) => boolean
  /** The circuit breaker's key: the host or the origin. */
  declare readonly key: string
  declare readonly limiterKey: string | undefined
  declare readonly limiterTokens: number
  declare readonly consume: (received: Received) => Effect.Effect<A, E, R>
  /** When the call started, and when it must end: before any bulkhead or limiter wait. */
  declare readonly startedAt: number
  declare readonly deadline: number
  /** How the call is traced; undefined when it is not (the client's `tracing`, the call's, or the fiber's). */
  declare readonly tracing: Tracing.Setup | undefined

  /** Whether a request has been handed to the transport: every send after that is a resend. */
  declare sentOnce: boolean
  /** The attempt as the rate limiter saw it last. */
  declare limiterRequest: LimitedRequest | undefined
  /** The status of the last response routed (accepted or an error), for the metrics. */
  declare lastStatus: number | undefined
  declare profile: Profile | undefined
  /** The user's retry schedule, once a failure has stepped it. */
  declare stepper: Retry.Stepper | undefined
  /** Whether the auth provider has refreshed its credentials for this call. */
  declare refreshed: boolean
  /** The transport's deadline of the running (or last) attempt, cancelled when the next starts or the call ends. */
  declare attemptDeadline: Deadline.AttemptDeadline | undefined
  /** Whether the call is counted as started in the metrics (and not yet as ended). */
  declare counted: boolean
  /** The in-memory breaker's admission of this call, when asked inline. */
  declare admission: MemoryBreaker.Admission | undefined
  /** The fiber running the call and its context before the call changed it. */
  declare running: Fiber.Fiber<unknown, unknown> | undefined
  declare outer: Context.Context<never> | undefined
  /** The call's spans, from when it begins. */
  declare trace: Tracing.CallTrace | undefined

  constructor(
    state: ClientState,
    fiber: Fiber.Fiber<unknown, unknown>,
    request: Request,
    call: RequestOptions,
    consume: (received: Received) => Effect.Effect<A, E, R>
  ) {
    this.limiterRequest = undefined
    this.lastStatus = undefined
    this.profile = undefined
    this.stepper = undefined
    this.attemptDeadline = undefined
    this.admission = undefined
    this.running = undefined
    this.outer = undefined
    this.trace = undefined
    this.sentOnce = false
    this.refreshed = false
    this.counted = false
    const { options } = state
    this.state = state
    this.fiber = fiber
    this.clock = state.clock
    this.logs = state.logs
    this.method = request.method
    this.url = request.url
    this.requestId = request.requestId
    this.context = request.context
    this.headers = request.headers
    this.ownHeaders = request.ownHeaders
    this.idempotencyKey = request.idempotencyKey
    this.base = request.base
    this.bodySource = request.bodySource
    const overrides = request.overrides
    this.timeouts = Deadline.resolve(state.deadlines, overrides?.timeout)
    this.attemptDeadlines = Deadline.ofAttempt(state.deadlines, this.timeouts)
    this.transportDeadlines = !state.env.transportDeadlines
      ? undefined
      : overrides?.timeout?.headers === undefined && overrides?.timeout?.idle === undefined
      ? new Deadline.TransportDeadlines()
      : new Deadline.TransportDeadlines(this.timeouts.headers, this.timeouts.idle)
    const retryOption = own(call, "retry")
    this.maxAttempts = retryOption === false ? 1 : overrides?.maxAttempts ?? options.retry.maxAttempts
    this.schedule = retryOption === false ? undefined : own(retryOption, "schedule") ?? state.env.retrySchedule
    this.accept = own(call, "acceptStatus") ?? ok
    this.key = Breaker.keyOf(this.url, options.circuitBreaker.keyBy)
    const rateLimitOption = own(call, "rateLimit")
    this.limiterKey = own(rateLimitOption, "key")
    this.limiterTokens = own(rateLimitOption, "tokens") ?? 1
    this.consume = consume
    this.startedAt = this.clock.currentTimeMillisUnsafe()
    this.deadline = this.startedAt + this.timeouts.total
    this.tracing = state.tracing === undefined || own(call, "tracing") === false ? undefined : state.tracing
  }

  /** The error of a 4xx or 5xx the call accepted (`acceptStatus`), for the span of the request that got it. */
  statusError(status: number): ClientError {
    return fromStatus({ ...this.context, status, retryableStatuses: this.state.options.retry.statuses })
  }

  /** The refusal of a resend whose body cannot be read again. */
  notReplayable(reason: "retry" | "redirect", after: string, status: number | undefined): BodyNotReplayableError {
    return new BodyNotReplayableError({
      ...this.context,
      retryable: false,
      reason,
      after,
      ...(status === undefined ? {} : { status })
    })
  }
}

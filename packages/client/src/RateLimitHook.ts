/**
 * The contract between `ResilientClient` and a rate limiter: what the client
 * tells a limiter about each attempt, what it asks of it, and where it finds
 * one (`RateLimit`, read from the context like every plug-in of the client).
 * `@httpkit/rate-limiter` implements it (`ClientRateLimit.layer`); any other
 * limiter can, by providing `RateLimit`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { RateLimiterUnavailableError, RateLimitExceededError } from "./ClientError.ts"

/**
 * Method, redacted URL and request id of a call, as every error of the call
 * carries them.
 *
 * @category models
 * @since 0.1.0
 */
export interface CallContext {
  readonly method: string
  readonly url: string
  readonly requestId: string
}

/**
 * One attempt as a rate limiter sees it.
 *
 * @category models
 * @since 0.1.0
 */
export interface LimitedRequest {
  readonly method: string
  readonly url: URL
  /** The caller's own key for this call (`RequestOptions.rateLimit.key`); the limiter's default otherwise. */
  readonly key: string | undefined
  /** What the attempt costs against token budgets (`RequestOptions.rateLimit.tokens`); default 1. */
  readonly tokens: number
  /** 1 for the first attempt. */
  readonly attempt: number
  /** The longest this attempt may wait for a slot: what is left of the call's total deadline. */
  readonly maxWaitMillis: number
  /** Method, redacted URL and request id, for the limiter's errors. */
  readonly context: CallContext
}

/**
 * What the client needs from a rate limiter (`@httpkit/rate-limiter` provides it).
 *
 * @category models
 * @since 0.1.0
 */
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

/**
 * Where a rate limiter plugs into the client: around each attempt, inside
 * the breaker and the retry loop, so every attempt spends a slot and the wait
 * is bounded by the call's total deadline. Absent (the default), nothing is
 * limited.
 *
 * @category services
 * @since 0.1.0
 */
export class RateLimit extends Context.Service<RateLimit, RateLimitHook>()("@httpkit/client/RateLimit") {}

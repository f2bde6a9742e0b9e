/**
 * The two errors of a rate limiter that is the caller's own, not the
 * server's: no slot within the allowed wait (`RateLimitExceededError`), and a
 * shared store that cannot be reached while the limiter fails closed
 * (`RateLimiterUnavailableError`). `@httpkit/rate-limiter` fails with them,
 * and `ResilientClient` counts them in its `ClientError` family, so both
 * packages share one class per failure instead of translating between two.
 *
 * Neither is a server's 429 (that is the client's `RateLimitedError`), and
 * nothing was sent when either is raised.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Own from "./Own.ts"

const limiterContext = {
  /** The request method, when the limit was met by a `ResilientClient` call. */
  method: Schema.optionalKey(Schema.String),
  /** The redacted URL, when the limit was met by a `ResilientClient` call. */
  url: Schema.optionalKey(Schema.String),
  /** The call's `X-Request-ID`, when there is one. */
  requestId: Schema.optionalKey(Schema.String),
  /** Whether trying again later could succeed. The client never retries these itself. */
  retryable: Schema.Boolean
}

const describeCall = (error: { readonly method?: string | undefined; readonly url?: string | undefined }): string => {
  const method = Own.own(error, "method")
  const url = Own.own(error, "url")
  return method === undefined || url === undefined ? "" : ` (${method} ${url})`
}

/**
 * The caller's own rate limiter (`@httpkit/rate-limiter`) refused the request:
 * no slot was free, and waiting for one would take longer than allowed (or the
 * limiter is set to fail at once). Nothing was sent. This is not a server's
 * 429, which is `RateLimitedError`.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimitExceededError extends Own.fields(
  Schema.TaggedError<RateLimitExceededError>()("RateLimitExceededError", {
    ...limiterContext,
    /** The limited key: a host by default, or the caller's own key. */
    key: Schema.String,
    /** The policy that refused, such as `rate 50/1s` or `window 100/60s`. */
    policy: Schema.String,
    /** How long until a slot frees up, in milliseconds. */
    retryAfterMillis: Schema.Number
  })
) {
  override get message(): string {
    return `rate limit ${this.policy} reached for ${this.key}${
      describeCall(this)
    }: a slot frees up in ${this.retryAfterMillis} ms`
  }
}

/**
 * The rate limiter's shared store (Redis, or the local multi-process file)
 * could not be used, and the limiter is set to fail closed. Nothing was sent.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimiterUnavailableError extends Own.fields(
  Schema.TaggedError<RateLimiterUnavailableError>()("RateLimiterUnavailableError", {
    ...limiterContext,
    /** Which store failed: `redis` or `local`. */
    backend: Schema.String,
    /** What went wrong, without secrets. */
    detail: Schema.String
  })
) {
  override get message(): string {
    return `rate limiter store ${this.backend} unavailable${describeCall(this)}: ${this.detail}`
  }
}

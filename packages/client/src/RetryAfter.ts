/**
 * How long a server asks us to wait (`Retry-After`, `retry-after-ms`). The
 * implementation lives in `@httpkit/core/RetryAfter`, shared by the client's
 * retries and the rate limiter's server feedback; this module re-exports it
 * so that `@httpkit/client/RetryAfter` keeps working.
 *
 * @since 0.1.0
 */
export * from "@httpkit/core/RetryAfter"

/**
 * @httpkit/rate-limiter: one rate limit shared by fibers, processes and
 * machines. It needs no HTTP client; the adapter for `ResilientClient` is the
 * subpath `@httpkit/rate-limiter/ClientRateLimit`, which alone needs
 * `@httpkit/client` (an optional peer dependency). Nor does it need Redis:
 * the Redis store is the subpath `@httpkit/rate-limiter/RedisStore`, which
 * alone needs `redis` and `@effect/platform-node` (optional peers), so this
 * root loads neither.
 *
 * @since 0.1.0
 */

/**
 * The store contract and the in-memory store.
 *
 * @since 0.1.0
 */
export * as LimiterStore from "./LimiterStore.ts"

/**
 * The local multi-process store: one SQLite file, no server.
 *
 * @since 0.1.0
 */
export * as LocalStore from "./LocalStore.ts"

/**
 * Rate-limit policies: rate with burst, sliding window, concurrency.
 *
 * @since 0.1.0
 */
export * as Policy from "./Policy.ts"

/**
 * The limiter service.
 *
 * @since 0.1.0
 */
export * as RateLimiter from "./RateLimiter.ts"

/**
 * Server feedback: rate-limit headers of the common API dialects.
 *
 * @since 0.1.0
 */
export * as ServerFeedback from "./ServerFeedback.ts"

/**
 * The limiter's errors, from the client's one family.
 *
 * @since 0.1.0
 */
export { RateLimiterUnavailableError, RateLimitExceededError } from "@httpkit/core/RateLimitError"

/**
 * @httpkit/client: `ResilientClient` and its parts.
 *
 * @since 0.1.0
 */

/**
 * Credentials (bearer, API key, Anthropic, custom headers) with refresh on 401.
 *
 * @since 0.1.0
 */
export * as Auth from "./Auth.ts"

/**
 * Browser profiles: consistent header sets per browser family, rotated.
 *
 * @since 0.1.0
 */
export * as BrowserProfile from "./BrowserProfile.ts"

/**
 * The client's configuration as a Schema, its defaults and `HTTPKIT_*` loading.
 *
 * @since 0.1.0
 */
export * as ClientConfig from "./ClientConfig.ts"

/**
 * The client's Effect `Metric`s: calls, durations, retries, circuits, the pool.
 *
 * @since 0.1.0
 */
export * as ClientMetrics from "./ClientMetrics.ts"

/**
 * The one family of typed errors.
 *
 * @since 0.1.0
 */
export * as ClientError from "./ClientError.ts"

/**
 * A cookie jar per client with per-domain isolation, persisted as JSON.
 *
 * @since 0.1.0
 */
export * as CookieJar from "./CookieJar.ts"

/**
 * The contract between the client and a rate limiter, and where the client finds one.
 *
 * @since 0.1.0
 */
export * as RateLimitHook from "./RateLimitHook.ts"

/**
 * Redaction of secrets in URLs and headers.
 *
 * @since 0.1.0
 */
export * as Redact from "./Redact.ts"

/**
 * The options of one call.
 *
 * @since 0.1.0
 */
export * as RequestOptions from "./RequestOptions.ts"

/**
 * The client service, its constructors and layers.
 *
 * @since 0.1.0
 */
export * as ResilientClient from "./ResilientClient.ts"

/**
 * `Retry-After` parsing.
 *
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.ts"

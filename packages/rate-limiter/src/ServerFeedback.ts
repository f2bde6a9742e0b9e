/**
 * What a server says about its rate limits, read from response headers, and
 * how long every request sharing the key should hold off because of it. The
 * implementation lives in `@httpkit/core/ServerFeedback`, where the client's
 * retries read the same headers; this module re-exports it so that
 * `@httpkit/rate-limiter/ServerFeedback` keeps working.
 *
 * @since 0.1.0
 */
export * from "@httpkit/core/ServerFeedback"

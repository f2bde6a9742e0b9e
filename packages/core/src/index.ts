/**
 * What every httpkit package shares. Each module is also importable on its
 * own, as `@httpkit/core/<Module>`.
 *
 * @since 0.1.0
 */

/**
 * One shape for every configuration error: the setting as the user wrote it
 * (variable or option path), the value received, what is expected.
 *
 * @since 0.1.0
 */
export * as ConfigProblem from "./ConfigProblem.ts"

/**
 * Histogram bucket boundaries shared by every httpkit latency metric
 * (`seconds`: 2^-13 s to 2^11 s by factor √2), with the error bound of a
 * quantile read from them.
 *
 * @since 0.1.0
 */
export * as MetricBoundaries from "./MetricBoundaries.ts"

/**
 * A metric's series with attributes, made once and kept; attribute values
 * bounded in number, the rest as `other`.
 *
 * @since 0.1.0
 */
export * as MetricSeries from "./MetricSeries.ts"

/**
 * Durations as people write them (`250ms`, `20s`, `1.5 min`, `1h30m`), or
 * milliseconds.
 *
 * @since 0.1.0
 */
export * as DurationInput from "./DurationInput.ts"

/**
 * Whether header names and values may be sent: tokens for names, no CR, LF
 * or NUL in values.
 *
 * @since 0.1.0
 */
export * as HeaderSyntax from "./HeaderSyntax.ts"

/**
 * Deadlines that count only time the process was free to hear an answer: a
 * stall of the event loop is nobody's silence, and every deadline still
 * fires within `2 * millis + 1000` ms.
 *
 * @since 0.1.0
 */
export * as LagTimer from "./LagTimer.ts"

/**
 * Reading options by their own keys only, so a polluted `Object.prototype`
 * changes nothing.
 *
 * @since 0.1.0
 */
export * as Own from "./Own.ts"

/**
 * The names Node reads from option objects, and the events it emits on
 * sockets and streams, for objects built with every one of them as their own
 * (`Own.pinned`, `pinEvents`).
 *
 * @since 0.1.0
 */
export * as NodeOptions from "./NodeOptions.ts"

/**
 * Calling a function the user supplies where an `Effect` is expected: a throw
 * or a return that is not an effect becomes a defect the caller's
 * `catchCause` sees, never a fiber that dies past it.
 *
 * @since 0.1.0
 */
export * as UserHook from "./UserHook.ts"

/**
 * The rate limiter's own errors, shared by `@httpkit/rate-limiter` and
 * `@httpkit/client`.
 *
 * @since 0.1.0
 */
export { RateLimiterUnavailableError, RateLimitExceededError } from "./RateLimitError.ts"

/**
 * Redaction of secrets in URLs and headers.
 *
 * @since 0.1.0
 */
export * as Redact from "./Redact.ts"

/**
 * How long a server asks us to wait: `Retry-After` and `retry-after-ms`.
 *
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.ts"

/**
 * The environment variables of every httpkit package: reading them with
 * errors named by variable, and unknown names reported with the closest
 * known one.
 *
 * @since 0.1.0
 */
export * as Settings from "./Settings.ts"

/**
 * What a server says about its rate limits, and how long to hold off.
 *
 * @since 0.1.0
 */
export * as ServerFeedback from "./ServerFeedback.ts"

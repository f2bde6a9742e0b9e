/**
 * What a server says about its rate limits, read from response headers, and
 * how long every request sharing the key should hold off because of it.
 *
 * When one request gets a 429 with `Retry-After`, or a response reports an
 * empty budget, the whole key should slow down, not only that request.
 * `parse` reads every common dialect into one `Feedback`; `holdOff` turns it
 * into a wait for the key (the rate limiter's `LimiterStore.block`), and
 * `retryDelay` into the wait before the same request goes again
 * (`ResilientClient`'s retries). All are pure: no I/O, no clock of their own
 * (the caller passes `now`), and they never throw.
 *
 * **Dialects** (header names are read in lower case, as undici gives them)
 *
 * - `Retry-After` (RFC 9110): seconds or an HTTP-date, parsed by
 *   `RetryAfter` (this package); OpenAI's `retry-after-ms` (milliseconds,
 *   decimals allowed) wins over it when both are valid.
 *   `retry-after: 30`, `retry-after: Wed, 21 Oct 2026 07:28:00 GMT`,
 *   `retry-after-ms: 1500`.
 * - `ietf`, the IETF httpapi drafts in all three shapes:
 *   - drafts 00 to 06: `RateLimit-Limit: 100`, `RateLimit-Remaining: 0`,
 *     `RateLimit-Reset: 5` (delta seconds), `RateLimit-Policy: 100;w=60`
 *     (the policy whose quota equals the limit gives the window);
 *   - draft 07: `RateLimit: limit=100, remaining=0, reset=5` (a Structured
 *     Field dictionary) with `RateLimit-Policy: 100;w=60`;
 *   - drafts 08 and later: `RateLimit: "default";r=0;t=5` (a list of named
 *     service limits) with `RateLimit-Policy: "default";q=100;w=60`, joined
 *     by name; a policy's `qu` other than `"requests"` (`content-bytes`,
 *     `concurrent-requests`) is not a unit we model, so its items are left out.
 * - `x`: `X-RateLimit-Limit: 5000`, `X-RateLimit-Remaining: 0`,
 *   `X-RateLimit-Reset: 1767225600` (see the reset rule below).
 * - `openai`: `x-ratelimit-limit-requests: 60`,
 *   `x-ratelimit-remaining-requests: 0`, `x-ratelimit-reset-requests: 1m30s`,
 *   and the same for `-tokens`; resets are Go durations (`6s`, `12ms`,
 *   `59.873s`, `1h2m3s`, `0s`, `500us`, `500µs`).
 * - `anthropic`: `anthropic-ratelimit-requests-limit: 50`,
 *   `anthropic-ratelimit-requests-remaining: 0`,
 *   `anthropic-ratelimit-requests-reset: 2026-01-01T00:00:30Z`, and the same
 *   for `tokens`, `input-tokens` and `output-tokens`; resets are RFC 3339.
 *
 * **Details**
 *
 * - Reset numbers of the `x` dialect (and, for servers that misuse them, the
 *   IETF resets) are told apart by magnitude. With `s` the current time
 *   in epoch seconds (never taken below 2017-07-14, so that a `TestClock` at
 *   0 does not turn every delta into a date): a value below `s / 2` (about 28
 *   years) is a delta in seconds; below `s * 100` it is epoch seconds
 *   (GitHub); anything larger is epoch milliseconds. A reset in the past is a
 *   wait of 0.
 * - A repeated header (an array, or values joined with commas) counts with
 *   its most cautious value: the smallest limit and remaining, the latest
 *   reset and `Retry-After`.
 * - Structured fields (`RateLimit`, `RateLimit-Policy`) follow RFC 9651: a
 *   malformed field is ignored as a whole, as the drafts require.
 * - Every time is in whole milliseconds, rounded up, so a caller waiting that
 *   long is never early.
 *
 * **Gotchas**
 *
 * - `holdOff` caps every wait at `maxMillis` (10 minutes by default): a server
 *   asking for an hour gets 10 minutes, after which the next answer says
 *   again. Apply your own overall deadline on top.
 * - Hostile values (negative, `NaN`, `Infinity`, limits beyond 15 digits,
 *   values over 4096 characters, junk) are ignored, never thrown, and never
 *   yield a negative or infinite wait.
 * - A `Retry-After`, `retry-after-ms`, `RateLimit-Reset` or
 *   `X-RateLimit-Reset` too large to count (`99999999999999999999`) is read
 *   as `Number.MAX_SAFE_INTEGER` milliseconds, the longest wait, never as no
 *   wait: `holdOff` caps it, and the client's `retryAfterCeiling` fails fast.
 * - `Retry-After` on statuses other than 429 (a 503, say) is left to the
 *   retry policy: `holdOff` only blocks the key for 429s and empty budgets.
 * - Absolute times (HTTP-dates, epoch resets, RFC 3339) are measured from
 *   `now`, so `now` must be the wall clock: under a `TestClock` at 0 they
 *   come out decades long (and `holdOff` caps them). Delta forms (`Retry-After`
 *   seconds, `retry-after-ms`, IETF resets, Go durations) do not depend on it.
 *
 * @since 0.1.0
 */
import * as FeedbackAnthropic from "./internal/feedbackAnthropic.ts"
import * as FeedbackHeaders from "./internal/feedbackHeaders.ts"
import * as FeedbackIetf from "./internal/feedbackIetf.ts"
import * as FeedbackOpenAi from "./internal/feedbackOpenAi.ts"
import * as FeedbackRetryAfter from "./internal/feedbackRetryAfter.ts"
import * as FeedbackX from "./internal/feedbackX.ts"
import * as Own from "./Own.ts"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * Response headers by lower-case name, as undici gives them; a repeated
 * header is an array.
 *
 * @category models
 * @since 0.1.0
 */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * What a budget counts.
 *
 * @category models
 * @since 0.1.0
 */
export type Unit = "requests" | "tokens" | "input-tokens" | "output-tokens"

/**
 * The header dialect a budget was read from.
 *
 * @category models
 * @since 0.1.0
 */
export type Dialect = "ietf" | "x" | "openai" | "anthropic"

/**
 * One budget the server reported. Fields the server did not send (or sent
 * malformed) are absent.
 *
 * @category models
 * @since 0.1.0
 */
export interface Budget {
  /** What the budget counts. */
  readonly unit: Unit
  /** The budget per window. */
  readonly limit?: number
  /** What is left of it. */
  readonly remaining?: number
  /** Milliseconds until (more of) the budget is available again. */
  readonly resetAfterMillis?: number
  /** The window of the policy, in milliseconds (IETF `w`), when the server tells it. */
  readonly windowMillis?: number
  /** The dialect it was read from. */
  readonly source: Dialect
}

/**
 * Everything a response said about rate limits.
 *
 * @category models
 * @since 0.1.0
 */
export interface Feedback {
  /** From `retry-after-ms`, else `Retry-After`: milliseconds to wait. */
  readonly retryAfterMillis?: number
  /** Every budget reported, in dialect order: `ietf`, `x`, `openai`, `anthropic`. */
  readonly budgets: ReadonlyArray<Budget>
}

/**
 * Options of `parse`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ParseOptions {
  /** The current time in epoch milliseconds, for dates and epoch resets. */
  readonly now: number
}

/**
 * Options of `holdOff`.
 *
 * @category models
 * @since 0.1.0
 */
export interface HoldOffOptions {
  /** The response's status. */
  readonly status: number
  /**
   * The longest wait returned; a larger hint is capped to it. Not a finite,
   * non-negative number: the default.
   *
   * @default 600_000 (10 minutes)
   */
  readonly maxMillis?: number | undefined
  /**
   * The wait after a 429 that gives neither `Retry-After` nor an exhausted
   * budget's reset.
   *
   * @default 1_000
   */
  readonly fallbackMillis?: number | undefined
  /**
   * The token cost of the request about to go: a token budget (`tokens`,
   * `input-tokens`, `output-tokens`) whose remaining is below it counts as
   * exhausted. See `isExhausted`.
   *
   * @default 0
   */
  readonly tokens?: number | undefined
}

/**
 * The default cap of `holdOff`: 10 minutes.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxMillis = 600_000

/**
 * The default wait after a 429 without any hint: 1 second.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultFallbackMillis = 1_000

/**
 * Header values longer than this (in characters) are ignored.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxValueLength = FeedbackHeaders.maxValueLength

// ---------------------------------------------------------------------------
// Parsers of the dialects' values
// ---------------------------------------------------------------------------

/**
 * Parses a Go `time.Duration` string, as OpenAI's `x-ratelimit-reset-*`
 * headers carry it (`6s`, `12ms`, `1m30s`, `59.873s`, `1h2m3s`, `0s`,
 * `500us`, `500µs`), to milliseconds. A lone `0` is 0. Negative, unit-less or
 * malformed values are `undefined`. Units are matched case-insensitively.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseGoDuration: (value: string) => number | undefined = FeedbackOpenAi.parseGoDuration

/**
 * Parses an RFC 3339 date-time (`2026-01-01T00:00:30Z`,
 * `2026-01-01T01:00:30.5+01:00`) to epoch milliseconds. Impossible dates
 * (30 February, hour 24) are `undefined`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseRfc3339: (value: string) => number | undefined = FeedbackAnthropic.parseRfc3339

// ---------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------

/**
 * Reads every rate-limit dialect from response headers. Unknown, malformed
 * or hostile values are left out; this function never throws.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/core/ServerFeedback"
 *
 * const feedback = ServerFeedback.parse(
 *   { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s" },
 *   { now: Date.now() }
 * )
 * // { budgets: [{ unit: "requests", remaining: 0, resetAfterMillis: 90000, source: "openai" }] }
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (headers: Headers, options: ParseOptions): Feedback => {
  try {
    const given = Own.own(options, "now")
    const now = typeof given === "number" && Number.isFinite(given) ? given : undefined
    const collected = FeedbackHeaders.collect(headers)
    if (collected.size === 0) return Own.exactly({ budgets: [] })
    const retryAfterMillis = FeedbackRetryAfter.readRetryAfter(collected, now)
    // Without a prototype, like every budget: a field the server did not send reads as absent, even where
    // `Object.prototype` was polluted and the caller reads it plainly (`feedback.retryAfterMillis`).
    const budgets = [
      ...FeedbackIetf.readIetf(collected, now),
      ...FeedbackX.readX(collected, now),
      ...FeedbackOpenAi.readOpenAi(collected),
      ...FeedbackAnthropic.readAnthropic(collected, now)
    ].map(Own.exactly)
    return Own.exactly(retryAfterMillis === undefined ? { budgets } : { retryAfterMillis, budgets })
  } catch {
    // Only a hostile headers object (a throwing getter or proxy) gets here.
    return Own.exactly({ budgets: [] })
  }
}

/** A finite, non-negative option, or `undefined`. */
const option = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined

/**
 * Whether a budget leaves nothing for the next request: a requests budget
 * with 0 remaining, or a token budget with less remaining than `tokens` (the
 * request's token cost, counted at most as the budget's limit, since a
 * request costing more than a whole window could otherwise never pass).
 * Without `remaining`, a budget is never exhausted.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/core/ServerFeedback"
 *
 * ServerFeedback.isExhausted({ unit: "tokens", remaining: 800, source: "openai" }, { tokens: 1200 }) // true
 * ```
 *
 * @category predicates
 * @since 0.1.0
 */
export const isExhausted = (budget: Budget, options?: { readonly tokens?: number | undefined }): boolean => {
  const remaining = option(Own.own(budget, "remaining"))
  if (remaining === undefined) return false
  if (Own.own(budget, "unit") === "requests") return remaining < 1
  const limit = option(Own.own(budget, "limit"))
  const tokens = Math.min(option(Own.own(options, "tokens")) ?? 0, limit ?? Number.MAX_SAFE_INTEGER)
  return remaining < Math.max(1, tokens)
}

/**
 * How long every request sharing the key should wait after this response,
 * in milliseconds, or `undefined` when nothing calls for a wait.
 *
 * - On 429: `retry-after-ms` or `Retry-After` when present; else the latest
 *   reset among exhausted budgets (see `isExhausted`); else `fallbackMillis`.
 * - On any other status: the latest reset among exhausted budgets (requests
 *   or tokens), or `undefined`.
 *
 * A budget without a reset falls back to its policy window when the server
 * told one. The result is never negative, never more than `maxMillis` (a
 * larger hint is capped), and 0 when the reset has already passed.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/core/ServerFeedback"
 *
 * const feedback = ServerFeedback.parse({ "retry-after": "30" }, { now: Date.now() })
 * ServerFeedback.holdOff(feedback, { status: 429 }) // 30000
 * ServerFeedback.holdOff(feedback, { status: 200 }) // undefined
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const holdOff = (feedback: Feedback, options: HoldOffOptions): number | undefined => {
  const max = option(Own.own(options, "maxMillis")) ?? defaultMaxMillis
  const cap = (value: number): number => Math.min(Math.ceil(value), max)
  const latest = latestReset(feedback, Own.own(options, "tokens"))
  if (Own.own(options, "status") === 429) {
    const retryAfter = option(Own.own(feedback, "retryAfterMillis"))
    if (retryAfter !== undefined) return cap(retryAfter)
    return cap(latest ?? option(Own.own(options, "fallbackMillis")) ?? defaultFallbackMillis)
  }
  return latest === undefined ? undefined : cap(latest)
}

/** The latest reset (or, without one, the window) among the budgets that leave nothing for a request of `tokens`. */
const latestReset = (feedback: Feedback, tokens: number | undefined): number | undefined => {
  const given = Own.own(feedback, "budgets")
  const budgets: ReadonlyArray<Budget> = Array.isArray(given) ? given : []
  let latest: number | undefined
  for (const item of budgets) {
    if (!isExhausted(item, { tokens })) continue
    const reset = option(Own.own(item, "resetAfterMillis")) ?? option(Own.own(item, "windowMillis"))
    if (reset !== undefined) latest = latest === undefined ? reset : Math.max(latest, reset)
  }
  return latest
}

/**
 * Options of `retryDelay`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryDelayOptions {
  /** The response's status. */
  readonly status: number
  /** The current time in epoch milliseconds, for dates and epoch resets. */
  readonly now: number
}

/**
 * How long a response asks before the same request is sent again, in
 * milliseconds, or `undefined` when it says nothing: `retry-after-ms` or
 * `Retry-After` on any status; on a 429 without them, the latest reset among
 * the budgets it reports as exhausted (`RateLimit`, `X-RateLimit-*`, OpenAI's
 * and Anthropic's headers). This is what `ResilientClient` waits before a
 * retry, read by the same code as the limiter's `holdOff`; unlike `holdOff`
 * it is not capped and has no fallback, since the client applies its own
 * ceiling and backoff.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/core/ServerFeedback"
 *
 * ServerFeedback.retryDelay({ "retry-after": "3" }, { status: 503, now: Date.now() }) // 3000
 * ServerFeedback.retryDelay(
 *   { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2" },
 *   { status: 429, now: Date.now() }
 * ) // 2000
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const retryDelay = (headers: Headers, options: RetryDelayOptions): number | undefined => {
  const feedback = parse(headers, { now: Own.own(options, "now") ?? Number.NaN })
  // By own key, as `holdOff` reads it: a polluted prototype's is no server's (it stopped the client's retries).
  const retryAfter = option(Own.own(feedback, "retryAfterMillis"))
  if (retryAfter !== undefined) return retryAfter
  if (Own.own(options, "status") !== 429) return undefined
  const latest = latestReset(feedback, 0)
  return latest === undefined ? undefined : Math.ceil(latest)
}

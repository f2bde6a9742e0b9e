/**
 * Rate-limit policies: what one limit allows, and which requests share it.
 *
 * - `rate`: a steady rate with a burst (GCRA, a token bucket without a
 *   timer). `rate({ limit: 50, window: "1 second" })` lets one request go
 *   every 20 ms; `burst: 10` lets ten go at once after a quiet spell. Any
 *   span of one window admits at most `limit + burst - 1`.
 * - `window`: at most `limit` in **every** span of `window`, whatever its
 *   alignment (a sliding log). Use it when the server counts with a sliding
 *   window: fixed windows admit up to twice the limit across a boundary.
 * - `concurrency`: at most `max` requests in flight at once.
 *
 * Each policy is kept per host by default (`keyBy: "host"`), per origin, or
 * once for everything (`"global"`); a caller's own key
 * (`acquire({ key })`, `ResilientClient`'s `rateLimit.key`) replaces the host
 * or origin. Several policies stack: a request passes all of them, admitted
 * at one instant by all or by none. A policy counts requests
 * (`unit: "requests"`) or the tokens a request says it costs
 * (`unit: "tokens"`), for APIs that budget tokens per minute.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as Own from "./internal/own.ts"

/**
 * Which requests share one limit: those to one host, to one origin, or all.
 * A caller's own key replaces the host or origin.
 *
 * @category models
 * @since 0.1.0
 */
export type KeyBy = "host" | "origin" | "global"

/**
 * What a policy counts: requests, or the tokens each request says it costs.
 *
 * @category models
 * @since 0.1.0
 */
export type Unit = "requests" | "tokens"

/**
 * A steady rate with a burst.
 *
 * @category models
 * @since 0.1.0
 */
export interface Rate {
  readonly _tag: "Rate"
  readonly name: string
  readonly limit: number
  readonly windowMillis: number
  readonly burst: number
  readonly unit: Unit
  readonly keyBy: KeyBy
}

/**
 * At most `limit` in every span of `windowMillis`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Window {
  readonly _tag: "Window"
  readonly name: string
  readonly limit: number
  readonly windowMillis: number
  readonly unit: Unit
  readonly keyBy: KeyBy
}

/**
 * At most `max` requests in flight at once.
 *
 * @category models
 * @since 0.1.0
 */
export interface Concurrency {
  readonly _tag: "Concurrency"
  readonly name: string
  readonly max: number
  /** How long a slot is held at most, should its holder die without giving it back. */
  readonly leaseMillis: number
  readonly keyBy: KeyBy
}

/**
 * Any policy.
 *
 * @category models
 * @since 0.1.0
 */
export type Policy = Rate | Window | Concurrency

interface Common {
  /**
   * Which requests share the limit.
   *
   * @default "host"
   */
  readonly keyBy?: KeyBy | undefined
  /** A name for errors and logs, and the state's id: two policies with one name share state. */
  readonly name?: string | undefined
}

interface Counted extends Common {
  /** How many units one window allows. */
  readonly limit: number
  /** The window, such as `"1 second"` or `"1 minute"`. */
  readonly window: Duration.Input
  /**
   * What is counted.
   *
   * @default "requests"
   */
  readonly unit?: Unit | undefined
}

const shortDuration = (millis: number): string =>
  millis % 60_000 === 0 ? `${millis / 60_000}m` : millis % 1_000 === 0 ? `${millis / 1_000}s` : `${millis}ms`

const unitSuffix = (unit: Unit) => unit === "tokens" ? " tokens" : ""

/** The window in milliseconds; a missing one is NaN, which `validate` refuses. */
const windowOf = (options: Counted): number => {
  const input = Own.get(options, "window")
  return input === undefined ? Number.NaN : Duration.toMillis(Duration.fromInputUnsafe(Own.duration(input)))
}

/**
 * A steady rate of `limit` per `window`, with up to `burst` at once.
 *
 * @example
 * ```ts
 * import { Policy } from "@httpkit/rate-limiter"
 *
 * // 50 requests per second per host, at most 10 at once.
 * Policy.rate({ limit: 50, window: "1 second", burst: 10 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const rate = (
  options: Counted & {
    /**
     * How many units may go at once after a quiet spell (1: evenly spaced).
     *
     * @default 1
     */
    readonly burst?: number | undefined
  }
): Rate => {
  const limit = Own.get(options, "limit") as number
  const windowMillis = windowOf(options)
  const unit = Own.get(options, "unit") ?? "requests"
  const burst = Own.get(options, "burst") ?? 1
  return {
    _tag: "Rate",
    name: Own.get(options, "name") ?? `rate ${limit}/${shortDuration(windowMillis)}${unitSuffix(unit)} burst ${burst}`,
    limit,
    windowMillis,
    burst,
    unit,
    keyBy: Own.get(options, "keyBy") ?? "host"
  }
}

/**
 * At most `limit` in every span of `window` (a sliding window).
 *
 * @example
 * ```ts
 * import { Policy } from "@httpkit/rate-limiter"
 *
 * // An API allowing 500 requests and 30,000 tokens per minute.
 * const policies = [
 *   Policy.window({ limit: 500, window: "1 minute" }),
 *   Policy.window({ limit: 30_000, window: "1 minute", unit: "tokens" })
 * ]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const window = (options: Counted): Window => {
  const limit = Own.get(options, "limit") as number
  const windowMillis = windowOf(options)
  const unit = Own.get(options, "unit") ?? "requests"
  return {
    _tag: "Window",
    name: Own.get(options, "name") ?? `window ${limit}/${shortDuration(windowMillis)}${unitSuffix(unit)}`,
    limit,
    windowMillis,
    unit,
    keyBy: Own.get(options, "keyBy") ?? "host"
  }
}

/**
 * At most `max` requests in flight at once.
 *
 * @category constructors
 * @since 0.1.0
 */
export const concurrency = (
  options: Common & {
    readonly max: number
    /**
     * The longest a slot is held, should its holder die without giving it back.
     *
     * @default "1 minute"
     */
    readonly lease?: Duration.Input | undefined
  }
): Concurrency => {
  const max = Own.get(options, "max") as number
  return {
    _tag: "Concurrency",
    name: Own.get(options, "name") ?? `concurrency ${max}`,
    max,
    leaseMillis: Own.millis(Own.get(options, "lease"), 60_000),
    keyBy: Own.get(options, "keyBy") ?? "host"
  }
}

/**
 * A policy that cannot work (a limit below 1, a window under 1 ms, a burst
 * that is not a whole number of at least 1, an empty list of policies).
 *
 * @category errors
 * @since 0.1.0
 */
export class PolicyError extends Schema.TaggedError<PolicyError>()("PolicyError", {
  /** The policy's name. */
  policy: Schema.String,
  /** What is wrong with it. */
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid rate-limit policy ${this.policy}: ${this.detail}`
  }
}

const isWhole = (value: number, min: number) => Number.isSafeInteger(value) && value >= min

/**
 * Checks a policy, returning what is wrong with it, if anything.
 *
 * @category predicates
 * @since 0.1.0
 */
export const validate = (policy: Policy): PolicyError | undefined => {
  const fail = (detail: string) =>
    new PolicyError({ policy: typeof policy.name === "string" ? policy.name : "(unnamed)", detail })
  if (typeof policy.name !== "string" || policy.name.length === 0 || policy.name.length > 200) {
    return fail("the name must have 1 to 200 characters")
  }
  if (policy.keyBy !== "host" && policy.keyBy !== "origin" && policy.keyBy !== "global") {
    return fail(`keyBy must be "host", "origin" or "global"`)
  }
  if (policy._tag === "Concurrency") {
    if (!isWhole(policy.max, 1)) return fail(`max must be a whole number of at least 1, not ${policy.max}`)
    if (!(policy.leaseMillis >= 1 && Number.isFinite(policy.leaseMillis))) {
      return fail("the lease must be at least 1 ms")
    }
    return undefined
  }
  if (!(policy.limit > 0 && Number.isFinite(policy.limit))) return fail(`limit must be above 0, not ${policy.limit}`)
  if (!(policy.windowMillis >= 1 && Number.isFinite(policy.windowMillis))) {
    return fail("the window must be at least 1 ms")
  }
  if (policy._tag === "Rate" && !isWhole(policy.burst, 1)) {
    return fail(`burst must be a whole number of at least 1, not ${policy.burst}`)
  }
  return undefined
}

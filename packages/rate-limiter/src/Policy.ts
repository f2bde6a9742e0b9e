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
 * Durations (`window`, `lease`) take what every httpkit duration takes:
 * `"20s"`, `"250ms"`, `"1.5 min"`, `"1h30m"`, Effect's `"1 second"`, a
 * `Duration`, or milliseconds (`@httpkit/core/DurationInput`). A value that
 * is none of them does not throw: the policy carries the problem, and
 * `RateLimiter.make` fails with a `PolicyError` that names it
 * (`policies[0].window is "20 sex", expected a duration such as 250ms, ...`).
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
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
  /** Options the constructor could not read (named by option: `window`); `RateLimiter.make` fails with them. */
  readonly problems?: ReadonlyArray<ConfigProblem.ConfigProblem> | undefined
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
  /** Options the constructor could not read (named by option: `window`); `RateLimiter.make` fails with them. */
  readonly problems?: ReadonlyArray<ConfigProblem.ConfigProblem> | undefined
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
  /** Options the constructor could not read (named by option: `lease`); `RateLimiter.make` fails with them. */
  readonly problems?: ReadonlyArray<ConfigProblem.ConfigProblem> | undefined
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
  /** The window, such as `"1s"`, `"1 minute"` or `Duration.seconds(10)`. */
  readonly window: DurationInput.Input
  /**
   * What is counted.
   *
   * @default "requests"
   */
  readonly unit?: Unit | undefined
}

const shortDuration = (millis: number): string =>
  !Number.isFinite(millis)
    ? "?"
    : millis % 60_000 === 0
    ? `${millis / 60_000}m`
    : millis % 1_000 === 0
    ? `${millis / 1_000}s`
    : `${millis}ms`

const unitSuffix = (unit: Unit) => unit === "tokens" ? " tokens" : ""

/**
 * A duration option in milliseconds, read by own fields (`DurationInput.fromInput`); one that is absent
 * (with no `fallback`) or unreadable is NaN, with its problem added to `problems`.
 */
const durationOption = (
  options: object,
  name: string,
  problems: Array<ConfigProblem.ConfigProblem>,
  fallback?: number
): number => {
  const input = Own.get(options as Record<string, unknown>, name)
  if (input === undefined && fallback !== undefined) return fallback
  const millis = DurationInput.fromInput(input)
  if (millis !== undefined) return millis
  problems.push(DurationInput.problem(name, input))
  return Number.NaN
}

/** `problems`, as the optional field of a policy: absent when there are none. */
const withProblems = (problems: ReadonlyArray<ConfigProblem.ConfigProblem>) => problems.length === 0 ? {} : { problems }

/**
 * A steady rate of `limit` per `window`, with up to `burst` at once.
 *
 * @example
 * ```ts
 * import { Policy } from "@httpkit/rate-limiter"
 *
 * // 50 requests per second per host, at most 10 at once.
 * Policy.rate({ limit: 50, window: "1s", burst: 10 })
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
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const limit = Own.get(options, "limit") as number
  const windowMillis = durationOption(options, "window", problems)
  const unit = Own.get(options, "unit") ?? "requests"
  const burst = Own.get(options, "burst") ?? 1
  return {
    _tag: "Rate",
    name: Own.get(options, "name") ?? `rate ${limit}/${shortDuration(windowMillis)}${unitSuffix(unit)} burst ${burst}`,
    limit,
    windowMillis,
    burst,
    unit,
    keyBy: Own.get(options, "keyBy") ?? "host",
    ...withProblems(problems)
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
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const limit = Own.get(options, "limit") as number
  const windowMillis = durationOption(options, "window", problems)
  const unit = Own.get(options, "unit") ?? "requests"
  return {
    _tag: "Window",
    name: Own.get(options, "name") ?? `window ${limit}/${shortDuration(windowMillis)}${unitSuffix(unit)}`,
    limit,
    windowMillis,
    unit,
    keyBy: Own.get(options, "keyBy") ?? "host",
    ...withProblems(problems)
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
    readonly lease?: DurationInput.Input | undefined
  }
): Concurrency => {
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const max = Own.get(options, "max") as number
  return {
    _tag: "Concurrency",
    name: Own.get(options, "name") ?? `concurrency ${max}`,
    max,
    leaseMillis: durationOption(options, "lease", problems, 60_000),
    keyBy: Own.get(options, "keyBy") ?? "host",
    ...withProblems(problems)
  }
}

/**
 * A rate limiter that cannot work: a policy that cannot (a limit below 1 or
 * above `Number.MAX_SAFE_INTEGER`, a window or lease under 1 ms, over 365
 * days or not a duration, a burst that is not a whole number of at least 1), an empty list of policies, or a limiter option that is not
 * what it takes (`maxWait: "soon"`). `problems` names each setting at fault
 * by its option path (`policies[0].window`, `maxWait`; an acquisition's own
 * `acquire.maxWait`), with the value received and what is expected; the
 * message is `invalid rate limiter configuration: ` and each problem as
 * `<setting> is <received>, expected <expected>`, separated by `; `
 * (`@httpkit/core/ConfigProblem`).
 *
 * @category errors
 * @since 0.1.0
 */
export class PolicyError extends Own.fields(
  Schema.TaggedError<PolicyError>()("PolicyError", {
    /** The name of the first policy at fault; `(none)` when no policy is (the list, or the limiter's options). */
    policy: Schema.String,
    /** What is wrong: the problems, as the message gives them. */
    detail: Schema.String,
    /** Each setting at fault. */
    problems: Schema.Array(ConfigProblem.ConfigProblem)
  })
) {
  /** An error for `problems` (at least one), the first of them in the policy named `policy`. */
  static fromProblems(policy: string, problems: ReadonlyArray<ConfigProblem.ConfigProblem>): PolicyError {
    return new PolicyError({ policy, detail: problems.map(ConfigProblem.format).join("; "), problems })
  }

  override get message(): string {
    return ConfigProblem.message("rate limiter configuration", this.problems)
  }
}

const isWhole = (value: unknown, min: number) => Number.isSafeInteger(value) && (value as number) >= min

/**
 * The longest `window` or `lease` a policy takes: 365 days. Every store can
 * hold state that lasts this long (Redis expiries are whole milliseconds).
 *
 * @category constants
 * @since 0.1.0
 */
export const maxWindowMillis = 365 * 24 * 60 * 60 * 1_000

/** Whether `millis` is a duration a policy can use: 1 ms to `maxWindowMillis`. */
const isPolicyDuration = (millis: number) => millis >= 1 && millis <= maxWindowMillis

/** A resolved duration field, shown as received: milliseconds with their unit. */
const showMillis = (millis: unknown): string =>
  typeof millis === "number" && Number.isFinite(millis) ? `${millis} ms` : ConfigProblem.show(millis)

/**
 * What is wrong with a policy, each problem named by its option (`window`,
 * `burst`), under `path` when given (`validate(policy, "policies[0]")` names
 * `policies[0].window`). Empty when the policy can work.
 *
 * @category predicates
 * @since 0.1.0
 */
export const problemsOf = (policy: Policy, path?: string): ReadonlyArray<ConfigProblem.ConfigProblem> => {
  const found: Array<ConfigProblem.ConfigProblem> = []
  const add = (setting: string, received: string, expected: string) => found.push({ setting, received, expected })
  if (typeof policy.name !== "string" || policy.name.length === 0 || policy.name.length > 200) {
    add("name", ConfigProblem.show(policy.name), "a name of 1 to 200 characters")
  }
  if (policy.keyBy !== "host" && policy.keyBy !== "origin" && policy.keyBy !== "global") {
    add("keyBy", ConfigProblem.show(policy.keyBy), `"host", "origin" or "global"`)
  }
  if (policy._tag === "Concurrency") {
    if (!isWhole(policy.max, 1)) add("max", ConfigProblem.show(policy.max), "a whole number of at least 1")
    if (!isPolicyDuration(policy.leaseMillis)) {
      add("lease", showMillis(policy.leaseMillis), "a duration from 1 ms to 365 days")
    }
  } else {
    if (!(typeof policy.limit === "number" && policy.limit >= 1 && policy.limit <= Number.MAX_SAFE_INTEGER)) {
      add("limit", ConfigProblem.show(policy.limit), `a number from 1 to ${Number.MAX_SAFE_INTEGER}`)
    }
    if (!isPolicyDuration(policy.windowMillis)) {
      add("window", showMillis(policy.windowMillis), "a duration from 1 ms to 365 days")
    }
    if (policy._tag === "Rate" && !isWhole(policy.burst, 1)) {
      add("burst", ConfigProblem.show(policy.burst), "a whole number of at least 1")
    }
  }
  const given = Own.get(policy, "problems")
  const all = ConfigProblem.merge(Array.isArray(given) ? given : [], found)
  return path === undefined ? all : all.map((problem) => ({ ...problem, setting: `${path}.${problem.setting}` }))
}

/**
 * Checks a policy, returning what is wrong with it, if anything: a
 * `PolicyError` with every problem (`problemsOf`), named under `path` when
 * given.
 *
 * @category predicates
 * @since 0.1.0
 */
export const validate = (policy: Policy, path?: string): PolicyError | undefined => {
  const problems = problemsOf(policy, path)
  return problems.length === 0
    ? undefined
    : PolicyError.fromProblems(typeof policy.name === "string" ? policy.name : "(unnamed)", problems)
}

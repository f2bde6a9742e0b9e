/**
 * `RateLimiter`: one limit shared by every fiber, process and machine that
 * uses the same store, with waiting or failing fast, token costs, stacked
 * policies, server feedback, and a policy for a store that fails.
 *
 * **Example**
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { LimiterStore, Policy, RateLimiter } from "@httpkit/rate-limiter"
 *
 * const Limiter = RateLimiter.layer({
 *   policies: [Policy.window({ limit: 100, window: "1 second", keyBy: "global" })]
 * }).pipe(Layer.provide(LimiterStore.layerMemory()))
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   const permit = yield* limiter.acquire({ key: "api.example.com" })
 *   yield* Effect.log(`waited ${permit.waitedMillis} ms`)
 * }).pipe(Effect.scoped, Effect.provide(Limiter))
 * ```
 *
 * **Details**
 *
 * A request is admitted when it passes every policy: concurrency slots are
 * taken first (held until the permit's scope closes), then the rate and
 * window policies book one instant in one atomic store call, and the caller
 * sleeps until it. Waiting callers are served in the order they asked.
 * `onLimit: "fail"` (or a wait longer than `maxWait`) fails with
 * `RateLimitExceededError`, which says when a slot frees up.
 *
 * Server feedback (`observe`): a 429, or rate-limit headers reporting an
 * empty budget, hold every request of that key in every process sharing the
 * store until the server's reset (`ServerFeedback` reads the dialects).
 *
 * When the store fails (Redis down, lost, or silent for longer than the
 * acquisition can wait), `onStoreFailure: "fail"` (the default) fails with
 * `RateLimiterUnavailableError`; `"local"` falls back to a limit in this
 * process's memory (each limit divided by `fallbackShare`, for the number of
 * processes that share it), logs a warning, and tries the store again after
 * `retryStoreAfter`. Each store call is told how long the acquisition can
 * still wait, so a slow but healthy store delays the request instead of
 * failing it (see `RedisStore`).
 *
 * Every options object is read by its own keys only: a polluted
 * `Object.prototype` changes no limit. Durations take `"20s"`, `"250ms"`,
 * `"1.5 min"`, Effect's `"1 second"`, a `Duration` or milliseconds
 * (`@httpkit/core/DurationInput`); a value that is none of them fails `make`
 * (or the acquisition it was given to) with a `PolicyError` naming the
 * option, the value and the forms accepted.
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricSeries from "@httpkit/core/MetricSeries"
import { RateLimiterUnavailableError, RateLimitExceededError } from "@httpkit/core/RateLimitError"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Algorithm from "./internal/algorithm.ts"
import * as Failover from "./internal/failover.ts"
import * as GuardedStore from "./internal/guardedStore.ts"
import * as LoopIdle from "./internal/loopIdle.ts"
import * as MemoryStore from "./internal/memoryStore.ts"
import * as Metrics from "./internal/metrics.ts"
import * as Own from "./internal/own.ts"
import * as ReleaseSignals from "./internal/releaseSignals.ts"
import * as LimiterStore from "./LimiterStore.ts"
import * as Policy from "./Policy.ts"
import * as ServerFeedback from "./ServerFeedback.ts"

/**
 * How a limiter behaves.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The policies every request must pass (at least one). */
  readonly policies: ReadonlyArray<Policy.Policy>
  /**
   * Wait for a slot, or fail at once with `RateLimitExceededError`.
   *
   * @default "wait"
   */
  readonly onLimit?: "wait" | "fail" | undefined
  /**
   * The longest a request waits for a slot; a longer wait fails at once.
   *
   * @default "1 minute"
   */
  readonly maxWait?: DurationInput.Input | undefined
  /**
   * When the store fails: fail closed with `RateLimiterUnavailableError`, or
   * fall back to a limit in this process's memory.
   *
   * @default "fail"
   */
  readonly onStoreFailure?: "fail" | "local" | undefined
  /**
   * In the local fallback, each limit is divided by this (the number of
   * processes expected to share the limit), rounded down: a number of at
   * least 1 (anything else fails `make` with `PolicyError`).
   *
   * @default 1
   */
  readonly fallbackShare?: number | undefined
  /**
   * After a store failure, how long the fallback is used before the store is
   * tried again.
   *
   * @default "1 second"
   */
  readonly retryStoreAfter?: DurationInput.Input | undefined
  /**
   * A bound on every call to a store that does not bound its own calls (the
   * memory, Redis and local stores do).
   *
   * @default "2 seconds"
   */
  readonly storeTimeout?: DurationInput.Input | undefined
  /**
   * The longest hold that server feedback may impose on a key; larger hints
   * are cut to it. `false` ignores server feedback.
   *
   * @default "10 minutes"
   */
  readonly maxHold?: DurationInput.Input | false | undefined
  /**
   * A request that gets to go more than this after the instant it booked (its
   * process was busy, paused or starved of CPU) books again instead: so a
   * stalled process never lets its overdue requests out in a bunch, which a
   * server counting arrivals would see as a burst. It waits for the new slot
   * within its `maxWait`, at most three times; past its `maxWait` (its wait
   * ended during the stall), or a fourth time, it takes only a slot free at
   * once. Each rebooking leaves a slot unused (so a lower bound costs
   * throughput on a loaded machine). Time this process sat idle waiting for
   * the store's answer does not count (a slow Redis makes no request late);
   * time it was busy does.
   *
   * A request whose slot passed while the process was stalled goes only on
   * its new booking: refused, it fails with `RateLimitExceededError`;
   * unanswered, it follows `onStoreFailure`. One late only because the
   * process was busy during the store call (the store booked it during that
   * call) goes on the slot it holds when the rebooking is refused or
   * unanswered. `false` lets late requests go on their passed slots (a server
   * counting arrivals may see more than the limit).
   *
   * @default "100 millis"
   */
  readonly maxLateness?: DurationInput.Input | false | undefined
}

/**
 * What one acquisition asks.
 *
 * @category models
 * @since 0.1.0
 */
export interface AcquireOptions {
  /** The key to limit under, replacing the URL's host or origin. */
  readonly key?: string | undefined
  /** The URL the request goes to: its host (or origin) is the default key. */
  readonly url?: string | URL | undefined
  /**
   * What the request costs against `unit: "tokens"` policies. A value that
   * is not a finite number of at least 0 counts as the policy's whole limit.
   *
   * @default 1
   */
  readonly tokens?: number | undefined
  /**
   * The longest this request may wait, when shorter than the limiter's
   * `maxWait`. A negative number is no wait; a value that is no duration
   * fails the acquisition with `PolicyError` (`acquire.maxWait`).
   */
  readonly maxWait?: DurationInput.Input | undefined
  /** The HTTP call this is for, named in the limiter's errors (`ResilientClient` passes it). */
  readonly call?: { readonly method: string; readonly url: string; readonly requestId: string } | undefined
}

/**
 * An admitted request.
 *
 * @category models
 * @since 0.1.0
 */
export interface Permit {
  /** The key the request was limited under (for policies not keyed globally). */
  readonly key: string
  /** How long the request waited for its slot, in milliseconds. */
  readonly waitedMillis: number
}

/**
 * A response, as server feedback.
 *
 * @category models
 * @since 0.1.0
 */
export interface ObserveOptions {
  readonly key?: string | undefined
  readonly url?: string | URL | undefined
  /** What the request cost: a token budget with less left than this holds the key too. */
  readonly tokens?: number | undefined
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
}

/**
 * The limiter's operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /**
   * Waits for (or is refused) a slot under every policy. Concurrency slots
   * are held until the scope closes.
   */
  readonly acquire: (
    options?: AcquireOptions
  ) => Effect.Effect<Permit, RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError, Scope.Scope>
  /**
   * Runs `effect` inside a permit, giving concurrency slots back when it
   * ends: `effect.pipe(limiter.withPermit(options))` or
   * `limiter.withPermit(effect, options)`.
   */
  readonly withPermit: {
    (
      options?: AcquireOptions
    ): <A, E, R>(
      effect: Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError, R>
    <A, E, R>(
      effect: Effect.Effect<A, E, R>,
      options?: AcquireOptions
    ): Effect.Effect<A, E | RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError, R>
  }
  /** Server feedback: a 429 or an empty budget holds every request of the key until the reset. */
  readonly observe: (options: ObserveOptions) => Effect.Effect<void>
  /**
   * Holds every request of `key`, in every process sharing the store, for
   * `duration`; a `duration` that is no duration, or longer than 365 days,
   * fails with `PolicyError` (`hold.duration`).
   */
  readonly hold: (
    key: string,
    duration: DurationInput.Input
  ) => Effect.Effect<void, RateLimiterUnavailableError | Policy.PolicyError>
  /** The resolved policies, in order. */
  readonly policies: ReadonlyArray<Policy.Policy>
}

/**
 * The limiter service.
 *
 * @category services
 * @since 0.1.0
 */
export class RateLimiter extends Context.Service<RateLimiter, Service>()("@httpkit/rate-limiter/RateLimiter") {}

/**
 * How long admitted requests waited for their slot, in seconds: attribute
 * `key` (see `maxKeys`). Boundaries: `MetricBoundaries.seconds`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const waitTime: Metric.Histogram<number> = Metric.histogram(
  "httpkit_rate_limiter_wait_seconds",
  MetricSeries.options({
    description: "How long requests waited for a rate-limit slot, by key",
    boundaries: MetricBoundaries.seconds
  })
)

/**
 * Acquisitions by `key` and `outcome`: `granted`, `refused` (limit),
 * `unavailable` (store failed closed), `fallback` (granted by the local
 * fallback), `late` (woke too long after its slot and booked again: the
 * process is starved).
 *
 * @category metrics
 * @since 0.1.0
 */
export const acquisitions: Metric.Counter<number> = Metric.counter(
  "httpkit_rate_limiter_acquisitions_total",
  MetricSeries.options({
    description: "Rate-limit acquisitions by key and outcome",
    incremental: true
  })
)

/**
 * Holds put on a key, by `key` and `reason`: `retry_after` (a 429 with
 * `Retry-After` or `retry-after-ms`), `too_many_requests` (a 429 without
 * them: the hold comes from an empty budget's reset or the 1 s fallback),
 * `budget_exhausted` (another status whose rate-limit headers report an empty
 * budget), `manual` (`hold` called by the caller). Counted once the store
 * recorded the hold.
 *
 * @category metrics
 * @since 0.1.0
 */
export const holds: Metric.Counter<number> = Metric.counter(
  "httpkit_rate_limiter_holds_total",
  MetricSeries.options({
    description: "Holds put on a rate-limit key by server feedback (or by hand), by key and reason",
    incremental: true
  })
)

/**
 * The length of the holds counted by `holds`, in seconds, as imposed (after
 * the `maxHold` cap): attribute `key`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const holdSeconds: Metric.Counter<number> = Metric.counter(
  "httpkit_rate_limiter_hold_seconds_total",
  MetricSeries.options({
    description: "Seconds of holds put on a rate-limit key, by key",
    incremental: true
  })
)

/**
 * Most distinct `key` attributes per limiter. The attribute is the limiter
 * key when it came from the request's URL (its host), `custom` when the
 * caller gave the key (it may hold a user id or a token), `default` without
 * URL or key; keys past this bound count as `other`.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxKeys = 1_000

const noUrlKey = "default"

/** The request's key: the caller's, else the URL's host or origin. */
const requestKey = (
  options: Pick<AcquireOptions, "key" | "url"> | undefined,
  keyBy: "host" | "origin"
): string => {
  const key = Own.get(options, "key")
  if (key !== undefined) return key
  const url = Own.get(options, "url")
  if (url === undefined) return noUrlKey
  try {
    const parsed = typeof url === "string" ? new URL(url) : url
    return keyBy === "host" ? parsed.hostname : parsed.origin
  } catch {
    return noUrlKey
  }
}

/** The state id of `policy` for a request: the policy's name and the key. */
const stateId = (policy: Policy.Policy, options: AcquireOptions | undefined): string =>
  policy.keyBy === "global" ? `${policy.name}|*` : `${policy.name}|${requestKey(options, policy.keyBy)}`

/**
 * What a request costs under a tokens policy: its `tokens` (default 1), at
 * most the policy's whole limit (so a rate's debt is at most one window, and
 * every store can hold it); one that is not a finite number of at least 0
 * takes the whole limit, the most cautious reading of a cost nobody can know.
 */
const tokenCost = (tokens: number | undefined, limit: number): number =>
  tokens === undefined ? 1 : Number.isFinite(tokens) && tokens >= 0 ? Math.min(tokens, limit) : limit

/** A policy's item for a request; in the fallback, its limit is shared out. */
const itemOf = (
  policy: Policy.Rate | Policy.Window,
  acquire: AcquireOptions | undefined,
  scale: number
): Algorithm.Item => ({
  id: stateId(policy, acquire),
  kind: policy._tag === "Rate" ? "rate" : "window",
  limit: scale === 1 ? policy.limit : Math.max(1, Math.floor(policy.limit / scale)),
  windowMillis: policy.windowMillis,
  burst: policy._tag === "Rate" ? policy.burst : 1,
  cost: policy.unit === "tokens" ? tokenCost(Own.get(acquire, "tokens"), policy.limit) : 1
})

/** The call's method, URL and request id, for errors (own keys only; absent ones left out). */
const callOf = (acquire: AcquireOptions | undefined): {
  readonly method?: string
  readonly url?: string
  readonly requestId?: string
} => {
  const call = Own.get(acquire, "call")
  if (call === undefined) return {}
  const method = Own.get(call, "method")
  const url = Own.get(call, "url")
  const requestId = Own.get(call, "requestId")
  return {
    ...(method === undefined ? {} : { method }),
    ...(url === undefined ? {} : { url }),
    ...(requestId === undefined ? {} : { requestId })
  }
}

/** Fails with `RateLimitExceededError`, counted. */
const exceeded = (
  series: Metrics.Series,
  acquire: AcquireOptions | undefined,
  key: string,
  policy: string,
  retryAfterMillis: number
) =>
  Effect.andThen(
    series.acquired("refused"),
    Effect.fail(
      new RateLimitExceededError(Own.bare({ ...callOf(acquire), key, policy, retryAfterMillis, retryable: true }))
    )
  )

/** Counts a store failure, and names the call in its error. */
const counting = <A>(
  series: Metrics.Series,
  acquire: AcquireOptions | undefined,
  effect: Effect.Effect<A, RateLimiterUnavailableError>
) =>
  Effect.catch(effect, (error) =>
    Effect.andThen(
      series.acquired("unavailable"),
      Effect.fail(
        Own.get(acquire, "call") === undefined ? error : new RateLimiterUnavailableError(Own.bare({
          ...callOf(acquire),
          backend: error.backend,
          detail: error.detail,
          retryable: error.retryable
        }))
      )
    ))

/**
 * How many times one request books again after waking too late and waits
 * for the new slot; once more after that, it takes only a slot free at once.
 */
const maxRebookings = 3

/** How long a waiter polls a full concurrency policy between tries, at most. */
const maxLeasePollMillis = 250

/** A copy of `policy` made of its own fields only (a hand-built policy may lack some; `validate` says so). */
const ownPolicy = (policy: Policy.Policy): Policy.Policy => {
  const field = <K extends string>(key: K) => Own.get(policy as Partial<Record<K, unknown>>, key) as never
  const common = { name: field("name"), keyBy: field("keyBy") }
  const problems = field("problems") as ReadonlyArray<ConfigProblem.ConfigProblem> | undefined
  switch (Own.get(policy, "_tag")) {
    case "Concurrency":
      return { _tag: "Concurrency", ...common, max: field("max"), leaseMillis: field("leaseMillis"), problems }
    case "Rate":
      return {
        _tag: "Rate",
        ...common,
        limit: field("limit"),
        windowMillis: field("windowMillis"),
        burst: field("burst"),
        unit: field("unit"),
        problems
      }
    default:
      return {
        _tag: "Window",
        ...common,
        limit: field("limit"),
        windowMillis: field("windowMillis"),
        unit: field("unit"),
        problems
      }
  }
}

/**
 * Makes a limiter on the `LimiterStore` in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<Service, Policy.PolicyError, LimiterStore.LimiterStore> => {
  const option = <K extends keyof Options>(key: K) => Own.get(options, key)
  return Effect.gen(function*() {
    // The store may be the user's own: a method that returns no effect is a defect of the call, not a dead fiber.
    const store = GuardedStore.make(yield* LimiterStore.LimiterStore)
    const given = option("policies")
    const policies = Array.from(Array.isArray(given) ? given : [], ownPolicy)
    // Every problem at once: the limiter's options, then each policy's, named by option path.
    const problems: Array<ConfigProblem.ConfigProblem> = []
    const duration = (
      name: "maxWait" | "retryStoreAfter" | "storeTimeout" | "maxHold" | "maxLateness",
      fallback: number
    ) => Own.checkedMillis(option(name), fallback, name, problems)
    const maxHoldOption = option("maxHold")
    const maxLatenessOption = option("maxLateness")
    const limiterWait = duration("maxWait", 60_000)
    const maxWaitMillis = option("onLimit") === "fail" ? 0 : limiterWait
    const maxHold = maxHoldOption === false ? 0 : duration("maxHold", 600_000)
    const maxLateness = maxLatenessOption === false ? Number.POSITIVE_INFINITY : duration("maxLateness", 100)
    const retryStoreAfterMillis = duration("retryStoreAfter", 1_000)
    const storeTimeoutMillis = duration("storeTimeout", 2_000)
    const fallbackShare = option("fallbackShare") ?? 1
    if (!(typeof fallbackShare === "number" && fallbackShare >= 1 && Number.isFinite(fallbackShare))) {
      problems.push({
        setting: "fallbackShare",
        received: ConfigProblem.show(fallbackShare),
        expected: "a number of at least 1 (the processes sharing the limit)"
      })
    }
    const onLimit = option("onLimit")
    if (onLimit !== undefined && onLimit !== "wait" && onLimit !== "fail") {
      problems.push({ setting: "onLimit", received: ConfigProblem.show(onLimit), expected: `"wait" or "fail"` })
    }
    const onStoreFailure = option("onStoreFailure")
    if (onStoreFailure !== undefined && onStoreFailure !== "fail" && onStoreFailure !== "local") {
      problems.push({
        setting: "onStoreFailure",
        received: ConfigProblem.show(onStoreFailure),
        expected: `"fail" or "local"`
      })
    }
    if (policies.length === 0) {
      problems.push({
        setting: "policies",
        received: ConfigProblem.show(given),
        expected: "a list of at least one policy"
      })
    }
    let firstAtFault: string | undefined
    policies.forEach((policy, index) => {
      const found = Policy.problemsOf(policy, `policies[${index}]`)
      if (found.length === 0) return
      firstAtFault ??= typeof policy.name === "string" ? policy.name : "(unnamed)"
      problems.push(...found)
    })
    if (problems.length > 0) {
      return yield* Effect.fail(Policy.PolicyError.fromProblems(firstAtFault ?? "(none)", problems))
    }
    const counted = policies.filter((policy): policy is Policy.Rate | Policy.Window => policy._tag !== "Concurrency")
    const concurrent = policies.filter((policy): policy is Policy.Concurrency => policy._tag === "Concurrency")

    const metrics = Metrics.make({ waitTime, acquisitions, holds, holdSeconds, maxKeys })

    const failover = Failover.make({
      store,
      fallback: onStoreFailure === "local"
        ? yield* MemoryStore.make(
          MemoryStore.defaultMaxKeys,
          `the local fallback holds at most ${MemoryStore.defaultMaxKeys} keys`
        )
        : undefined,
      share: Math.floor(fallbackShare),
      retryStoreAfterMillis,
      storeTimeoutMillis
    })

    /** Wakes this process's waiters for a concurrency slot when one is given back here. */
    const released = ReleaseSignals.make()

    /** Gives back a slot this acquisition may hold (best effort, bounded), and wakes waiters here. */
    const giveBack = (target: LimiterStore.Store, id: string, token: string) =>
      Effect.andThen(
        Effect.ignore(
          Own.get(target, "selfBounded") === true
            ? target.release(id, token)
            : Effect.timeoutOption(target.release(id, token), storeTimeoutMillis)
        ),
        released.announce(id)
      )

    /** Takes one concurrency slot of `policy`, waiting until `deadline`: woken by a release here, or polling. */
    const takeLease = (
      policy: Policy.Concurrency,
      acquire: AcquireOptions | undefined,
      key: string,
      series: Metrics.Series,
      deadline: number
    ): Effect.Effect<void, RateLimitExceededError | RateLimiterUnavailableError, Scope.Scope> => {
      const id = stateId(policy, acquire)
      const token = crypto.randomUUID()
      let poll = 5
      // The token is known before the call: when the call fails, times out or is interrupted, it may still
      // have taken the slot on the store, so the slot is given back there (uninterruptibly). A granted slot is
      // held until the scope closes; the finalizer is added before anything can interrupt.
      const leased = (asked: number) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(
            counting(
              series,
              acquire,
              failover.run((target, scale) =>
                Effect.onError(
                  restore(target.lease({
                    id,
                    max: scale === 1 ? policy.max : Math.max(1, Math.floor(policy.max / scale)),
                    token,
                    leaseMillis: policy.leaseMillis,
                    maxWaitMillis: Math.max(0, deadline - asked)
                  })),
                  () => giveBack(target, id, token)
                )
              )
            ),
            ([result, target]): Effect.Effect<LimiterStore.LeaseResult, never, Scope.Scope> =>
              result._tag === "Granted"
                ? Effect.as(Effect.addFinalizer(() => giveBack(target, id, token)), result)
                : Effect.succeed(result)
          )
        )
      const attempt: Effect.Effect<void, RateLimitExceededError | RateLimiterUnavailableError, Scope.Scope> = Effect
        .flatMap(
          Effect.flatMap(Clock.currentTimeMillis, leased),
          (result) => {
            if (result._tag === "Granted") return Effect.void
            return Effect.flatMap(Clock.currentTimeMillis, (now) => {
              const wait = Math.min(poll, result.retryAfterMillis)
              if (now >= deadline) return exceeded(series, acquire, key, policy.name, result.retryAfterMillis)
              poll = Math.min(maxLeasePollMillis, poll * 2)
              return Effect.andThen(released.wait(id, Math.min(wait, deadline - now)), attempt)
            })
          }
        )
      return attempt
    }

    /**
     * Sleeps until a booked slot; a waiter interrupted meanwhile gives the
     * booking back when the store can (`cancel`: memory, local and Redis stores),
     * so callers that went away leave no slots unused behind them.
     */
    const waitForSlot = (
      target: LimiterStore.Store,
      items: ReadonlyArray<Algorithm.Item>,
      delayMillis: number,
      at: number | undefined
    ): Effect.Effect<void> => {
      if (at === undefined || Own.get(target, "cancel") === undefined) return Effect.sleep(delayMillis)
      const cancel = Effect.suspend(() => target.cancel?.({ items, at }) ?? Effect.void)
      return Effect.onInterrupt(
        Effect.sleep(delayMillis),
        () =>
          Effect.ignore(
            Own.get(target, "selfBounded") === true ? cancel : Effect.timeoutOption(cancel, storeTimeoutMillis)
          )
      )
    }

    /**
     * Books the counted policies, waiting out server holds, until `deadline`.
     *
     * A request that gets to go more than `maxLateness` after its slot books
     * again, waiting for the new slot until `deadline` (at most
     * `maxRebookings` times; then, or past the deadline, it takes only a slot
     * free at once). Two cases:
     *
     * - its slot passed while this process was stalled (it woke later than
     *   the slot even counting the whole store call as the store's): that
     *   slot is gone, others may have been let in since, so the request goes
     *   only on the new booking. Refused, it fails with
     *   `RateLimitExceededError`; unanswered, it follows `onStoreFailure`.
     * - it is late only because this process was busy during the store call
     *   (`holding`): the store booked it somewhere in that call, so the
     *   request still holds a slot it may go on, and goes on it when the
     *   rebooking is refused or unanswered. Only before the deadline.
     */
    const book = (
      acquire: AcquireOptions | undefined,
      key: string,
      series: Metrics.Series,
      deadline: number,
      rebooked = 0,
      holding = false
    ): Effect.Effect<void, RateLimitExceededError | RateLimiterUnavailableError> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const idleBefore = LoopIdle.millis()
        // The last rebooking takes a slot free now or none, so a starved process cannot rebook for ever.
        const last = rebooked > maxRebookings
        let items: ReadonlyArray<Algorithm.Item> = []
        const reserved = failover.run((target, scale) => {
          items = counted.map((policy) => itemOf(policy, acquire, scale))
          return target.reserve({ items, blockKey: key, maxWaitMillis: last ? 0 : Math.max(0, deadline - now) })
        })
        const answered = holding
          ? Effect.catch(reserved, () => Effect.succeed(undefined))
          : counting(series, acquire, reserved)
        return Effect.flatMap(answered, (answer) => {
          if (answer === undefined) return Effect.void
          const [reservation, target] = answer
          if (reservation._tag === "Granted") {
            const wait = reservation.delayMillis > 0
              ? waitForSlot(target, items, reservation.delayMillis, reservation.at)
              : Effect.void
            if (last || maxLateness === Number.POSITIVE_INFINITY) return wait
            return Effect.flatMap(Clock.currentTimeMillis, (answered) => {
              // When the request could have gone had this process not been busy: time the event loop sat
              // idle during the call was the store's (a slow Redis), time it was busy delayed the answer
              // here and counts as lateness, as a late wake-up does. A store whose delay counts from the
              // read (Redis, evening its reply latency) says how overdue the request was then; a hold it
              // added on purpose is part of the delay, so it is not lateness.
              const overdue = Own.get(reservation, "overdueMillis")
              const booked = overdue === undefined
                ? now + Math.min(answered - now, Math.max(0, LoopIdle.millis() - idleBefore)) + reservation.delayMillis
                : answered - overdue + reservation.delayMillis
              return Effect.andThen(
                wait,
                Effect.flatMap(Clock.currentTimeMillis, (woke) => {
                  // The slot passed for certain: the store booked it by `answered + delay` at the latest.
                  if (woke - (answered + reservation.delayMillis) > maxLateness) {
                    return Effect.andThen(series.acquired("late"), book(acquire, key, series, deadline, rebooked + 1))
                  }
                  return woke - booked > maxLateness && woke < deadline
                    ? Effect.andThen(series.acquired("late"), book(acquire, key, series, deadline, rebooked + 1, true))
                    : Effect.void
                })
              )
            })
          }
          if (reservation.item === -1) {
            // The server asked every caller of this key to hold off: wait it out, then ask again.
            if (now + reservation.retryAfterMillis > deadline) {
              return exceeded(series, acquire, key, "server hold", reservation.retryAfterMillis)
            }
            return Effect.andThen(
              Effect.sleep(reservation.retryAfterMillis),
              book(acquire, key, series, deadline, rebooked, holding)
            )
          }
          if (holding) return Effect.void
          return exceeded(series, acquire, key, counted[reservation.item]!.name, reservation.retryAfterMillis)
        })
      })

    /** Admits a request; concurrency slots (when a policy asks for them) are held in the scope. */
    const acquire = (
      acquireOptions?: AcquireOptions
    ): Effect.Effect<Permit, RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError, Scope.Scope> =>
      Effect.flatMap(Clock.currentTimeMillis, (
        started
      ): Effect.Effect<
        Permit,
        RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError,
        Scope.Scope
      > => {
        const key = requestKey(acquireOptions, "host")
        const series = metrics.of(acquireOptions, key)
        const ownWait = Own.get(acquireOptions, "maxWait")
        const problems: Array<ConfigProblem.ConfigProblem> = []
        // A negative number is a deadline already past (a caller's budget spent): no wait, not a mistake.
        const callWait = typeof ownWait === "number" && ownWait < 0
          ? 0
          : Own.checkedMillis(ownWait, maxWaitMillis, "acquire.maxWait", problems)
        if (problems.length > 0) return Effect.fail(Policy.PolicyError.fromProblems("(none)", problems))
        const wait = Math.min(maxWaitMillis, callWait)
        const deadline = started + wait
        let program: Effect.Effect<void, RateLimitExceededError | RateLimiterUnavailableError, Scope.Scope> =
          counted.length === 0 ? Effect.void : book(acquireOptions, key, series, deadline)
        for (let i = concurrent.length - 1; i >= 0; i--) {
          program = Effect.andThen(takeLease(concurrent[i]!, acquireOptions, key, series, deadline), program)
        }
        return Effect.flatMap(program, () =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const waitedMillis = now - started
            return Effect.as(
              Effect.andThen(
                series.acquired(failover.degraded(now) ? "fallback" : "granted"),
                series.waited(waitedMillis)
              ),
              { key, waitedMillis }
            )
          }))
      })

    const hold = Effect.fn("RateLimiter.hold")(function*(key: string, duration: DurationInput.Input) {
      const millis = DurationInput.fromInput(duration)
      if (millis === undefined) {
        return yield* Effect.fail(
          Policy.PolicyError.fromProblems("(none)", [DurationInput.problem("hold.duration", duration)])
        )
      }
      // Every store can keep a hold as long as a policy's longest window; beyond that Redis refuses the expiry.
      if (millis > Policy.maxWindowMillis) {
        return yield* Effect.fail(Policy.PolicyError.fromProblems("(none)", [{
          setting: "hold.duration",
          received: `${millis} ms`,
          expected: "a duration of at most 365 days"
        }]))
      }
      yield* failover.run((target) => target.block(key, millis))
      yield* metrics.custom().held("manual", millis)
    })

    const observe = (observed: ObserveOptions): Effect.Effect<void> => {
      if (maxHold === 0) return Effect.void
      return Effect.suspend(() => {
        // Headers carry wall-clock times (HTTP-dates, epoch resets); the hold is relative.
        const headers = Own.get(observed, "headers")
        const feedback = ServerFeedback.parse(headers ?? {}, { now: Date.now() })
        const millis = ServerFeedback.holdOff(feedback, {
          status: Own.get(observed, "status") ?? 0,
          maxMillis: maxHold,
          tokens: Own.get(observed, "tokens")
        })
        if (millis === undefined || millis <= 0) return Effect.void
        const key = requestKey(observed, "host")
        const reason: Metrics.HoldReason = Own.get(observed, "status") !== 429
          ? "budget_exhausted"
          : Own.get(feedback, "retryAfterMillis") === undefined
          ? "too_many_requests"
          : "retry_after"
        return failover.run((target) => target.block(key, millis)).pipe(
          Effect.andThen(metrics.of(observed, key).held(reason, millis)),
          Effect.catch((error) => Effect.logWarning(`rate limiter could not record server feedback: ${error.detail}`))
        )
      })
    }

    return {
      acquire,
      withPermit: dual(
        (args) => Effect.isEffect(args[0]),
        <A, E, R>(effect: Effect.Effect<A, E, R>, acquireOptions?: AcquireOptions) =>
          // Without concurrency policies nothing is held, so no scope is needed.
          (concurrent.length === 0
            ? Effect.andThen(
              acquire(acquireOptions) as Effect.Effect<
                Permit,
                RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError
              >,
              effect
            )
            : Effect.scoped(Effect.andThen(acquire(acquireOptions), effect))) as Effect.Effect<
              A,
              E | RateLimitExceededError | RateLimiterUnavailableError | Policy.PolicyError,
              R
            >
      ),
      observe,
      hold,
      policies
    } satisfies Service
  })
}

/**
 * The limiter as a layer, on the `LimiterStore` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<RateLimiter, Policy.PolicyError, LimiterStore.LimiterStore> =>
  Layer.effect(RateLimiter, make(options))

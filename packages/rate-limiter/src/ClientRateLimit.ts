/**
 * Plugs a `RateLimiter` into `ResilientClient` at the place its pipeline
 * keeps for it.
 *
 * Every attempt (the first and each retry) waits for a slot before it is
 * sent, keyed by the URL's host unless the call gives its own key
 * (`rateLimit: { key }`); its token cost is `rateLimit: { tokens }`. The wait
 * never outlasts the call's total deadline, and it is not counted against the
 * attempt's own timeout. Every response is fed back (`RateLimiter.observe`),
 * so a 429 or an empty budget holds every caller of the key, in every process
 * sharing the store. The limiter's refusals (`RateLimitExceededError`,
 * `RateLimiterUnavailableError`) are never retried by the client and never
 * count against the host in the circuit breaker.
 *
 * A slot is only worth having if the request still has time to run: the
 * wait leaves the request `requestRoom` of what is left of the deadline (a
 * quarter of it, at least 100 ms). A slot that would come later than that is
 * refused at once with `RateLimitExceededError` (no request is sent, nothing
 * counts against the host), instead of being granted at the deadline's end
 * and failing as a `TimeoutError` that the breaker would count.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { ResilientClient } from "@httpkit/client"
 * import { ClientRateLimit, LimiterStore, Policy, RateLimiter } from "@httpkit/rate-limiter"
 *
 * const Client = ResilientClient.layer({ baseUrl: "http://127.0.0.1:8080" }).pipe(
 *   Layer.provide(ClientRateLimit.layer),
 *   Layer.provide(RateLimiter.layer({ policies: [Policy.rate({ limit: 20, window: "1 second" })] })),
 *   Layer.provide(LimiterStore.layerMemory())
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as RateLimitHook from "@httpkit/client/RateLimitHook"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Own from "./internal/own.ts"
import * as RateLimiter from "./RateLimiter.ts"

/**
 * How much of what is left of a call's deadline the wait for a slot leaves
 * the request itself: `share` of it, and at least `minMillis`. With a total
 * deadline of 1 second, a slot must come within 750 ms; with 300 ms left,
 * within 200 ms; with 100 ms or less left, only a slot free now is taken.
 *
 * @category constants
 * @since 0.1.0
 */
export const requestRoom = { share: 0.25, minMillis: 100 } as const

/** The longest the limiter may wait with `leftMillis` of the call's deadline left: the rest is the request's. */
const waitBudget = (leftMillis: number): number =>
  Math.max(0, leftMillis - Math.max(requestRoom.minMillis, leftMillis * requestRoom.share))

/**
 * The client's rate-limit hook (`RateLimitHook`) for a limiter.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hook = (limiter: RateLimiter.Service): RateLimitHook.RateLimitHook => ({
  // Every field read by own key, so a polluted `Object.prototype` cannot supply a missing one.
  around: (request, attempt) => {
    // What is left of the call's deadline, less the request's room (`requestRoom`): spent (negative) is no
    // wait, a number that is not finite is no bound.
    const left = Own.get(request, "maxWaitMillis")
    return limiter.withPermit({
      key: Own.get(request, "key"),
      url: Own.get(request, "url"),
      tokens: Own.get(request, "tokens"),
      maxWait: typeof left === "number" && Number.isFinite(left) ? waitBudget(left) : undefined,
      call: Own.get(request, "context")
    })(attempt).pipe(
      // A finite number of at least 0 is always a duration, so this wait cannot be refused.
      Effect.catchTag("PolicyError", (error) => Effect.die(error))
    )
  },
  observe: (request, response) =>
    limiter.observe({
      key: Own.get(request, "key"),
      url: Own.get(request, "url"),
      tokens: Own.get(request, "tokens"),
      status: Own.get(response, "status") ?? 0,
      headers: Own.get(response, "headers") ?? {}
    })
})

/**
 * Provides the client's `RateLimitHook.RateLimit` (also `ResilientClient.RateLimit`) from the `RateLimiter` in context:
 * give it to a `ResilientClient` layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = Layer.effect(RateLimitHook.RateLimit, Effect.map(RateLimiter.RateLimiter, hook))

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
 * The client's rate-limit hook (`RateLimitHook`) for a limiter.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hook = (limiter: RateLimiter.Service): RateLimitHook.RateLimitHook => ({
  // Every field read by own key, so a polluted `Object.prototype` cannot supply a missing one.
  around: (request, attempt) => {
    // What is left of the call's deadline: spent (negative) is no wait, a number that is not finite is no bound.
    const left = Own.get(request, "maxWaitMillis")
    return limiter.withPermit({
      key: Own.get(request, "key"),
      url: Own.get(request, "url"),
      tokens: Own.get(request, "tokens"),
      maxWait: typeof left === "number" && Number.isFinite(left) ? Math.max(0, left) : undefined,
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

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
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "./RateLimiter.ts"

type Hook = NonNullable<typeof ResilientClient.RateLimit.Service>

/**
 * The pipeline hook for a limiter.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hook = (limiter: RateLimiter.Service): Hook => ({
  around: (request, attempt) =>
    limiter.withPermit({
      key: request.key,
      url: request.url,
      tokens: request.tokens,
      maxWait: request.maxWaitMillis,
      call: request.context
    })(attempt),
  observe: (request, response) =>
    limiter.observe({
      key: request.key,
      url: request.url,
      tokens: request.tokens,
      status: response.status,
      headers: response.headers
    })
})

/**
 * Provides `ResilientClient.RateLimit` from the `RateLimiter` in context:
 * give it to a `ResilientClient` layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = Layer.effect(ResilientClient.RateLimit, Effect.map(RateLimiter.RateLimiter, hook))

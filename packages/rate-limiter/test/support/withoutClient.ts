/**
 * A child program for `Standalone.test.ts`: it makes `@httpkit/client` (and
 * every subpath of it) unresolvable, as in an app that never installed it,
 * then imports `@httpkit/rate-limiter` by its package name and runs a limit
 * on the memory store. It prints one JSON line: what it could import and how
 * many permits the limit granted in a burst.
 */
import { registerHooks } from "node:module"

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "@httpkit/client" || specifier.startsWith("@httpkit/client/")) {
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), { code: "ERR_MODULE_NOT_FOUND" })
    }
    return nextResolve(specifier, context)
  }
})

const { LimiterStore, Policy, RateLimiter, RateLimitExceededError } = await import("@httpkit/rate-limiter")
const { Effect, Layer } = await import("effect")

const adapter = await import("@httpkit/rate-limiter/ClientRateLimit").then(
  () => "loaded",
  (error: unknown) => String((error as { readonly code?: unknown }).code)
)

const Limiter = RateLimiter.layer({
  policies: [Policy.window({ limit: 3, window: "1 minute", keyBy: "global" })],
  onLimit: "fail"
}).pipe(Layer.provide(LimiterStore.layerMemory()))

const outcomes = await Effect.runPromise(
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const one = limiter.withPermit({ key: "jobs" })(Effect.succeed("granted"))
    return yield* Effect.forEach(
      [1, 2, 3, 4],
      () => one.pipe(Effect.catchTag("RateLimitExceededError", (error) => Effect.succeed(error._tag)))
    )
  }).pipe(Effect.provide(Limiter))
)

console.log(
  JSON.stringify({
    adapter,
    outcomes,
    errorTag: new RateLimitExceededError({ key: "k", policy: "p", retryAfterMillis: 1, retryable: true })._tag
  })
)

/**
 * A child program for `Standalone.test.ts`: it makes the optional peers
 * `@httpkit/client`, `redis` (with node-redis's `@redis/*` packages) and
 * `@effect/platform-node` unresolvable, every subpath too, as in an app that
 * installed none of them, then imports `@httpkit/rate-limiter` by its package
 * name and runs a limit on the memory store. It prints one JSON line: what it
 * could import, how many permits the limit granted in a burst, and every
 * hidden specifier something asked for.
 */
import { registerHooks } from "node:module"

/** Whether `specifier` names `name` or one of its subpaths. */
const within = (specifier: string, name: string) => specifier === name || specifier.startsWith(`${name}/`)

const hidden = (specifier: string) =>
  within(specifier, "@httpkit/client") || within(specifier, "redis") || specifier.startsWith("@redis/") ||
  within(specifier, "@effect/platform-node")

/** The hidden specifiers something tried to import, in order. */
const refused: Array<string> = []

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (hidden(specifier)) {
      refused.push(specifier)
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), { code: "ERR_MODULE_NOT_FOUND" })
    }
    return nextResolve(specifier, context)
  }
})

const { LimiterStore, Policy, RateLimiter, RateLimitExceededError } = await import("@httpkit/rate-limiter")
const { Effect, Layer } = await import("effect")
/** What the root's import asked for of the hidden peers: nothing. */
const refusedByRoot = [...refused]

/** How an import ends: `loaded`, or the error's code. */
const outcome = (load: Promise<unknown>) =>
  load.then(() => "loaded", (error: unknown) => String((error as { readonly code?: unknown }).code))

const adapter = await outcome(import("@httpkit/rate-limiter/ClientRateLimit"))
const redisStore = await outcome(import("@httpkit/rate-limiter/RedisStore"))

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
    refusedByRoot,
    adapter,
    redisStore,
    outcomes,
    errorTag: new RateLimitExceededError({ key: "k", policy: "p", retryAfterMillis: 1, retryable: true })._tag
  })
)

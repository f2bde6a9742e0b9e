/**
 * A `LimiterStore` of the user's own whose methods return something other
 * than an effect (`undefined`, a number, the Promise of an `async` method).
 * Effect 4.1 ends a fiber that runs such a value past every handler and
 * finalizer; the limiter now calls each store method through `UserHook`: the
 * acquisition dies with `HookReturnError` naming the method, which the
 * caller's `catchCause` sees, and a method that throws is a defect as before.
 */
import { assert, describe, it } from "@effect/vitest"
import * as UserHook from "@httpkit/core/UserHook"
import { Cause, Effect } from "effect"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"

const returns = [
  { name: "undefined", value: (): unknown => undefined, described: "undefined" },
  { name: "a number", value: (): unknown => 42, described: "a number" },
  { name: "a Promise", value: (): unknown => Promise.resolve(), described: "a Promise (an async function?)" }
] as const

/** What `catchCause` around `effect` saw (squashed), bounded so a dead fiber fails here, not at vitest's timeout. */
const seenByCatchCause = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(
    Effect.catchCause(Effect.as(effect, "ok" as unknown), (cause) => Effect.succeed(Cause.squash(cause))),
    { duration: "30 seconds", orElse: () => Effect.die(new Error("the acquisition did not end within 30 s")) }
  )

/** A memory store with `method` replaced by `broken`. */
const storeWith = (method: "reserve" | "lease", broken: () => unknown) =>
  Effect.map(LimiterStore.makeMemory(), (store): LimiterStore.Store => ({ ...store, [method]: broken as never }))

describe("a LimiterStore whose methods return no effect", () => {
  for (const bad of returns) {
    for (
      const [method, policy] of [
        ["reserve", Policy.rate({ limit: 10, window: "1 second" })],
        ["lease", Policy.concurrency({ max: 2 })]
      ] as const
    ) {
      it.live(`${method} returning ${bad.name}: the acquisition dies with HookReturnError (LimiterStore.${method}) that catchCause sees`, () =>
        Effect.gen(function*() {
          const store = yield* storeWith(method, bad.value)
          const limiter = yield* RateLimiter.make({ policies: [policy] }).pipe(
            Effect.provideService(LimiterStore.LimiterStore, store)
          )
          const seen = yield* seenByCatchCause(Effect.scoped(limiter.acquire({ url: "http://a.test/x" })))
          assert.instanceOf(seen, UserHook.HookReturnError, String(seen))
          assert.strictEqual((seen as UserHook.HookReturnError).hook, `LimiterStore.${method}`)
          assert.strictEqual((seen as UserHook.HookReturnError).received, bad.described)
        }))
    }
  }

  it.live("a store method that throws is a defect holding what it threw, as before; a sound store still limits", () =>
    Effect.gen(function*() {
      const thrown = new TypeError("boom")
      const store = yield* storeWith("reserve", () => {
        throw thrown
      })
      const limiter = yield* RateLimiter.make({ policies: [Policy.rate({ limit: 10, window: "1 second" })] }).pipe(
        Effect.provideService(LimiterStore.LimiterStore, store)
      )
      assert.strictEqual(yield* seenByCatchCause(Effect.scoped(limiter.acquire({ url: "http://a.test/x" }))), thrown)
      const sound = yield* RateLimiter.make({ policies: [Policy.window({ limit: 1, window: "1 minute" })] }).pipe(
        Effect.provide(LimiterStore.layerMemory())
      )
      yield* Effect.scoped(sound.acquire({ url: "http://a.test/x", maxWait: 0 }))
      const refused = yield* Effect.flip(Effect.scoped(sound.acquire({ url: "http://a.test/x", maxWait: 0 })))
      assert.strictEqual(refused._tag, "RateLimitExceededError")
    }))
})

/**
 * Small helpers the store tests share: items, one fail-fast reservation, a
 * limiter on a store, a live sleep, real time measured, a retry until an
 * effect succeeds, and the busiest span of admission times.
 */
import { assert } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as LimiterStore from "../../src/LimiterStore.ts"
import * as RateLimiter from "../../src/RateLimiter.ts"

/** A sliding-window item. */
export const windowItem = (id: string, limit: number, windowMillis: number, cost = 1): LimiterStore.Item => ({
  id,
  kind: "window",
  limit,
  windowMillis,
  burst: 1,
  cost
})

/** A rate (GCRA) item. */
export const rateItem = (id: string, limit: number, windowMillis: number, burst = 1, cost = 1): LimiterStore.Item => ({
  id,
  kind: "rate",
  limit,
  windowMillis,
  burst,
  cost
})

/** One reservation that fails fast (`maxWaitMillis: 0`). */
export const take = (store: LimiterStore.Store, item: LimiterStore.Item, blockKey?: string) =>
  store.reserve({ items: [item], blockKey, maxWaitMillis: 0 })

/** A limiter of `options` on `store`. */
export const limiterOn = (store: LimiterStore.Store, options: RateLimiter.Options) =>
  RateLimiter.make(options).pipe(Effect.provideService(LimiterStore.LimiterStore, store))

/** Runs `effect` and says how long it took in real milliseconds. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const result = yield* effect
    return [performance.now() - start, result] as const
  })

/** Retries `effect` every 100 ms (real time) until it succeeds, for at most `withinMillis`; returns its value. */
export const eventually = <A, E>(effect: Effect.Effect<A, E>, withinMillis: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    let last: unknown
    while (performance.now() - start < withinMillis) {
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit)) return exit.value
      last = exit.cause
      yield* sleepLive(100)
    }
    return assert.fail(`still failing after ${withinMillis} ms: ${String(last)}`)
  })

/** Real time passes, whatever clock the test runs on (stores that keep real time do not follow `TestClock`). */
export const sleepLive = (millis: number) =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** The largest number of `times` (sorted) inside any span `[t, t + spanMillis)`. */
export const busiestSpan = (times: ReadonlyArray<number>, spanMillis: number): number => {
  let busiest = 0
  let end = 0
  for (let start = 0; start < times.length; start++) {
    while (end < times.length && times[end]! < times[start]! + spanMillis) end++
    busiest = Math.max(busiest, end - start)
  }
  return busiest
}

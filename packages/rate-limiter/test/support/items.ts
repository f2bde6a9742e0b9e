/**
 * Small helpers the store tests share: items, one fail-fast reservation, a
 * live sleep, and the busiest span of admission times.
 */
import { Effect } from "effect"
import type * as LimiterStore from "../../src/LimiterStore.ts"

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

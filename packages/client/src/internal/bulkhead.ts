/**
 * A bulkhead: at most `maxConcurrency` calls in flight, a bounded wait for a
 * slot, then `BulkheadFullError`. Optionally one bulkhead per key (origin),
 * with the number of keys held bounded.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { BulkheadFullError } from "../ClientError.ts"
import type { ErrorContext } from "./failure.ts"

/** Most per-key bulkheads kept; idle ones beyond this are dropped. */
const maxKeys = 10_000

export interface Bulkhead {
  readonly run: <A, E, R>(
    key: string,
    context: ErrorContext,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | BulkheadFullError, R>
}

export const make = (maxConcurrency: number, acquireTimeoutMillis: number, perKey: boolean): Bulkhead => {
  const shared = Semaphore.makeUnsafe(maxConcurrency)
  const byKey = new Map<string, Semaphore.Semaphore>()
  const semaphoreFor = (key: string): Semaphore.Semaphore => {
    if (!perKey) return shared
    let semaphore = byKey.get(key)
    if (semaphore === undefined) {
      if (byKey.size >= maxKeys) {
        const oldest = byKey.keys().next()
        if (!oldest.done) byKey.delete(oldest.value)
      }
      semaphore = Semaphore.makeUnsafe(maxConcurrency)
      byKey.set(key, semaphore)
    }
    return semaphore
  }
  return {
    run: (key, context, effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const semaphore = semaphoreFor(key)
          const started = yield* Clock.currentTimeMillis
          const acquired = (yield* semaphore.takeIfAvailable(1)) || (yield* restore(
            semaphore.take(1).pipe(
              Effect.as(true),
              Effect.timeoutOrElse({ duration: acquireTimeoutMillis, orElse: () => Effect.succeed(false) })
            )
          ))
          if (!acquired) {
            const now = yield* Clock.currentTimeMillis
            return yield* new BulkheadFullError({
              ...context,
              retryable: true,
              maxConcurrency,
              waitedMillis: now - started
            })
          }
          return yield* Effect.ensuring(restore(effect), semaphore.release(1))
        })
      )
  }
}

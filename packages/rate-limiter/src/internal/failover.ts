/**
 * The limiter's policy for a failing store: every call to a store that does
 * not bound its own calls gets a deadline; with a fallback, a failure sends
 * calls to the fallback (limits shared out) for `retryStoreAfter` counted from
 * the failure (so a call that waited out its deadline leaves the whole span),
 * with one warning, and the store is tried again after that, with a line when
 * it is back.
 */
import { RateLimiterUnavailableError } from "@httpkit/core/RateLimitError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as LimiterStore from "../LimiterStore.ts"
import * as Own from "./own.ts"

/** Where a limiter's store calls go. */
export interface Failover {
  /** Runs `operation` on the store, or on the fallback while the store is failing; tells which answered. */
  readonly run: <A>(
    operation: (target: LimiterStore.Store, scale: number) => Effect.Effect<A, RateLimiterUnavailableError>
  ) => Effect.Effect<readonly [A, LimiterStore.Store], RateLimiterUnavailableError>
  /** Whether calls go to the fallback at `now`. */
  readonly degraded: (now: number) => boolean
}

/** What a failover is made of. */
export interface FailoverOptions {
  readonly store: LimiterStore.Store
  /** The local store to fall back to; none fails closed. */
  readonly fallback: LimiterStore.Store | undefined
  /** Each limit is divided by this in the fallback. */
  readonly share: number
  readonly retryStoreAfterMillis: number
  /** The deadline of each call to a store that does not bound its own. */
  readonly storeTimeoutMillis: number
}

/** Makes the failover for one limiter. */
export const make = (options: FailoverOptions): Failover => {
  const { fallback, share, store } = options
  /** Until when calls go to the fallback without trying the store. */
  let degradedUntil = 0

  // Stores that bound their own calls (ours all do) need no second timer. Read by own key: an inherited
  // `selfBounded` must not take the bound off a store that has none.
  const selfBounded = Own.get(store, "selfBounded") === true
  const bounded = <A>(
    effect: Effect.Effect<A, RateLimiterUnavailableError>
  ): Effect.Effect<A, RateLimiterUnavailableError> =>
    selfBounded ? effect : Effect.timeoutOrElse(effect, {
      duration: options.storeTimeoutMillis,
      orElse: () =>
        Effect.fail(
          new RateLimiterUnavailableError(Own.bare({
            backend: store.backend,
            retryable: true,
            detail: `no answer within ${options.storeTimeoutMillis} ms`
          }))
        )
    })

  const run: Failover["run"] = (operation) => {
    if (fallback === undefined || store === fallback) {
      return Effect.map(bounded(operation(store, 1)), (a) => [a, store] as const)
    }
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now < degradedUntil) return Effect.map(operation(fallback, share), (a) => [a, fallback] as const)
      const wasDegraded = degradedUntil > 0
      return bounded(operation(store, 1)).pipe(
        Effect.tap(() => {
          if (!wasDegraded) return Effect.void
          degradedUntil = 0
          return Effect.logInfo(`rate limiter store ${store.backend} is back; the shared limit applies again`)
        }),
        Effect.map((a) => [a, store] as const),
        Effect.catch((error) =>
          // A memory store fails only when full of live limits: a refusal of a new key, not an outage. The
          // fallback's fresh state would forget every limit, so the refusal stands.
          error.backend === "memory" ? Effect.fail(error) : Effect.gen(function*() {
            const first = degradedUntil === 0
            // From the failure, not from when the call started: a call that waited out `storeTimeout` for a
            // silent store would leave none of `retryStoreAfter`, and every call would wait for the store again.
            degradedUntil = (yield* Clock.currentTimeMillis) + options.retryStoreAfterMillis
            if (first) {
              yield* Effect.logWarning(
                `rate limiter store ${store.backend} unavailable (${error.detail}); using a local limit ` +
                  `(each limit / ${share}) until it returns`
              )
            }
            return [yield* operation(fallback, share), fallback] as const
          })
        )
      )
    })
  }

  return { run, degraded: (now) => now < degradedUntil }
}

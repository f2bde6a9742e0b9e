/**
 * A bulkhead: at most `maxConcurrency` calls in flight, at most `maxWaiting`
 * calls waiting for a slot (one more fails at once with `BulkheadFullError`
 * `reason: "queue-full"`: RELIABILITY 13), a bounded wait for a slot (of
 * responsive time: a slot freed while the event loop was stalled is taken),
 * then `BulkheadFullError` `reason: "wait-timeout"`. Both say when a slot is
 * likely to free (`slotHolds.ts`). Optionally one bulkhead per key (origin),
 * with the number of keys held bounded. Each refusal is reported to
 * `onRejected` (the metrics), with the call's context and redacted URL.
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { BulkheadFullError } from "../ClientError.ts"
import * as Deadline from "./deadline.ts"
import type { ErrorContext } from "./failure.ts"
import { SlotHolds } from "./slotHolds.ts"

/** Most per-key bulkheads kept; idle ones beyond this are dropped. */
const maxKeys = 10_000

/** One bulkhead, with the calls that hold or wait for it (so that a busy one is never dropped), and its holds. */
interface Slot {
  readonly semaphore: Semaphore.Semaphore
  readonly holds: SlotHolds
  users: number
  /** Calls waiting for a permit now. */
  waiting: number
}

/** `maxWaiting` when not given: this many times `maxConcurrency`. */
export const defaultMaxWaitingFactor = 10

export interface Bulkhead {
  readonly run: <A, E, R>(
    key: string,
    context: ErrorContext,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | BulkheadFullError, R>
}

/** Told of every call the bulkhead refused: the refused call's fiber context and (redacted) URL. */
export type OnRejected = (context: Context.Context<never>, url: string) => void

export const make = (
  maxConcurrency: number,
  acquireTimeoutMillis: number,
  perKey: boolean,
  onRejected: OnRejected = () => {},
  maxWaiting: number = defaultMaxWaitingFactor * maxConcurrency
): Bulkhead => {
  const newSlot = (): Slot => ({
    semaphore: Semaphore.makeUnsafe(maxConcurrency),
    holds: new SlotHolds(),
    users: 0,
    waiting: 0
  })
  const shared: Slot = newSlot()
  const byKey = new Map<string, Slot>()
  /** The slot of `key`, counted as used until `leave`. Only idle keys are dropped, so a busy key keeps its limit. */
  const enter = (key: string): Slot => {
    if (!perKey) return shared
    let slot = byKey.get(key)
    if (slot === undefined) {
      if (byKey.size >= maxKeys) {
        for (const [candidate, held] of byKey) {
          if (held.users === 0) {
            byKey.delete(candidate)
            break
          }
        }
      }
      slot = newSlot()
      byKey.set(key, slot)
    }
    slot.users += 1
    return slot
  }
  const leave = (slot: Slot) =>
    Effect.sync(() => {
      slot.users -= 1
    })
  return {
    run: (key, context, effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const slot = enter(key)
          const { semaphore, holds } = slot
          return Effect.gen(function*() {
            const started = yield* Clock.currentTimeMillis
            const atOnce = yield* semaphore.takeIfAvailable(1)
            // The queue is bounded too (RELIABILITY 13): past `maxWaiting` a call is refused without waiting.
            const queueFull = !atOnce && slot.waiting >= maxWaiting
            if (!atOnce && !queueFull) slot.waiting += 1
            // The wait counts responsive time: a slot freed while the event loop was stalled is taken.
            const acquired = atOnce || (!queueFull && (yield* restore(
              Deadline.timeoutOrElse(
                Effect.as(semaphore.take(1), true),
                acquireTimeoutMillis,
                () => Effect.succeed(false)
              )
            ).pipe(Effect.ensuring(Effect.sync(() => {
              slot.waiting -= 1
            })))))
            if (!acquired) {
              const now = yield* Clock.currentTimeMillis
              onRejected(yield* Effect.context<never>(), context.url)
              const retryAfterMillis = holds.retryAfter(now)
              return yield* new BulkheadFullError({
                ...context,
                retryable: true,
                reason: queueFull ? "queue-full" : "wait-timeout",
                maxConcurrency,
                waitedMillis: now - started,
                ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
              })
            }
            const place = holds.begin(atOnce ? started : yield* Clock.currentTimeMillis)
            return yield* Effect.ensuring(
              restore(effect),
              Effect.clockWith((clock) => {
                holds.end(place, clock.currentTimeMillisUnsafe())
                return semaphore.release(1)
              })
            )
          }).pipe(Effect.ensuring(leave(slot)))
        })
      )
  }
}

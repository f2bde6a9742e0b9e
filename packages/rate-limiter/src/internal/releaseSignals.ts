/**
 * Wakes this process's waiters for a concurrency slot when a slot of the same
 * id is given back here (waiters on other processes find out by polling).
 *
 * An id has an entry only while someone waits on it: the last waiter to leave
 * (woken, timed out, interrupted) deletes it, so ids whose slots were freed by
 * another process leave nothing behind (RELIABILITY 13).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

/** The waiters of one id. */
interface Waiting {
  readonly signal: Deferred.Deferred<void>
  waiters: number
}

/** The release signals of one limiter. */
export interface ReleaseSignals {
  /** Waits up to `millis`, or until a slot of `id` is given back here, whichever comes first. */
  readonly wait: (id: string, millis: number) => Effect.Effect<void>
  /** Wakes every waiter of `id`. */
  readonly announce: (id: string) => Effect.Effect<void>
  /** How many ids have waiters now. */
  readonly size: () => number
}

/** Makes the release signals of one limiter. */
export const make = (): ReleaseSignals => {
  const waiting = new Map<string, Waiting>()
  return {
    wait: (id, millis) =>
      Effect.suspend(() => {
        let entry = waiting.get(id)
        if (entry === undefined) {
          entry = { signal: Deferred.makeUnsafe<void>(), waiters: 0 }
          waiting.set(id, entry)
        }
        const joined = entry
        joined.waiters++
        return Effect.ensuring(
          Effect.raceFirst(Effect.sleep(millis), Deferred.await(joined.signal)),
          Effect.sync(() => {
            if (--joined.waiters === 0 && waiting.get(id) === joined) waiting.delete(id)
          })
        )
      }),
    announce: (id) =>
      Effect.suspend(() => {
        const entry = waiting.get(id)
        if (entry === undefined) return Effect.void
        waiting.delete(id)
        return Deferred.succeed(entry.signal, undefined)
      }),
    size: () => waiting.size
  }
}

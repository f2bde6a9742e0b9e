/**
 * Callbacks that observe work (a batch's, a queue's workers'): one that
 * throws changes nothing in the work. Each throw is counted by callback and
 * reported once, as one warning per callback, when the work ends.
 *
 * - `plain` guards a callback that returns nothing (`onProgress`): a throw is
 *   caught where it is called.
 * - `effect` guards a hook that returns an `Effect` (a queue's `onStart`,
 *   `onError`): a throw when it is called, a defect or a failure of the
 *   effect it returns is counted the same way; an interruption is not a
 *   throw and goes on.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

/** The throws of a set of callbacks, and the guards that count them. */
export interface Observers {
  readonly plain: <Args extends Array<any>>(
    which: string,
    callback: ((...args: Args) => void) | undefined
  ) => ((...args: Args) => void) | undefined
  readonly effect: <Args extends Array<any>, R>(
    which: string,
    hook: ((...args: Args) => Effect.Effect<void, unknown, R>) | undefined
  ) => ((...args: Args) => Effect.Effect<void, never, R>) | undefined
  /** One warning per callback that threw, `<what>: <which> threw <name> <n> time(s); <after>`. */
  readonly warn: (what: string, after: string) => Effect.Effect<void>
}

const nameOf = (error: unknown): string => error instanceof Error ? error.name : typeof error

/** Guards with no throws counted yet. */
export const make = (): Observers => {
  const thrown = new Map<string, { count: number; readonly name: string }>()
  const count = (which: string, error: unknown) => {
    const seen = thrown.get(which)
    if (seen === undefined) thrown.set(which, { count: 1, name: nameOf(error) })
    else seen.count++
  }
  return {
    plain: (which, callback) =>
      callback === undefined ? undefined : (...args) => {
        try {
          callback(...args)
        } catch (error) {
          count(which, error)
        }
      },
    effect: (which, hook) =>
      hook === undefined ? undefined : (...args) =>
        Effect.suspend(() => hook(...args)).pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.failCause(cause as Cause.Cause<never>)
              : Effect.sync(() => count(which, Cause.squash(cause)))
          )
        ),
    warn: (what, after) =>
      Effect.suspend(() =>
        Effect.forEach(
          [...thrown],
          ([which, { count, name }]) => Effect.logWarning(`${what}: ${which} threw ${name} ${count} time(s); ${after}`),
          { discard: true }
        )
      )
  }
}

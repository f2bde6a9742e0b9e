/**
 * Callbacks that observe work (a batch's, a queue's workers'): one that
 * throws changes nothing in the work. Each throw is counted by callback and
 * reported once, as one warning per callback, when the work ends.
 *
 * - `plain` guards a callback that returns nothing (`onProgress`): a throw is
 *   caught where it is called; a Promise it returns (an `async` callback) is
 *   not awaited, and its rejection is counted as a throw, never left
 *   unhandled.
 * - `effect` guards a hook that returns an `Effect` (a queue's `onStart`,
 *   `onError`): a throw when it is called, a return that is not an effect
 *   (`undefined`, a number, a Promise: `UserHook.HookReturnError`), a defect
 *   or a failure of the effect it returns is counted the same way; an
 *   interruption is not a throw and goes on.
 */
import * as UserHook from "@httpkit/core/UserHook"
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
  /**
   * One warning per callback that threw, `<what>: <which> threw <name> <n> time(s); <after>` (for a hook that
   * returned no effect, `onStart threw HookReturnError (returned undefined, not an Effect) 1 time(s); ...`).
   */
  readonly warn: (what: string, after: string) => Effect.Effect<void>
}

const nameOf = (error: unknown): string =>
  error instanceof UserHook.HookReturnError
    ? `HookReturnError (returned ${error.received}, not an Effect)`
    : error instanceof Error
    ? error.name
    : typeof error

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
          const returned: unknown = callback(...args)
          if (UserHook.isThenable(returned)) {
            Promise.resolve(returned).then(undefined, (error: unknown) => count(which, error))
          }
        } catch (error) {
          count(which, error)
        }
      },
    effect: (which, hook) =>
      hook === undefined ? undefined : (...args) =>
        UserHook.call(which, hook, ...args).pipe(
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

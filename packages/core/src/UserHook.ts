/**
 * Calling a function the user supplies where an `Effect` is expected (a
 * queue's `onStart`, a refresh hook, a rate limiter's `around`), so that
 * whatever it does ends up in the cause that the caller's `catchCause` sees.
 *
 * ```ts
 * import * as UserHook from "@httpkit/core/UserHook"
 *
 * // `onStart` is typed to return an Effect; a JavaScript caller, an `as any`
 * // or an `async` function can still hand back `undefined` or a Promise
 * const started = UserHook.call("onStart", onStart, task, attempt)
 * ```
 *
 * **Details**
 *
 * - A throw when the function is called becomes a defect holding what was
 *   thrown, as `Effect.suspend` does.
 * - A return that is not an `Effect` (`undefined`, a number, a Promise)
 *   becomes a defect `HookReturnError` naming the hook and what it returned.
 * - A Promise returned instead of an effect gets a rejection handler, so an
 *   `async` hook that throws is a defect here, never an unhandled rejection
 *   that ends the process.
 *
 * **Gotchas**
 *
 * - Effect 4.1's fiber loop ends the whole fiber when it meets a value that
 *   is not an effect (`Effect.suspend(() => undefined)`, `Effect.flatMap(x,
 *   () => 42)`): "Fiber.runLoop: Not a valid effect", a defect that no
 *   `catchCause`, `exit` or `ensuring` around it sees, so slots, locks and
 *   leases held by the code around it are never released. Every user
 *   function whose result is run as an effect goes through this module.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Own from "./Own.ts"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * A user function expected to return an `Effect` returned something else
 * (raised as a defect: the function broke its contract). `received` says
 * what came back: `undefined`, `a number`, `a Promise (an async function?)`.
 *
 * @category errors
 * @since 0.1.0
 */
export class HookReturnError extends Own.fields(
  Schema.TaggedError<HookReturnError>()("HookReturnError", {
    /** The option or method, such as `onStart` or `RateLimit.around`. */
    hook: Schema.String,
    /** What it returned, described without its content. */
    received: Schema.String
  })
) {
  override get message(): string {
    return `${this.hook} returned ${this.received} where an Effect was expected`
  }
}

// -----------------------------------------------------------------------------
// predicates
// -----------------------------------------------------------------------------

/**
 * Whether `value` is a thenable (a Promise or anything with a `then` method).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === "object" || typeof value === "function") && value !== null &&
  typeof (value as { readonly then?: unknown }).then === "function"

// -----------------------------------------------------------------------------
// utils
// -----------------------------------------------------------------------------

/**
 * What a value is, for `HookReturnError.received`: its kind, never its
 * content (a hook may return a secret).
 *
 * @category utils
 * @since 0.1.0
 */
export const describe = (value: unknown): string => {
  if (value === undefined) return "undefined"
  if (value === null) return "null"
  if (isThenable(value)) return "a Promise (an async function?)"
  if (typeof value === "function") return "a function"
  if (Array.isArray(value)) return "an array"
  const kind = typeof value
  return kind === "object" ? "an object" : `a ${kind}`
}

/**
 * Marks a thenable's rejection as handled: the hook's result is reported as
 * `HookReturnError`, and its rejection must not end the process.
 *
 * @category utils
 * @since 0.1.0
 */
export const settle = (value: unknown): void => {
  if (!isThenable(value)) return
  try {
    value.then(undefined, () => undefined)
  } catch {
    // a `then` that throws is nobody's rejection
  }
}

/**
 * `value` when it is an `Effect`; otherwise a defect `HookReturnError` for
 * `hook` (a thenable's rejection marked as handled).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromValue = <A, E, R>(hook: string, value: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  if (Effect.isEffect(value)) return value
  settle(value)
  return Effect.die(new HookReturnError({ hook, received: describe(value) }))
}

// -----------------------------------------------------------------------------
// combinators
// -----------------------------------------------------------------------------

/**
 * Calls `f(...args)` when the effect runs. A throw becomes a defect holding
 * what was thrown; a return that is not an `Effect` a defect
 * `HookReturnError` for `hook`. Either is seen by `catchCause` and `exit`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const call = <Args extends ReadonlyArray<unknown>, A, E, R>(
  hook: string,
  f: (...args: Args) => Effect.Effect<A, E, R>,
  ...args: Args
): Effect.Effect<A, E, R> => Effect.suspend(() => fromValue(hook, f(...args)))

/**
 * `f`, guarded: every call goes through `call`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const guard = <Args extends ReadonlyArray<unknown>, A, E, R>(
  hook: string,
  f: (...args: Args) => Effect.Effect<A, E, R>
): (...args: Args) => Effect.Effect<A, E, R> =>
(...args) => call(hook, f, ...args)

/**
 * The retry policy of a call: whether an error may be retried (by its
 * `retryable` flag, the method's idempotency and whether the request can
 * have reached the server: a `ConnectionError` with `sent: false`, a connect
 * timeout, or a `TimeoutError` with `sent: false`), how long to wait (the client's backoff or the
 * user's `Schedule`, lengthened by the server's `Retry-After` up to a
 * ceiling), and never past the call's deadline.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { Resolved } from "../ClientConfig.ts"
import type { ClientError } from "../ClientError.ts"
import { own } from "./own.ts"

/**
 * Whether `error` may be retried for a call with `method` (upper case),
 * given the methods retried without a key and whether the call carries an
 * idempotency key.
 */
export const mayRetry = (
  error: ClientError,
  method: string,
  idempotentMethods: ReadonlySet<string>,
  hasIdempotencyKey: boolean
): boolean => {
  if (!error.retryable || error._tag === "RateLimitExceededError" || error._tag === "RateLimiterUnavailableError") {
    return false
  }
  if (idempotentMethods.has(method) || hasIdempotencyKey) return true
  // A non-idempotent request without a key: only when it cannot have reached the server (a deadline that ended it
  // while it waited for a connection says so; by own key, as a polluted `Object.prototype.sent` is no answer).
  return (error._tag === "ConnectionError" && !error.sent) ||
    (error._tag === "TimeoutError" && (error.phase === "connect" || own(error, "sent") === false))
}

/** The client's own delay before attempt `attempt + 1`: exponential from `minDelay`, capped, full jitter by default. */
export const backoff = (retry: Resolved["retry"], attempt: number): Effect.Effect<number> => {
  const step = Math.min(retry.maxDelay, retry.minDelay * retry.multiplier ** (attempt - 1))
  return retry.jitter ? Effect.map(Random.next, (r) => Math.floor(r * step)) : Effect.succeed(step)
}

/** The next delay of a user's `Schedule`, in milliseconds, or undefined when it is done. */
export type Stepper = (now: number, input: ClientError) => Effect.Effect<number | undefined, never>

/** Steps a user's retry `Schedule` by hand, so `Retry-After` can lengthen its delays. */
export const makeStepper = (schedule: Schedule.Schedule<unknown, ClientError>): Effect.Effect<Stepper> =>
  Effect.map(Schedule.toStep(schedule), (step) => (now: number, input: ClientError) =>
    step(now, input).pipe(
      Effect.map(([, delay]) => Duration.toMillis(delay)),
      Pull.catchDone(() => Effect.succeed(undefined)),
      Effect.orElseSucceed(() => undefined)
    ))

/**
 * The wait before the next attempt, given the policy's own `delay` and the
 * error's `Retry-After`: the longer of the two; undefined (no retry) when
 * the server asks for more than `retryAfterCeiling` (RELIABILITY 15) or the
 * wait would end past the call's deadline.
 */
export const waitBefore = (
  error: ClientError,
  delay: number,
  retryAfterCeiling: number,
  now: number,
  deadline: number
): number | undefined => {
  // By own key: only errors that carry one have it (a polluted prototype's is not the server's).
  const retryAfter = "retryAfterMillis" in error ? own(error, "retryAfterMillis") : undefined
  let wait = delay
  if (retryAfter !== undefined) {
    if (retryAfter > retryAfterCeiling) return undefined
    wait = Math.max(wait, retryAfter)
  }
  return now + wait >= deadline ? undefined : wait
}

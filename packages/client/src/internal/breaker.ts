/**
 * The circuit breaker's part of a call: how a call's exit counts for its
 * circuit (the remote service's failures count, the caller's mistakes do
 * not), and the call run inside the in-memory breaker or Effect's
 * `CircuitBreaker` over a shared store, its refusals turned into
 * `CircuitOpenError`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import { CircuitOpenError, type ClientError } from "../ClientError.ts"
import type { ErrorContext } from "./failure.ts"
import type * as MemoryBreaker from "./memoryBreaker.ts"
import { findError } from "./outcome.ts"
import { own } from "./own.ts"

/** The breaker a client runs: in memory, or Effect's over a shared store; undefined when disabled. */
export type Breaker =
  | { readonly _tag: "Memory"; readonly breaker: MemoryBreaker.MemoryBreaker }
  | { readonly _tag: "Effect"; readonly breaker: CircuitBreaker.CircuitBreaker }
  | undefined

/** The retry hint given while a half-open circuit's probe runs, at most. */
export const halfOpenRetryMillis = 1_000

/** How a call's outcome counts for the breaker. */
export const outcomeOf = (exit: { readonly _tag: string; readonly cause?: unknown }): MemoryBreaker.Outcome => {
  if (exit._tag === "Success") return "Success"
  const error = findError(exit.cause)
  if (error === undefined) return "Ignored"
  // A resend refused for its body counts as the failure that asked for it.
  if (error._tag === "BodyNotReplayableError") return outcomeOfTag(error.after, undefined)
  // Refused before sending (by the client or the transport): says nothing about the remote service. A 400 does.
  if (error._tag === "InvalidRequestError" && own(error, "status") === undefined) return "Ignored"
  return outcomeOfTag(error._tag, error._tag === "TimeoutError" ? error.phase : undefined)
}

/** How an error, by its tag (and a timeout's phase), counts for the breaker. */
const outcomeOfTag = (tag: string, phase: string | undefined): MemoryBreaker.Outcome => {
  switch (tag) {
    case "ConnectionError":
    case "ServiceUnavailableError":
    case "ServerError":
    case "ServerTimeoutError":
      return "Failure"
    case "TimeoutError":
      // "total" inside the breaker means an attempt was in flight at the deadline (the loop never sleeps past it).
      return phase === "bulkhead" ? "Ignored" : "Failure"
    case "RateLimitedError":
    case "RateLimitExceededError":
    case "RateLimiterUnavailableError":
      return "Ignored"
    default:
      return "Success"
  }
}

const effectOutcomes: Record<MemoryBreaker.Outcome, CircuitBreaker.Outcome> = {
  Success: { _tag: "Success" } as CircuitBreaker.Outcome,
  Ignored: { _tag: "Ignored" } as CircuitBreaker.Outcome,
  Failure: { _tag: "Failure" } as CircuitBreaker.Outcome
}

/** `outcomeOf` as Effect's `CircuitBreaker` takes it. */
const classifyForBreaker = (exit: { readonly _tag: string; readonly cause?: unknown }) =>
  effectOutcomes[outcomeOf(exit)]

/** The refusal of a call whose circuit is open (or half-open with its probe running). */
export const openError = (context: ErrorContext, key: string, retryAfterMillis: number): CircuitOpenError =>
  new CircuitOpenError({ ...context, retryable: true, key, retryAfterMillis })

/**
 * `program` run inside the breaker as a frame of its own: the in-memory one
 * (when it cannot be asked inline, see the pipeline) or Effect's. A store
 * failure of Effect's breaker is a defect: the failover store in front of it
 * (`breakerFailover.ts`) never lets one through.
 */
export const around = <A, E, R>(
  breaker: NonNullable<Breaker>,
  key: string,
  context: ErrorContext,
  openDurationMillis: number,
  program: Effect.Effect<A, E | ClientError, R>
): Effect.Effect<A, E | ClientError, R> => {
  if (breaker._tag === "Memory") {
    return breaker.breaker.execute(
      key,
      program,
      outcomeOf,
      (refusal) => openError(context, key, refusal.retryAfterMillis)
    )
  }
  return breaker.breaker.execute(program, { key, classify: classifyForBreaker }).pipe(
    Effect.catchTag("CircuitBreakerError", (error) => {
      const reason = (error as CircuitBreaker.CircuitBreakerError).reason
      if (reason._tag === "CircuitBreakerStoreError") return Effect.die(error)
      // Half-open: a probe is running and its outcome is known soon, so a short hint.
      return Effect.fail(openError(
        context,
        key,
        reason._tag === "CircuitOpen"
          ? Duration.toMillis(reason.retryAfter)
          : Math.min(openDurationMillis, halfOpenRetryMillis)
      ))
    })
  ) as Effect.Effect<A, E | ClientError, R>
}

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

/** The circuit a call to `url` counts against: its host or its origin. */
export const keyOf = (url: URL, keyBy: "host" | "origin"): string => keyBy === "host" ? url.hostname : url.origin

/**
 * The circuit whose origin produced an error, for an error that came from a
 * redirect hop to another circuit's origin (set by `hop`). Unset for an error
 * of the call's first origin.
 */
const origins = new WeakMap<object, string>()

/** Marks `failure` (and the 401 an `Unauthorized` carries) as produced under circuit `key`, unless it already is. */
const markOrigin = (failure: unknown, key: string): void => {
  if (typeof failure !== "object" || failure === null) return
  if (!origins.has(failure)) origins.set(failure, key)
  const inner = (failure as { readonly error?: unknown }).error
  if (typeof inner === "object" && inner !== null && !origins.has(inner)) origins.set(inner, key)
}

/**
 * How a call's outcome counts for the breaker of `key`. An error another
 * origin produced (the target of a redirect) counts as a success for the
 * circuit of the origin that redirected: it answered.
 */
export const outcomeOf = (
  exit: { readonly _tag: string; readonly cause?: unknown },
  key?: string
): MemoryBreaker.Outcome => {
  if (exit._tag === "Success") return "Success"
  const error = findError(exit.cause)
  if (error === undefined) return "Ignored"
  if (key !== undefined) {
    const origin = origins.get(error)
    if (origin !== undefined && origin !== key) return "Success"
  }
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

/** `outcomeOf` for the circuit of `key`, as Effect's `CircuitBreaker` takes it. */
const classifyForBreaker = (key: string) => (exit: { readonly _tag: string; readonly cause?: unknown }) =>
  effectOutcomes[outcomeOf(exit, key)]

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
  return breaker.breaker.execute(program, { key, classify: classifyForBreaker(key) }).pipe(
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

/**
 * A redirect hop to the origin of circuit `key`, another than the hop's
 * before: `program` (that hop and any after it) admitted by and recorded in
 * `key`'s own circuit, so a redirect target's failures never open the
 * circuit of the origin that redirected to it, and a target whose circuit is
 * open is refused with `CircuitOpenError` naming it, before anything is sent
 * to it. Without a breaker (or for the call's own circuit, which the call
 * already holds: `admit` false), the errors are only marked as `key`'s.
 */
export const hop = <A, E, R>(
  breaker: Breaker,
  admit: boolean,
  key: string,
  context: ErrorContext,
  openDurationMillis: number,
  program: Effect.Effect<A, E | ClientError, R>
): Effect.Effect<A, E | ClientError, R> => {
  const marked = Effect.tapError(program, (failure) => Effect.sync(() => markOrigin(failure, key)))
  return breaker === undefined || !admit ? marked : around(breaker, key, context, openDurationMillis, marked)
}

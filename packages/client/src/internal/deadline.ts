/**
 * The deadlines of a call: its timeouts resolved once (the client's, or the
 * call's own where it gives them), the deadlines of each attempt (its own,
 * or the call's total when that comes first), and the `TimeoutError` each
 * one ends with.
 */
import * as Duration from "effect/Duration"
import type { Resolved } from "../ClientConfig.ts"
import { TimeoutError } from "../ClientError.ts"
import type { ErrorContext } from "./failure.ts"
import { own } from "./own.ts"

/** The timeouts of one call, in milliseconds. */
export interface Timeouts {
  readonly headers: number
  readonly idle: number
  readonly attempt: number
  readonly total: number
}

/** The deadlines of one attempt, in milliseconds. */
export interface Deadlines {
  readonly connect: number
  readonly headers: number
  readonly idle: number
  /** The attempt's own deadline, or the call's when that comes first. */
  readonly attempt: { readonly phase: "attempt" | "total"; readonly timeoutMillis: number }
}

/** A call's own `timeout` option, as `RequestOptions` takes it. */
export interface TimeoutOption {
  readonly headers?: Duration.Input | undefined
  readonly idle?: Duration.Input | undefined
  readonly attempt?: Duration.Input | undefined
  readonly total?: Duration.Input | undefined
}

/** How far before the call's deadline a running attempt is cut, so it ends inside the breaker. */
export const deadlineMargin = 5

/** The client's timeouts and deadlines, prepared once per client. */
export interface Defaults {
  readonly connect: number
  readonly timeouts: Timeouts
  readonly deadlines: Deadlines
}

/** The deadlines of an attempt under `timeouts` that ends by its own deadline. */
const deadlinesOf = (connect: number, timeouts: Timeouts): Deadlines => ({
  connect,
  headers: timeouts.headers,
  idle: timeouts.idle,
  attempt: { phase: "attempt", timeoutMillis: timeouts.attempt }
})

/** The client's defaults, from its resolved configuration. */
export const defaults = (timeout: Resolved["timeout"]): Defaults => {
  const timeouts: Timeouts = {
    headers: timeout.headers,
    idle: timeout.idle,
    attempt: timeout.attempt,
    total: timeout.total
  }
  return { connect: timeout.connect, timeouts, deadlines: deadlinesOf(timeout.connect, timeouts) }
}

const toMillis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(input)

/** A call's timeouts: the client's, each replaced by the call's own where given (read by own keys only). */
export const resolve = (client: Defaults, option: TimeoutOption | undefined): Timeouts =>
  option === undefined ? client.timeouts : {
    headers: toMillis(own(option, "headers"), client.timeouts.headers),
    idle: toMillis(own(option, "idle"), client.timeouts.idle),
    attempt: toMillis(own(option, "attempt"), client.timeouts.attempt),
    total: toMillis(own(option, "total"), client.timeouts.total)
  }

/** The deadlines of an attempt of a call with `timeouts` that ends by its own deadline. */
export const ofAttempt = (client: Defaults, timeouts: Timeouts): Deadlines =>
  timeouts === client.timeouts ? client.deadlines : deadlinesOf(client.connect, timeouts)

/** An attempt's deadline: how long it may run from now, and under which deadline. */
export interface AttemptBudget {
  readonly budgetMillis: number
  /** Whether the call's total deadline comes first. */
  readonly byTotal: boolean
  readonly deadlines: Deadlines
}

/**
 * The deadline of an attempt starting at `now` in a call that must end at
 * `callDeadline`: its own, or just before the call's when that comes first,
 * so an attempt still running then ends inside the breaker.
 */
export const forAttempt = (
  client: Defaults,
  timeouts: Timeouts,
  attemptDeadlines: Deadlines,
  callDeadline: number,
  now: number
): AttemptBudget => {
  const left = callDeadline - now - deadlineMargin
  if (left >= timeouts.attempt) {
    return { budgetMillis: timeouts.attempt, byTotal: false, deadlines: attemptDeadlines }
  }
  return {
    budgetMillis: Math.max(0, left),
    byTotal: true,
    deadlines: {
      connect: client.connect,
      headers: timeouts.headers,
      idle: timeouts.idle,
      attempt: { phase: "total", timeoutMillis: timeouts.total }
    }
  }
}

/** The error of an attempt whose deadline passed (its own: retryable; the call's: final). */
export const attemptTimedOut = (context: ErrorContext, byTotal: boolean, timeouts: Timeouts): TimeoutError =>
  byTotal ? totalTimedOut(context, timeouts) : new TimeoutError({
    ...context,
    retryable: true,
    phase: "attempt",
    timeoutMillis: timeouts.attempt
  })

/** The error of a call whose total deadline passed. */
export const totalTimedOut = (context: ErrorContext, timeouts: Timeouts): TimeoutError =>
  new TimeoutError({ ...context, retryable: false, phase: "total", timeoutMillis: timeouts.total })

/** The error of an attempt whose response headers did not come in time (timed by Effect). */
export const headersTimedOut = (context: ErrorContext, deadlines: Deadlines): TimeoutError =>
  new TimeoutError({ ...context, retryable: true, phase: "headers", timeoutMillis: deadlines.headers })

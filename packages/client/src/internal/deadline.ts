/**
 * The deadlines of a call, in one place: its timeouts resolved once (the
 * client's, or the call's own where it gives them), the deadline of each
 * attempt (its own, or the call's total when that comes first), the deadline
 * the transport enforces for an attempt (`AttemptDeadline`, which the
 * requests it dispatches time and abort with the phase it stands for), what
 * the transport reads for a call (`TransportDeadlines`, a typed value in the
 * fiber's context), the `TimeoutError` each deadline ends with, and the
 * stall-tolerant timeout that the pipeline's own waits use (`timeoutOrElse`).
 *
 * Every deadline counts responsive time (`@httpkit/core/LagTimer`): a stall
 * of the event loop (synchronous work elsewhere in the process) is not a
 * silent server, so the part of a stall that crosses a deadline is not
 * counted, the wait goes on for a grace period after it, and a deadline
 * found due still waits one `setImmediate` step, so that an answer that
 * arrived during the stall is read first. A deadline fires at most
 * `2 * millis + 1000` ms after it was armed, whatever the stalls.
 */
import * as LagTimer from "@httpkit/core/LagTimer"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { Resolved } from "../ClientConfig.ts"
import { TimeoutError } from "../ClientError.ts"
import type { ErrorContext } from "./failure.ts"

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

/** A call's own timeouts once checked, in milliseconds; undefined where the client's apply. */
export interface TimeoutOverrides {
  readonly headers: number | undefined
  readonly idle: number | undefined
  readonly attempt: number | undefined
  readonly total: number | undefined
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

/** A call's timeouts: the client's, each replaced by the call's own where given. */
export const resolve = (client: Defaults, overrides: TimeoutOverrides | undefined): Timeouts =>
  overrides === undefined ? client.timeouts : {
    headers: overrides.headers ?? client.timeouts.headers,
    idle: overrides.idle ?? client.timeouts.idle,
    attempt: overrides.attempt ?? client.timeouts.attempt,
    total: overrides.total ?? client.timeouts.total
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

/**
 * The error of a call whose total deadline passed; `sent: false` when its last attempt provably sent nothing
 * (`TimeoutError.sent`).
 */
export const totalTimedOut = (context: ErrorContext, timeouts: Timeouts, sent?: false): TimeoutError =>
  new TimeoutError(
    sent === false
      ? { ...context, retryable: false, phase: "total", timeoutMillis: timeouts.total, sent }
      : { ...context, retryable: false, phase: "total", timeoutMillis: timeouts.total }
  )

/** The error of an attempt whose response headers did not come in time (timed by Effect). */
export const headersTimedOut = (context: ErrorContext, deadlines: Deadlines): TimeoutError =>
  new TimeoutError({ ...context, retryable: true, phase: "headers", timeoutMillis: deadlines.headers })

/** The phase of an attempt's deadline: its own (`attempt`) or the call's (`total`). */
export type AttemptPhase = "attempt" | "total"

/** The phase of a deadline the transport enforces: the attempt's, the response head's, or a body's idle gap. */
export type TransportPhase = AttemptPhase | "headers" | "idle"

/**
 * The abort reason of a request whose deadline passed: which one. The
 * transport's failure carries it in its cause, and the error is made from it
 * (`failure.ts`), so the phase is the one of the deadline that passed.
 */
export class DeadlineExpired extends Error {
  override readonly name = "TimeoutError"
  readonly phase: TransportPhase
  readonly timeoutMillis: number
  /**
   * Whether any of the request may have been sent: `false` when the deadline ended the attempt's first request
   * before undici started it on a connection (it waited in a queue, or for a connect or TLS handshake).
   */
  readonly sent: boolean
  constructor(phase: TransportPhase, timeoutMillis: number, sent = true) {
    super(`the ${phase} deadline (${timeoutMillis} ms) passed${sent ? "" : " before the request was sent"}`)
    this.phase = phase
    this.timeoutMillis = timeoutMillis
    this.sent = sent
  }
}

/** A request (one dispatch: the first, or a redirect hop) that enforces an attempt's deadline. */
export interface AttemptTarget {
  /** The attempt's deadline no longer applies to the request (the attempt is over). */
  attemptEnded(): void
}

/**
 * An attempt's deadline as the transport enforces it: each request the
 * attempt dispatches times what is left of `budgetMillis` and aborts with
 * `DeadlineExpired` when it passes. The pipeline calls `cancel` when the
 * attempt is over, so a stream the caller reads later (a long download) is
 * bounded by the idle deadline only; a response whose body will be buffered
 * later `hold`s it instead.
 */
export class AttemptDeadline {
  /** When the budget runs out (`performance.now()` milliseconds). */
  readonly endsAt: number
  readonly budgetMillis: number
  readonly phase: AttemptPhase
  /** The configured timeout the phase stands for (what the error reports). */
  readonly timeoutMillis: number
  /** The request of the first dispatch; `more` holds those of redirect hops, rarely needed. */
  private first: AttemptTarget | undefined = undefined
  private more: Array<AttemptTarget> | undefined = undefined
  private cancelled = false
  private held = false
  constructor(budgetMillis: number, phase: AttemptPhase = "attempt", timeoutMillis: number = budgetMillis) {
    this.budgetMillis = budgetMillis
    this.phase = phase
    this.timeoutMillis = timeoutMillis
    this.endsAt = performance.now() + budgetMillis
  }
  /**
   * Registers one dispatch (one redirect hop) that enforces the deadline: how many milliseconds it has left at
   * `now` (`performance.now()`), or undefined once the deadline has ended.
   */
  arm(target: AttemptTarget, now: number = performance.now()): number | undefined {
    if (this.cancelled) return undefined
    if (this.first === undefined) this.first = target
    else (this.more ??= []).push(target)
    // Dispatched within the millisecond it was made (the usual first dispatch): the whole budget, a delay every
    // call shares, so Node keeps one timer list for them all instead of one per distinct delay.
    const left = this.endsAt - now
    return left > this.budgetMillis - 1 ? this.budgetMillis : Math.max(1, Math.ceil(left))
  }
  /** Whether `target` is the attempt's first dispatch (not a redirect hop, which follows a request already sent). */
  isFirst(target: AttemptTarget): boolean {
    return this.first === target
  }
  /**
   * Keeps the deadline running after the call returns: a `ClientResponse` whose body will be read into memory
   * later stays bounded by it. `cancel` is then ignored; `release` ends it.
   */
  hold(): void {
    this.held = true
  }
  /** Ends the deadline (the attempt is over), unless it is held. */
  cancel(): void {
    if (!this.held) this.release()
  }
  /** Ends the deadline, held or not. */
  release(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.first?.attemptEnded()
    if (this.more !== undefined) { for (const target of this.more) target.attemptEnded() }
  }
}

/** The fiber's clock when no test replaced it: real time, which a stall of the event loop moves on. */
const realClock: Clock.Clock = Context.getUnsafe(Context.empty(), Clock.Clock)

/** Whether `clock` is Effect's real clock (this instance, or another made by `Clock.Clock.defaultValue()`). */
const isReal = (clock: Clock.Clock): boolean =>
  clock === realClock || Object.getPrototypeOf(clock) === Object.getPrototypeOf(realClock)

/** Sleeps `millis` of responsive time (`LagTimer`), then one `setImmediate` step, so I/O already arrived runs first. */
const responsiveSleep = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    let immediate: ReturnType<typeof setImmediate> | undefined
    const cancel = LagTimer.after(millis, () => {
      immediate = setImmediate(resume, Effect.void)
    })
    return Effect.sync(() => {
      cancel()
      if (immediate !== undefined) clearImmediate(immediate)
    })
  })

/**
 * `self`, or `orElse()` once `millis` have passed first. Under the real clock
 * they are milliseconds of responsive time (a stall of the event loop is not
 * counted, see the module documentation); under any other (a `TestClock`),
 * that clock's, as `Effect.timeoutOrElse` counts them. `clock` is the fiber's,
 * when the caller has it at hand.
 */
export const timeoutOrElse = <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  millis: number,
  orElse: () => Effect.Effect<A2, E2, R2>,
  clock?: Clock.Clock
): Effect.Effect<A | A2, E | E2, R | R2> =>
  clock === undefined
    ? Effect.withFiber((fiber) => timeoutWith(fiber.getRef(Clock.Clock), self, millis, orElse))
    : timeoutWith(clock, self, millis, orElse)

const timeoutWith = <A, E, R, A2, E2, R2>(
  clock: Clock.Clock,
  self: Effect.Effect<A, E, R>,
  millis: number,
  orElse: () => Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, E | E2, R | R2> =>
  isReal(clock)
    ? Effect.raceFirst(self, Effect.flatMap(responsiveSleep(millis), orElse))
    : Effect.timeoutOrElse(self, { duration: millis, orElse })

/**
 * What our undici transport enforces for one call: the call's own headers
 * and idle deadlines, when it overrides the client's, and the running
 * attempt's deadline (replaced at each attempt).
 */
export class TransportDeadlines {
  readonly headersMillis: number | undefined
  readonly idleMillis: number | undefined
  attempt: AttemptDeadline | undefined = undefined
  constructor(headersMillis?: number, idleMillis?: number) {
    this.headersMillis = headersMillis
    this.idleMillis = idleMillis
  }
}

/** The call's `TransportDeadlines`, set in the fiber's context once per call; none outside a call. */
export const CurrentTransportDeadlines = Context.Reference<TransportDeadlines | undefined>(
  "@httpkit/client/TransportDeadlines",
  { defaultValue: () => undefined }
)

/** Where a request's undici options carry its `TransportDeadlines` from the client to the interceptor. */
export const transportKey: unique symbol = Symbol.for("@httpkit/client/TransportDeadlines")

/** The `TransportDeadlines` of a request's undici options, read by own key only. */
export const ofRequest = (options: object): TransportDeadlines | undefined =>
  Object.hasOwn(options, transportKey)
    ? (options as { readonly [transportKey]?: TransportDeadlines })[transportKey]
    : undefined

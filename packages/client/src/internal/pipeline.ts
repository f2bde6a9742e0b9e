/**
 * The request pipeline of `ResilientClient`: the order of its stages. Each
 * stage's policy lives in a module of its own name; this file only puts
 * them in order, for one logical call:
 *
 *   request (request.ts: URL, headers, request id, idempotency key, body)
 *   -> the call's state (call.ts) -> the call's span (tracing.ts), metrics
 *   counted, breaker asked inline
 *   -> bulkhead (bulkhead.ts) -> circuit breaker per origin (breaker.ts)
 *   -> retry loop (retry.ts) { rate limit -> the attempt's deadline
 *      (deadline.ts) -> attempt log (attemptLog.ts) -> the attempt
 *      (attempt.ts: auth, profile, cookies, a client span per request sent,
 *      transport, redirects, status) }
 *   -> the call's total deadline around everything that can wait outside an
 *      attempt
 *
 * One loop rather than a stack of `HttpClient` combinators: each combinator
 * re-runs request preprocessing and adds fibers and spans per attempt, which
 * is where a stacked pipeline spends its CPU (see bench/client.ts). The
 * common call (a first attempt that succeeds) is kept cheap: everything that
 * does not depend on the call is prepared once per client (`ClientState`); a
 * call builds its request in place, reads the clock once, sets the fiber's
 * context once (span redaction and the transport's options), and chains its
 * effects without generators. Generators remain on the paths that follow a
 * failure.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import * as Tracer from "effect/Tracer"
import type { ClientError } from "../ClientError.ts"
import type { RequestOptions } from "../RequestOptions.ts"
import { Attempt, type Received } from "./attempt.ts"
import * as AttemptLog from "./attemptLog.ts"
import * as Breaker from "./breaker.ts"
import { Call } from "./call.ts"
import * as Deadline from "./deadline.ts"
import { ClientState, type PipelineEnv } from "./env.ts"
import { failureLabel, findFailure, isClientError, Unauthorized } from "./outcome.ts"
import { own } from "./own.ts"
import * as Request from "./request.ts"
import * as Retry from "./retry.ts"
import * as Tracing from "./tracing.ts"

type Step<A, E, R> = Effect.Effect<A, ClientError | E | Unauthorized, R>

/**
 * Attempt `number`, built when it is about to run: its deadline starts now
 * (after any bulkhead, breaker or limiter wait). Our undici transport
 * enforces it in each request's dispatch handler (no fiber); other
 * transports get a stall-tolerant Effect timer (`Deadline.timeoutOrElse`).
 */
const startAttempt = <A, E, R>(call: Call<A, E, R>, number: number, now: number): Step<A, E, R> => {
  const budget = Deadline.forAttempt(call.state.deadlines, call.timeouts, call.attemptDeadlines, call.deadline, now)
  let native: Deadline.AttemptDeadline | undefined
  if (call.transportDeadlines !== undefined) {
    // An attempt that ended keeps no timer: a body read after the call is bounded by the idle deadline only.
    call.attemptDeadline?.cancel()
    const { phase, timeoutMillis } = budget.deadlines.attempt
    native = new Deadline.AttemptDeadline(budget.budgetMillis, phase, timeoutMillis)
    call.attemptDeadline = native
    call.transportDeadlines.attempt = native
  }
  let attempt = new Attempt(call, number, budget.deadlines, native, now + budget.budgetMillis).run()
  const { logger } = call.state
  if (logger !== undefined && call.logs) {
    attempt = AttemptLog.logged(logger, {
      requestId: call.requestId,
      method: call.method,
      url: call.context.url,
      attempt: number
    }, attempt)
  }
  if (native === undefined) {
    attempt = Deadline.timeoutOrElse(
      attempt,
      budget.budgetMillis,
      () => Effect.fail(Deadline.attemptTimedOut(call.context, budget.byTotal, call.timeouts)),
      call.clock
    )
  }
  // Under Effect's nativeTracer no one sees when a span ends: the next request or the call's end ends it.
  if (call.tracing === undefined || !call.tracing.records) return attempt
  // The request in flight ends with the attempt, its timeout included (read when it ends: a call's first attempt
  // is built before the call, and its span, begin).
  return Effect.onExitPrimitive(attempt, (exit) => {
    call.trace?.endHop(exit, (status) => call.statusError(status))
    return undefined
  })
}

/** Attempt `number`, through the rate limiter when there is one; `atOnce` when nothing waited since the call began. */
const runAttempt = <A, E, R>(call: Call<A, E, R>, number: number, atOnce: boolean) => {
  const rateLimit = call.state.env.rateLimit
  if (rateLimit === undefined) {
    return atOnce
      ? startAttempt(call, number, call.startedAt)
      : Effect.suspend(() => startAttempt(call, number, call.clock.currentTimeMillisUnsafe()))
  }
  // Every attempt spends a slot: a retry reaches the server like the first attempt did.
  return Effect.suspend(() => {
    const asked = call.clock.currentTimeMillisUnsafe()
    call.limiterRequest = {
      method: call.method,
      url: call.url,
      key: call.limiterKey,
      tokens: call.limiterTokens,
      attempt: number,
      maxWaitMillis: Math.max(0, call.deadline - asked - Deadline.deadlineMargin),
      context: call.context
    }
    // The attempt, and its deadline, start once the limiter has let it through.
    return rateLimit.around(
      call.limiterRequest,
      Effect.suspend(() => {
        const now = call.clock.currentTimeMillisUnsafe()
        if (call.trace !== undefined && now > asked) call.trace.rateLimitWait(number, now - asked)
        return startAttempt(call, number, now)
      })
    )
  })
}

/** Runs attempt `number`, and on failure decides whether and when to try again. */
const attemptFrom = <A, E, R>(
  call: Call<A, E, R>,
  number: number,
  atOnce: boolean
): Effect.Effect<A, ClientError | E, R> =>
  Effect.catch(runAttempt(call, number, atOnce), (failure) => afterFailure(call, number, failure))

/** What follows a failed attempt: a refresh and the same attempt again, a wait and the next, or the error. */
const afterFailure = <A, E, R>(call: Call<A, E, R>, number: number, failure: ClientError | E | Unauthorized) =>
  Effect.gen(function*() {
    const { env, options, metrics } = call.state
    let error: ClientError | E
    if (failure instanceof Unauthorized) {
      if (!call.refreshed && env.auth !== undefined) {
        if (call.bodySource !== undefined && !call.bodySource.replayable()) {
          return yield* Effect.fail(call.notReplayable("retry", failure.error._tag, failure.error.status))
        }
        call.refreshed = true
        // The retry with new credentials does not count as an attempt.
        const refreshed = yield* env.auth.refresh(failure.generation)
        call.trace?.tokenRefresh(number, refreshed)
        if (refreshed) {
          metrics?.retried(call.fiber.context, call.url, failure.error._tag)
          return yield* attemptFrom(call, number, false)
        }
      }
      error = failure.error
    } else {
      error = failure
    }
    const now = yield* call.clock.currentTimeMillis
    // An attempt that ran past the call's deadline (a stall of the event loop stretched it) ends the call.
    if (isClientError(error) && error._tag === "TimeoutError" && error.phase === "attempt" && now >= call.deadline) {
      error = Deadline.totalTimedOut(call.context, call.timeouts, own(error, "sent") === false ? false : undefined)
    }
    if (
      !isClientError(error) || number >= call.maxAttempts ||
      !Retry.mayRetry(error, call.method, options.retry.methods, call.idempotencyKey !== undefined)
    ) {
      return yield* Effect.fail(error)
    }
    let delay: number | undefined
    if (call.schedule === undefined) {
      delay = yield* Retry.backoff(options.retry, number)
    } else {
      call.stepper ??= yield* Retry.makeStepper(call.schedule)
      delay = yield* call.stepper(now, error)
      if (delay === undefined) return yield* Effect.fail(error)
    }
    const wait = Retry.waitBefore(error, delay, options.retry.retryAfterCeiling, now, call.deadline)
    if (wait === undefined) return yield* Effect.fail(error)
    if (call.bodySource !== undefined && !call.bodySource.replayable()) {
      return yield* Effect.fail(
        call.notReplayable("retry", error._tag, "status" in error ? own(error, "status") : undefined)
      )
    }
    metrics?.retried(call.fiber.context, call.url, error._tag)
    call.trace?.retry(number, error._tag, wait)
    yield* Effect.sleep(wait)
    return yield* attemptFrom(call, number + 1, false)
  })

/** Counts the call as ended, if it was counted as started, and ends its span, if it has one. */
const recordEnd = (call: Call<unknown, unknown, unknown>, exit: Exit.Exit<unknown, unknown>): void => {
  const metrics = call.state.metrics
  const trace = call.trace
  if ((metrics === undefined || !call.counted) && trace === undefined) return
  const error = exit._tag === "Failure" ? findFailure(exit.cause) : undefined
  const status = exit._tag === "Success" ? call.lastStatus : (error as { status?: unknown } | undefined)?.status
  if (trace !== undefined) {
    call.trace = undefined
    trace.end(exit, typeof status === "number" ? status : undefined)
  }
  if (metrics === undefined || !call.counted) return
  call.counted = false
  metrics.ended(
    call.fiber.context,
    call.method,
    call.url,
    typeof status === "number" ? status : undefined,
    exit._tag === "Success" ? "success" : failureLabel(exit.cause, error),
    call.clock.currentTimeMillisUnsafe() - call.startedAt
  )
}

/**
 * Starts the call in `self`: its span started, counted, admitted by an inline breaker, the call's context set
 * (the call's span as the parent of what runs inside it); then `program`.
 */
const begin = <A, E, R>(
  call: Call<A, E, R>,
  self: Fiber.Fiber<unknown, unknown>,
  program: Effect.Effect<A, ClientError | E, R>
): Effect.Effect<A, ClientError | E, R> => {
  const { state } = call
  call.running = self
  const outer = self.context
  call.outer = outer
  const tracing = call.tracing
  if (tracing !== undefined) {
    call.trace = new Tracing.CallTrace(tracing, state.options.name, call.method, call.url, state.isSecret)
  }
  if (state.metrics !== undefined) {
    state.metrics.started()
    call.counted = true
  }
  if (state.inlineBreaker !== undefined) {
    const admitted = state.inlineBreaker.admit(call.key, call.startedAt, outer)
    if (admitted._tag === "Refused") {
      return Effect.fail(Breaker.openError(call.context, call.key, admitted.retryAfterMillis))
    }
    call.admission = admitted
  }
  let context = state.redaction.contextFor(outer, state.redaction.headerNames())
  const trace = call.trace
  if (trace !== undefined) {
    // Effect's client makes no span for the request the call sends: the call's own span stands for it.
    context = Context.add(
      Context.add(context, HttpClient.TracerDisabledWhen, trace.disabledWhen),
      Tracer.ParentSpan,
      trace.span
    )
  } else if (state.fiberTraces) {
    // Not traced, though the fiber traces: Effect's client makes no span either.
    context = state.untraced.contextFor(context)
  }
  self.setContext(
    call.transportDeadlines === undefined
      ? context
      : Context.add(context, Deadline.CurrentTransportDeadlines, call.transportDeadlines)
  )
  return program
}

/** Ends the call: the context restored, the last deadline cancelled, the breaker told; nothing to run after. */
const finish = (call: Call<unknown, unknown, unknown>, exit: Exit.Exit<unknown, unknown>): undefined => {
  if (call.outer !== undefined) call.running!.setContext(call.outer)
  call.attemptDeadline?.cancel()
  if (call.admission !== undefined) {
    call.state.inlineBreaker!.settle(
      call.admission,
      exit,
      Breaker.outcomeOf,
      call.clock.currentTimeMillisUnsafe(),
      call.outer!
    )
  }
  if (!call.state.outerDeadline) recordEnd(call, exit)
  return undefined
}

/**
 * Returns the function that runs one logical call through the pipeline and
 * hands a successful response to `consume` (inside the attempt, so a body
 * read that fails is retried like any other attempt).
 */
export const make = (env: PipelineEnv) => {
  const state = new ClientState(env)
  return <A, E, R>(
    method: string,
    input: string | URL,
    options: RequestOptions,
    consume: (received: Received) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, ClientError | E, R> =>
    Effect.withFiber((fiber) => {
      state.observe(fiber)
      const request = Request.build(state, method.toUpperCase(), input, options)
      if (request._tag === "Refused") {
        // A call refused before anything was sent, counted and traced like any other.
        if (state.metrics !== undefined) {
          state.metrics.started()
          state.metrics.ended(fiber.context, request.error.method, request.url, undefined, request.error._tag, 0)
        }
        if (state.tracing !== undefined && own(options, "tracing") !== false) {
          Tracing.refused(state.tracing, state.options.name, request.error.method, request.url, request.error)
        }
        return Effect.fail(request.error)
      }
      const call = new Call(state, fiber, request, options, consume)
      // The first attempt runs directly; the retry machinery is entered only when it fails.
      let program: Effect.Effect<A, ClientError | E, R> = attemptFrom(call, 1, state.firstAttemptAtOnce)
      if (env.breaker !== undefined && state.inlineBreaker === undefined) {
        program = Breaker.around(
          env.breaker,
          call.key,
          call.context,
          state.options.circuitBreaker.openDuration,
          program
        )
      }
      if (env.bulkhead !== undefined) program = env.bulkhead.run(call.key, call.context, program)
      // Begun inside the exit handler's frame, never before it: the fiber may yield, and be interrupted, between
      // any two steps, and a call counted and admitted must always be ended (or a half-open probe stays taken).
      const started = Effect.onExitPrimitive(
        Effect.withFiber((self) => begin(call, self, program)),
        (exit) => finish(call as Call<unknown, unknown, unknown>, exit)
      )
      // The retry loop never outlives the deadline; what can wait outside it runs under the outer timer too.
      if (!state.outerDeadline) return started
      const timed = Deadline.timeoutOrElse(
        started,
        call.timeouts.total,
        () => Effect.fail(Deadline.totalTimedOut(call.context, call.timeouts)),
        call.clock
      )
      return state.metrics === undefined && call.tracing === undefined ?
        timed :
        Effect.onExitPrimitive(timed, (exit) => {
          recordEnd(call as Call<unknown, unknown, unknown>, exit)
          return undefined
        })
    })
}

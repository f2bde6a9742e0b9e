/**
 * The breaker's policy for a shared `CircuitBreakerStore` (Effect's Redis
 * store, or any other) that fails: every store call is bounded, and while the
 * store fails, circuits live in a local in-memory breaker (Effect's own memory
 * store), so calls go on and a failing service still trips locally. The
 * shared store is probed in the background and used again once it answers.
 *
 * - **Bound.** Each `admit`, `record` and `state` gets `timeoutMillis`, timed
 *   by a native timer raced with the call (one fiber for the call, none for
 *   the timer, no `Effect.timeoutOrElse`; a store that answers at once, such
 *   as a memory store, pays no timer at all). The bound is lag-aware: a timer
 *   that fires late (the process stalled, so an answer may be sitting unread)
 *   looks again after a grace, up to twice the bound in all. A store call that
 *   still has no answer is abandoned (its fiber interrupted).
 * - **Fallback.** A timeout, a store error (`CircuitBreakerStoreError`) or a
 *   defect (an answer the store could not decode) sends every call to the
 *   local breaker, with one warning. Calls waiting on the store at that moment
 *   each end at their own bound; later calls never touch the failing store.
 *   An outcome whose call the shared store admitted is counted locally.
 *   Refusals from the store (`CircuitOpen`, `CircuitHalfOpen`) are answers,
 *   not failures.
 * - **Recovery.** While degraded, one background fiber reads a state from the
 *   shared store every `probeEveryMillis`, bounded like any call (a read,
 *   which changes nothing if it runs late); the first answer, with no failure
 *   since it was sent, sends calls to the shared store again, with a line at
 *   info level.
 *
 * Admissions from the local store carry negative generations (`-(g + 1)`;
 * Effect's Redis generations are positive), so every outcome is recorded in
 * the store that admitted its call, whichever store is in use by then.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import type * as Scope from "effect/Scope"

type Store = CircuitBreaker.CircuitBreakerStore["Service"]
type RecordOptions = Parameters<Store["record"]>[0]
type Transition = CircuitBreaker.Transition | undefined

/** How the failover is tuned. */
export interface Options {
  /** Longest wait for one store call, before lag allowances (at most twice this in all). */
  readonly timeoutMillis: number
  /** How often a failing store is probed while calls use the local breaker. */
  readonly probeEveryMillis: number
}

/** Longest wait for one store call: one second, or a quarter of the call's total deadline when that is shorter. */
export const timeoutFor = (totalMillis: number): number => Math.max(50, Math.min(1_000, Math.floor(totalMillis / 4)))

/** How often a failing store is probed. */
export const probeEveryMillis = 1_000

/** The key the probe reads (a read of a key nobody writes: it changes nothing). */
const probeKey = "httpkit:store-probe"

/** A store call that did not answer usefully, and why (for the warning). */
interface Unavailable {
  readonly _tag: "StoreUnavailable"
  readonly detail: string
}

const unavailable = (detail: string): Unavailable => ({ _tag: "StoreUnavailable", detail })

const isUnavailable = (error: unknown): error is Unavailable =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "StoreUnavailable"

/** A one-line account of a store failure, at most 200 characters. */
const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  let text: string
  if (error instanceof CircuitBreaker.CircuitBreakerError) {
    const inner = error.reason._tag === "CircuitBreakerStoreError" ? error.reason.cause : undefined
    text = inner instanceof Error ? `${error.message}: ${inner.message}` : error.message
  } else {
    text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text
}

/** How late a timer may fire before the wait counts as stalled. */
const lagTolerance = (timeoutMillis: number) => timeoutMillis / 10

/** How much longer a stalled wait looks for its answer. */
const grace = (timeoutMillis: number) => timeoutMillis / 4

/** A store's answer as the failover sees it: a value, a refusal (`CircuitOpen`, `CircuitHalfOpen`), or unavailable. */
const settle = <A>(
  exit: Exit.Exit<A, CircuitBreaker.CircuitBreakerError>
): Effect.Effect<A, CircuitBreaker.CircuitBreakerError | Unavailable> => {
  if (Exit.isSuccess(exit)) return exit
  const error = Cause.findErrorOption(exit.cause)
  if (
    error._tag === "Some" && !Cause.hasDies(exit.cause) &&
    error.value.reason._tag !== "CircuitBreakerStoreError"
  ) {
    return exit
  }
  if (Cause.hasInterruptsOnly(exit.cause)) return Effect.fail(unavailable("the store call was interrupted"))
  return Effect.fail(unavailable(describe(exit.cause)))
}

/**
 * Runs `effect` in a fiber of its own (started at once, in the caller's
 * context, so an admission's scope is the caller's), and waits for it at most
 * `timeoutMillis` by a native timer, or longer while the process itself is
 * stalled (at most twice the bound). Works inside an uninterruptible region:
 * the timer, not an interruption of the caller, ends the wait.
 */
const bounded = <A, R>(
  effect: Effect.Effect<A, CircuitBreaker.CircuitBreakerError, R>,
  timeoutMillis: number
): Effect.Effect<A, CircuitBreaker.CircuitBreakerError | Unavailable, R> =>
  Effect.flatMap(Effect.forkDetach(effect, { startImmediately: true }), (fiber) => {
    const done = fiber.pollUnsafe()
    if (done !== undefined) return settle(done)
    return Effect.callback<A, CircuitBreaker.CircuitBreakerError | Unavailable>((resume) => {
      const started = performance.now()
      let timer: ReturnType<typeof setTimeout> | undefined
      let stopObserving: (() => void) | undefined
      const arm = (delay: number) => {
        const due = performance.now() + delay
        timer = setTimeout(() => {
          const now = performance.now()
          // Fired late: the process itself stalled, and an answer may be waiting unread (timers run before
          // I/O is read). Look again after a grace, while stalls go on, up to twice the bound in all.
          if (now - due > lagTolerance(timeoutMillis) && now - started + grace(timeoutMillis) <= 2 * timeoutMillis) {
            return arm(grace(timeoutMillis))
          }
          timer = undefined
          stopObserving?.()
          fiber.interruptUnsafe()
          resume(Effect.fail(unavailable(`no answer within ${timeoutMillis} ms`)))
        }, delay)
      }
      arm(timeoutMillis)
      stopObserving = fiber.addObserver((exit) => {
        if (timer !== undefined) clearTimeout(timer)
        resume(settle(exit))
      })
      return Effect.sync(() => {
        if (timer !== undefined) clearTimeout(timer)
        stopObserving?.()
        fiber.interruptUnsafe()
      })
    })
  })

/** A local generation as handed out (negative), and back. */
const toLocal = (generation: number) => -(generation + 1)
const fromLocal = (generation: number) => -generation - 1

/**
 * Wraps `shared` with bounded calls and a local fallback, for as long as the
 * scope lasts (the probe fiber and the local store live in it).
 */
export const make = Effect.fnUntraced(function*(shared: Store, options: Options) {
  const local = Context.get(
    yield* Layer.build(CircuitBreaker.layerStoreMemory()),
    CircuitBreaker.CircuitBreakerStore
  )
  const { timeoutMillis } = options
  /** Whether calls go to the local store. */
  let degraded = false
  /** Counts store failures, so that a probe answer older than a failure does not end the fallback. */
  let failures = 0
  /** Open while degraded: the probe fiber waits on it otherwise, holding no timer. */
  const probing = Latch.makeUnsafe(false)

  const degrade = (failure: Unavailable): Effect.Effect<void> =>
    Effect.suspend(() => {
      failures++
      if (degraded) return Effect.void
      degraded = true
      probing.openUnsafe()
      return Effect.logWarning(
        `circuit breaker store unavailable (${failure.detail}); circuits are kept in this process ` +
          `until it answers again`
      )
    })

  yield* Effect.forkScoped(Effect.gen(function*() {
    while (true) {
      yield* probing.await
      yield* Effect.sleep(options.probeEveryMillis)
      const before = failures
      const answered = yield* Effect.exit(bounded(shared.state(probeKey), timeoutMillis))
      if (Exit.isSuccess(answered) && failures === before && degraded) {
        degraded = false
        probing.closeUnsafe()
        yield* Effect.logInfo("circuit breaker store answers again; circuits are shared again")
      }
    }
  }))

  const admitLocally = (
    key: string
  ): Effect.Effect<CircuitBreaker.Admission, CircuitBreaker.CircuitBreakerError, Scope.Scope> =>
    Effect.map(local.admit(key), (admission) => ({ ...admission, generation: toLocal(admission.generation) }))

  /** Counts locally the outcome of a call the shared store admitted, when the shared store cannot record it. */
  const recordLocally = (options: RecordOptions): Effect.Effect<Transition, CircuitBreaker.CircuitBreakerError> =>
    options.outcome === "Ignored" ? Effect.succeed(undefined) : Effect.scoped(
      Effect.matchEffect(local.admit(options.key), {
        // The local circuit refuses calls already: the outcome changes nothing there.
        onFailure: () => Effect.succeed(undefined),
        onSuccess: (admission) => local.record({ ...options, generation: admission.generation })
      })
    )

  return CircuitBreaker.CircuitBreakerStore.of({
    admit: (key) =>
      degraded ? admitLocally(key) : Effect.catch(
        bounded(shared.admit(key), timeoutMillis),
        (error) => isUnavailable(error) ? Effect.andThen(degrade(error), admitLocally(key)) : Effect.fail(error)
      ),
    record: (options) => {
      if (options.generation < 0) return local.record({ ...options, generation: fromLocal(options.generation) })
      if (degraded) return recordLocally(options)
      return Effect.catch(
        bounded(shared.record(options), timeoutMillis),
        (error) => isUnavailable(error) ? Effect.andThen(degrade(error), recordLocally(options)) : Effect.fail(error)
      )
    },
    state: (key) =>
      degraded ? local.state(key) : Effect.catch(
        bounded(shared.state(key), timeoutMillis),
        (error) => isUnavailable(error) ? Effect.andThen(degrade(error), local.state(key)) : Effect.fail(error)
      )
  })
})

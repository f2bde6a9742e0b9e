/**
 * The default circuit breaker: per key, in this process's memory, with no
 * fiber, scope or store round trip per call. Used when no
 * `CircuitBreakerStore` is in context; with one (for example Effect's Redis
 * store) the pipeline uses Effect's `CircuitBreaker` instead, so state is
 * shared between processes.
 *
 * Semantics match Effect's consecutive-failure breaker: `threshold`
 * consecutive failures open the circuit for `openDuration`; then one call is
 * let through as a probe (others are refused while it runs); its success
 * closes the circuit, its failure opens it again; an ignored or interrupted
 * probe frees the slot. Outcomes of calls admitted before the circuit opened
 * change nothing. Time comes from the fiber's `Clock`, so `TestClock` drives
 * it in tests. Transitions are reported to `onTransition` (the metrics).
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"

/** How a call's outcome counts. */
export type Outcome = "Success" | "Failure" | "Ignored"

/** A refusal: the circuit is open (with the time left), or half-open with its probe running. */
export interface Refusal {
  readonly _tag: "Refused"
  readonly state: "Open" | "HalfOpen"
  readonly retryAfterMillis: number
}

/** One key's circuit. */
export interface Circuit {
  /** The key it belongs to (host or origin), for `onTransition`. */
  readonly key: string
  failures: number
  /** When the circuit opened; undefined while closed. */
  openedAt: number | undefined
  probing: boolean
  /** A probe has been let through since the circuit opened (the state is half-open). */
  halfOpen: boolean
  /** Calls admitted and not yet settled. */
  inFlight: number
}

/** A circuit's state, as reported to `onTransition`. */
export type State = "closed" | "open" | "half_open"

/** Called on every change of a circuit's state, with the context of the call that caused it and the circuit's key. */
export type OnTransition = (context: Context.Context<never>, from: State, to: State, key: string) => void

/**
 * Most circuits kept. At the cap, a new key evicts one: among the
 * `evictionScan` least recently used, the first closed one with no failures
 * and no call in flight, else the first with no call in flight, else the
 * least recently used. An evicted circuit is forgotten: an open one is as if
 * closed again (reported as a transition to closed), so its host gets calls
 * until `threshold` new failures open it again; a call in flight on it
 * settles on the forgotten circuit, changing nothing.
 */
export const defaultMaxKeys = 10_000

/** How many of the least recently used circuits an eviction looks at. */
const evictionScan = 64

/** A call let through: its circuit, and whether it is the half-open probe. */
export interface Admission {
  readonly _tag: "Admitted"
  readonly circuit: Circuit
  readonly probe: boolean
}

export interface MemoryBreaker {
  readonly execute: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    classify: (exit: Exit.Exit<A, E>, key: string) => Outcome,
    refused: (refusal: Refusal) => E
  ) => Effect.Effect<A, E, R>
  /**
   * `execute` in two synchronous halves, for a caller that already holds an
   * exit handler: whether a call to `key` may run now...
   */
  readonly admit: (key: string, now: number, context: Context.Context<never>) => Admission | Refusal
  /** ...and, once it ended, what its exit does to the circuit. */
  readonly settle: <A, E>(
    admission: Admission,
    exit: Exit.Exit<A, E>,
    classify: (exit: Exit.Exit<A, E>, key: string) => Outcome,
    now: number,
    context: Context.Context<never>
  ) => void
  /** Circuits open or half-open now. */
  readonly openCircuits: () => number
}

export const make = (
  threshold: number,
  openDurationMillis: number,
  halfOpenRetryMillis: number,
  onTransition: OnTransition = () => {},
  maxKeys: number = defaultMaxKeys
): MemoryBreaker => {
  // In least recently used order: a key used again moves to the end.
  const circuits = new Map<string, Circuit>()
  // Most calls go to the origin of the call before (already at the end).
  let lastKey: string | undefined
  let lastCircuit: Circuit | undefined

  /** Drops one circuit to make room (see `defaultMaxKeys`). */
  const evictOne = (context: Context.Context<never>): void => {
    let victim: Circuit | undefined
    let idle: Circuit | undefined
    let scanned = 0
    for (const candidate of circuits.values()) {
      if (candidate.inFlight === 0) {
        if (candidate.openedAt === undefined && candidate.failures === 0) {
          victim = candidate
          break
        }
        idle ??= candidate
      }
      if (++scanned >= evictionScan) break
    }
    victim ??= idle ?? circuits.values().next().value
    if (victim === undefined) return
    circuits.delete(victim.key)
    if (victim.key === lastKey) lastKey = undefined
    if (victim.openedAt !== undefined) {
      onTransition(context, victim.halfOpen ? "half_open" : "open", "closed", victim.key)
    }
  }

  const circuitFor = (key: string, context: Context.Context<never>): Circuit => {
    if (key === lastKey) return lastCircuit!
    let circuit = circuits.get(key)
    if (circuit === undefined) {
      while (circuits.size >= maxKeys) evictOne(context)
      circuit = { key, failures: 0, openedAt: undefined, probing: false, halfOpen: false, inFlight: 0 }
    } else {
      circuits.delete(key)
    }
    circuits.set(key, circuit)
    lastKey = key
    lastCircuit = circuit
    return circuit
  }

  const admit = (key: string, now: number, context: Context.Context<never>): Admission | Refusal => {
    const circuit = circuitFor(key, context)
    if (circuit.openedAt === undefined) {
      circuit.inFlight += 1
      return { _tag: "Admitted", circuit, probe: false }
    }
    const left = circuit.openedAt + openDurationMillis - now
    if (left > 0) return { _tag: "Refused", state: "Open", retryAfterMillis: left }
    if (circuit.probing) {
      return { _tag: "Refused", state: "HalfOpen", retryAfterMillis: Math.min(openDurationMillis, halfOpenRetryMillis) }
    }
    circuit.probing = true
    circuit.inFlight += 1
    if (!circuit.halfOpen) {
      circuit.halfOpen = true
      onTransition(context, "open", "half_open", key)
    }
    return { _tag: "Admitted", circuit, probe: true }
  }

  const settle = <A, E>(
    admission: Admission,
    exit: Exit.Exit<A, E>,
    classify: (exit: Exit.Exit<A, E>, key: string) => Outcome,
    now: number,
    context: Context.Context<never>
  ): void => {
    const { circuit } = admission
    circuit.inFlight -= 1
    const outcome: Outcome = exit._tag === "Failure" && isInterruptOnly(exit) ? "Ignored" : classify(exit, circuit.key)
    if (admission.probe) {
      circuit.probing = false
      if (outcome === "Ignored") return
      circuit.halfOpen = false
      if (outcome === "Success") {
        circuit.failures = 0
        circuit.openedAt = undefined
        onTransition(context, "half_open", "closed", circuit.key)
      } else {
        circuit.openedAt = now
        onTransition(context, "half_open", "open", circuit.key)
      }
      return
    }
    // A call admitted before the circuit opened: its outcome changes nothing.
    if (circuit.openedAt !== undefined) return
    if (outcome === "Success") {
      circuit.failures = 0
    } else if (outcome === "Failure") {
      circuit.failures += 1
      if (circuit.failures >= threshold) {
        circuit.openedAt = now
        onTransition(context, "closed", "open", circuit.key)
      }
    }
  }

  return {
    execute: (key, effect, classify, refused) =>
      Effect.withFiber((fiber) => {
        const clock = fiber.getRef(Clock.Clock)
        const admission = admit(key, clock.currentTimeMillisUnsafe(), fiber.context)
        if (admission._tag === "Refused") return Effect.fail(refused(admission))
        return Effect.onExit(effect, (exit) =>
          Effect.sync(() => settle(admission, exit, classify, clock.currentTimeMillisUnsafe(), fiber.context)))
      }),
    admit,
    settle,
    openCircuits: () => {
      let open = 0
      for (const circuit of circuits.values()) if (circuit.openedAt !== undefined) open += 1
      return open
    }
  }
}

const isInterruptOnly = (exit: Exit.Exit<unknown, unknown>): boolean => {
  const reasons = (exit as { cause?: { reasons?: ReadonlyArray<{ _tag: string }> } }).cause?.reasons ?? []
  return reasons.length > 0 && reasons.every((reason) => reason._tag === "Interrupt")
}

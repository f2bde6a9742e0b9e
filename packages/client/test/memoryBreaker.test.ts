/**
 * The in-memory circuit breaker on its own (`internal/memoryBreaker.ts`):
 * `admit` and `settle` with the time given by the test, and `execute` under
 * `TestClock`. `breaker.test.ts` covers the breaker inside `ResilientClient`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as MemoryBreaker from "../src/internal/memoryBreaker.ts"

const none = Context.empty()
const threshold = 3
const openMillis = 1_000
const halfOpenRetryMillis = 200

/** A breaker whose transitions are written down as `from->to`. */
const make = () => {
  const transitions: Array<string> = []
  const breaker = MemoryBreaker.make(threshold, openMillis, halfOpenRetryMillis, (_, from, to) => {
    transitions.push(`${from}->${to}`)
  })
  return { breaker, transitions }
}

/** Every exit counts as it is: a success as Success, a failure as Failure. */
const plain = (exit: Exit.Exit<unknown, unknown>): MemoryBreaker.Outcome => Exit.isSuccess(exit) ? "Success" : "Failure"

const ignored = (): MemoryBreaker.Outcome => "Ignored"

/** Admits one call to `key` at `now`; it must be admitted. */
const admitted = (breaker: MemoryBreaker.MemoryBreaker, key: string, now: number) => {
  const admission = breaker.admit(key, now, none)
  assert.strictEqual(admission._tag, "Admitted", JSON.stringify(admission))
  if (admission._tag !== "Admitted") throw new Error("unreachable")
  return admission
}

/** One whole call to `key` at `now` that ends with `exit`. */
const call = (
  breaker: MemoryBreaker.MemoryBreaker,
  key: string,
  now: number,
  exit: Exit.Exit<unknown, unknown>,
  classify = plain
) => breaker.settle(admitted(breaker, key, now), exit, classify, now, none)

const fail = Exit.fail("boom")
const ok = Exit.succeed("ok")

/** Opens `key`'s circuit at `now` with `threshold` failures. */
const open = (breaker: MemoryBreaker.MemoryBreaker, key: string, now: number) => {
  for (let i = 0; i < threshold; i++) call(breaker, key, now, fail)
}

describe("memoryBreaker: closed", () => {
  it("3 consecutive failures open the circuit once (closed->open); 2 do not", () => {
    const { breaker, transitions } = make()
    call(breaker, "a", 0, fail)
    call(breaker, "a", 0, fail)
    assert.strictEqual(breaker.admit("a", 0, none)._tag, "Admitted")
    assert.deepStrictEqual(transitions, [])
    call(breaker, "a", 0, fail)
    assert.deepStrictEqual(transitions, ["closed->open"])
    assert.strictEqual(breaker.openCircuits(), 1)
  })

  it("a success between failures starts the count again: fail, fail, succeed, fail, fail stays closed", () => {
    const { breaker, transitions } = make()
    for (const exit of [fail, fail, ok, fail, fail]) call(breaker, "a", 0, exit)
    assert.strictEqual(breaker.admit("a", 0, none)._tag, "Admitted")
    assert.deepStrictEqual(transitions, [])
  })

  it("ignored outcomes neither count nor reset: fail, fail, ignored, fail opens", () => {
    const { breaker, transitions } = make()
    call(breaker, "a", 0, fail)
    call(breaker, "a", 0, fail)
    call(breaker, "a", 0, fail, ignored)
    assert.deepStrictEqual(transitions, [])
    call(breaker, "a", 0, fail)
    assert.deepStrictEqual(transitions, ["closed->open"])
  })

  it("an interrupted call is ignored, whatever classify says", () => {
    const { breaker, transitions } = make()
    for (let i = 0; i < threshold; i++) call(breaker, "a", 0, Exit.interrupt())
    assert.strictEqual(breaker.admit("a", 0, none)._tag, "Admitted")
    assert.deepStrictEqual(transitions, [])
  })

  it("circuits are per key: 'a' open, 'b' still admits", () => {
    const { breaker } = make()
    open(breaker, "a", 0)
    assert.strictEqual(breaker.admit("a", 1, none)._tag, "Refused")
    assert.strictEqual(breaker.admit("b", 1, none)._tag, "Admitted")
    assert.strictEqual(breaker.openCircuits(), 1)
  })
})

describe("memoryBreaker: open and half-open", () => {
  it("open at t=5000 for 1000 ms: refused at 5000 (1000 ms left) and 5999 (1 ms left), a probe at 6000", () => {
    const { breaker, transitions } = make()
    open(breaker, "a", 5_000)
    assert.deepStrictEqual(breaker.admit("a", 5_000, none), { _tag: "Refused", state: "Open", retryAfterMillis: 1_000 })
    assert.deepStrictEqual(breaker.admit("a", 5_999, none), { _tag: "Refused", state: "Open", retryAfterMillis: 1 })
    const probe = admitted(breaker, "a", 6_000)
    assert.isTrue(probe.probe)
    assert.deepStrictEqual(transitions, ["closed->open", "open->half_open"])
  })

  it("while the probe runs, other calls are refused as half-open with min(openDuration, halfOpenRetry) = 200 ms", () => {
    const { breaker } = make()
    open(breaker, "a", 0)
    admitted(breaker, "a", openMillis)
    assert.deepStrictEqual(breaker.admit("a", openMillis + 50, none), {
      _tag: "Refused",
      state: "HalfOpen",
      retryAfterMillis: halfOpenRetryMillis
    })
    const short = MemoryBreaker.make(threshold, 100, 500)
    open(short, "a", 0)
    admitted(short, "a", 100)
    assert.deepStrictEqual(short.admit("a", 100, none), { _tag: "Refused", state: "HalfOpen", retryAfterMillis: 100 })
  })

  it("a probe that succeeds closes the circuit (half_open->closed) and clears the failures", () => {
    const { breaker, transitions } = make()
    open(breaker, "a", 0)
    breaker.settle(admitted(breaker, "a", openMillis), ok, plain, openMillis, none)
    assert.deepStrictEqual(transitions, ["closed->open", "open->half_open", "half_open->closed"])
    assert.strictEqual(breaker.openCircuits(), 0)
    // The count starts from zero: two failures do not open it again.
    call(breaker, "a", openMillis, fail)
    call(breaker, "a", openMillis, fail)
    assert.strictEqual(breaker.admit("a", openMillis, none)._tag, "Admitted")
  })

  it("a probe that fails at t=1500 opens the circuit again until 2500, then the next probe is announced again", () => {
    const { breaker, transitions } = make()
    open(breaker, "a", 0)
    breaker.settle(admitted(breaker, "a", 1_200), fail, plain, 1_500, none)
    assert.deepStrictEqual(transitions, ["closed->open", "open->half_open", "half_open->open"])
    assert.deepStrictEqual(breaker.admit("a", 2_499, none), { _tag: "Refused", state: "Open", retryAfterMillis: 1 })
    assert.isTrue(admitted(breaker, "a", 2_500).probe)
    assert.deepStrictEqual(transitions.at(-1), "open->half_open")
  })

  it("an ignored or interrupted probe frees the slot: the next call is the probe, with no second open->half_open", () => {
    const { breaker, transitions } = make()
    open(breaker, "a", 0)
    breaker.settle(admitted(breaker, "a", openMillis), fail, ignored, openMillis, none)
    breaker.settle(admitted(breaker, "a", openMillis), Exit.interrupt(), plain, openMillis, none)
    const third = admitted(breaker, "a", openMillis)
    assert.isTrue(third.probe)
    assert.deepStrictEqual(transitions, ["closed->open", "open->half_open"])
    assert.strictEqual(breaker.openCircuits(), 1)
  })

  it("a call admitted before the circuit opened changes nothing when it ends: its success does not close it", () => {
    const { breaker, transitions } = make()
    const early = admitted(breaker, "a", 0)
    const late = admitted(breaker, "a", 0)
    open(breaker, "a", 10)
    breaker.settle(early, ok, plain, 20, none)
    breaker.settle(late, fail, plain, 500, none)
    assert.deepStrictEqual(breaker.admit("a", 20, none), { _tag: "Refused", state: "Open", retryAfterMillis: 990 })
    assert.deepStrictEqual(transitions, ["closed->open"])
  })
})

describe("memoryBreaker: bounded", () => {
  it("past 10,000 keys a closed circuit without failures is dropped, never an open one", () => {
    const { breaker } = make()
    open(breaker, "open-first", 0)
    call(breaker, "failing", 0, fail)
    for (let i = 0; i < 10_000; i++) call(breaker, `key-${i}`, 0, ok)
    assert.strictEqual(breaker.admit("open-first", 1, none)._tag, "Refused")
    // "failing" kept its failure: two more open it.
    call(breaker, "failing", 1, fail)
    call(breaker, "failing", 1, fail)
    assert.strictEqual(breaker.admit("failing", 1, none)._tag, "Refused")
  })
})

/** A refusal as the error `execute` fails with. */
const refused = (refusal: MemoryBreaker.Refusal) => `refused ${refusal.state} ${refusal.retryAfterMillis}`

describe("memoryBreaker.execute under TestClock", () => {
  it.effect("3 failures open it; refused 1000 ms, then 999 ms after 1 ms; the probe after 1000 ms closes it", () =>
    Effect.gen(function*() {
      const { breaker, transitions } = make()
      const run = <A>(effect: Effect.Effect<A, string>) => breaker.execute("a", effect, plain, refused)
      for (let i = 0; i < threshold; i++) assert.strictEqual(yield* Effect.flip(run(Effect.fail("boom"))), "boom")
      assert.strictEqual(yield* Effect.flip(run(Effect.succeed(1))), "refused Open 1000")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Effect.flip(run(Effect.succeed(1))), "refused Open 999")
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* run(Effect.succeed(1)), 1)
      assert.deepStrictEqual(transitions, ["closed->open", "open->half_open", "half_open->closed"])
    }))

  it.effect("a probe that takes 500 ms: calls meanwhile are refused half-open; its failure reopens at its end", () =>
    Effect.gen(function*() {
      const { breaker, transitions } = make()
      const run = <A>(effect: Effect.Effect<A, string>) => breaker.execute("a", effect, plain, refused)
      for (let i = 0; i < threshold; i++) yield* Effect.flip(run(Effect.fail("boom")))
      yield* TestClock.adjust("1000 millis")
      const probe = yield* Effect.forkChild(
        Effect.flip(run(Effect.sleep("500 millis").pipe(Effect.andThen(Effect.fail("slow")))))
      )
      yield* Effect.yieldNow
      assert.strictEqual(yield* Effect.flip(run(Effect.succeed(1))), "refused HalfOpen 200")
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(probe), "slow")
      // Opened again when the probe ended (t=1500), not when it began.
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* Effect.flip(run(Effect.succeed(1))), "refused Open 1")
      assert.deepStrictEqual(transitions, ["closed->open", "open->half_open", "half_open->open"])
    }))
})

describe("memoryBreaker: bounded keys", () => {
  it("the default cap of 10,000 keys holds with 10,050 failing hosts (all open): the oldest are forgotten", () => {
    const breaker = MemoryBreaker.make(1, openMillis, halfOpenRetryMillis)
    for (let i = 0; i < MemoryBreaker.defaultMaxKeys + 50; i++) call(breaker, `h${i}`, 0, fail)
    assert.strictEqual(breaker.openCircuits(), MemoryBreaker.defaultMaxKeys)
    // The first 50 were evicted: their hosts get calls again; the last one is still open.
    assert.strictEqual(breaker.admit("h0", 0, none)._tag, "Admitted")
    assert.strictEqual(breaker.admit(`h${MemoryBreaker.defaultMaxKeys + 49}`, 0, none)._tag, "Refused")
  })

  it("at the cap, the least recently used goes first: a key used again is kept", () => {
    const transitions: Array<string> = []
    const breaker = MemoryBreaker.make(1, openMillis, halfOpenRetryMillis, (_, from, to, key) => {
      transitions.push(`${key}:${from}->${to}`)
    }, 100)
    for (let i = 0; i < 100; i++) call(breaker, `h${i}`, 0, fail)
    assert.strictEqual(breaker.admit("h0", 0, none)._tag, "Refused", "h0 used again, now the most recent")
    call(breaker, "new", 0, ok)
    assert.strictEqual(breaker.openCircuits(), 99, "one open circuit evicted for the new key")
    assert.strictEqual(breaker.admit("h0", 0, none)._tag, "Refused")
    assert.include(transitions, "h1:open->closed", "h1, the least recently used, was forgotten and reported closed")
  })

  it("closed idle circuits are evicted before failed or open ones, and a circuit with a call in flight is kept", () => {
    const breaker = MemoryBreaker.make(1, openMillis, halfOpenRetryMillis, () => {}, 100)
    const inFlight = admitted(breaker, "busy", 0)
    for (let i = 0; i < 50; i++) call(breaker, `open${i}`, 0, fail)
    for (let i = 0; i < 49; i++) call(breaker, `idle${i}`, 0, ok)
    // At the cap (100). Ten new keys evict ten closed idle circuits, not "busy" nor an open one.
    for (let i = 0; i < 10; i++) call(breaker, `new${i}`, 0, ok)
    assert.strictEqual(breaker.openCircuits(), 50)
    breaker.settle(inFlight, fail, plain, 0, none)
    assert.strictEqual(breaker.openCircuits(), 51, "the call in flight settled on its own circuit and opened it")
    assert.strictEqual(breaker.admit("busy", 0, none)._tag, "Refused")
  })

  it("with every circuit busy (25 calls in flight, cap 10), the cap still holds: the least recently used go", () => {
    const breaker = MemoryBreaker.make(1, openMillis, halfOpenRetryMillis, () => {}, 10)
    const admissions = Array.from({ length: 25 }, (_, i) => admitted(breaker, `busy${i}`, 0))
    for (const admission of admissions) breaker.settle(admission, fail, plain, 0, none)
    assert.strictEqual(breaker.openCircuits(), 10)
    assert.strictEqual(breaker.admit("busy0", 0, none)._tag, "Admitted", "evicted: forgotten")
    assert.strictEqual(breaker.admit("busy24", 0, none)._tag, "Refused")
  })
})

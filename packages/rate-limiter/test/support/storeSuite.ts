/**
 * The contract every `LimiterStore` keeps, written once and run for each
 * backend (memory, local SQLite file, Redis). The memory store runs on
 * `TestClock`, so its delays are asserted exactly. The local and Redis stores
 * keep real time (the machine's clock, Redis's `TIME`), which passes between
 * one call and the next, by more on a loaded machine: their delays are
 * asserted between the arithmetic less the real time the test has run and the
 * arithmetic (see `Near`), never within a fixed number of milliseconds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as LimiterStore from "../../src/LimiterStore.ts"
import { rateItem, windowItem } from "./items.ts"

/** A fresh id per test, so tests never share state in a shared store. */
const freshId = (label: string) => `test:${label}:${crypto.randomUUID()}`

const granted = (reservation: LimiterStore.Reservation): number => {
  assert.strictEqual(reservation._tag, "Granted", JSON.stringify(reservation))
  return reservation._tag === "Granted" ? reservation.delayMillis : Number.NaN
}

/** The booked instant of a reservation granted with a delay by a store that can cancel it. */
const atOf = (reservation: LimiterStore.Reservation): number => {
  const at = reservation._tag === "Granted" ? reservation.at : undefined
  assert.isDefined(at, JSON.stringify(reservation))
  return at ?? Number.NaN
}

/**
 * Asserts that a delay the store gave (a wait, a retry-after) is its
 * arithmetic value `expected`, the value it has at the instant the test
 * began. Every such delay counts down to an instant booked in the store, so
 * real time only shortens it: on a real clock it lies between `expected` less
 * the time the test has run (measured once the answer is in, so it covers the
 * store's own reading of its clock) and `expected`, give or take `slackMillis`
 * of rounding; on `TestClock`, it is exact. On a quiet machine a test runs a
 * few milliseconds, so a wrong slot (100 ms and more) is caught; a loaded
 * machine widens the span by just the time it took, and never fails a right
 * answer.
 */
type Near = (actual: number, expected: number, what: string) => void

/** A `Near` whose real time counts from now. */
const nearFrom = (options: SuiteOptions): Near => {
  const started = performance.now()
  return (actual, expected, what) => {
    const ran = options.realClock ? performance.now() - started : 0
    const low = Math.max(0, expected - ran) - options.slackMillis
    const high = expected + options.slackMillis
    assert.ok(
      actual >= low && actual <= high,
      `${what}: ${actual} ms, expected ${expected} ms less the ${ran.toFixed(1)} ms the test has run ` +
        `(${low.toFixed(1)} to ${high.toFixed(1)} ms)`
    )
  }
}

/** Options of one backend's run of the suite. */
export interface SuiteOptions {
  /**
   * Whether the store keeps real time (the machine's clock, Redis's `TIME`) rather than Effect's `Clock`: then
   * time passes between calls, and a delay may be shorter than its arithmetic by the time the test has run.
   */
  readonly realClock: boolean
  /** How far a delay may be from the arithmetic for rounding alone, in ms. */
  readonly slackMillis: number
  /** Lets real time pass (a live sleep), or moves the `TestClock`. */
  readonly pass: (millis: number) => Effect.Effect<void>
  /** Runs on the live clock (stores that keep real time, whose own timeouts must fire); default `TestClock`. */
  readonly live?: boolean | undefined
  /** Whether the store gives back bookings not yet due (`cancel`); those without leave them booked. */
  readonly cancels: boolean
  /**
   * The most keys the store holds, when it has a bound (the memory store's `maxKeys`): past it, a new key is
   * refused with `RateLimiterUnavailableError` while every key held still limits something. Stores without one
   * hold every key whose state matters.
   */
  readonly maxKeys?: number | undefined
}

/** Runs the store contract against `layer`. */
export const storeSuite = <E>(
  name: string,
  layer: Layer.Layer<LimiterStore.LimiterStore, E>,
  options: SuiteOptions
) => {
  /** One test on a store of `layer`, whose `near` counts real time from the test's start. */
  const test = (title: string, body: (store: LimiterStore.Store, near: Near) => Effect.Effect<void, unknown>) =>
    (options.live === true ? it.live : it.effect)(title, () =>
      Effect.gen(function*() {
        const store = yield* LimiterStore.LimiterStore
        yield* body(store, nearFrom(options))
      }).pipe(Effect.provide(layer)))

  return describe(`LimiterStore contract: ${name}`, () => {
    test(
      "a sliding window admits its limit at once, then books the next slot when the oldest leaves, paced",
      (store, near) =>
        Effect.gen(function*() {
          const item = windowItem(freshId("window"), 3, 1_000)
          for (let i = 0; i < 3; i++) {
            near(
              granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })),
              0,
              "burst"
            )
          }
          const refused = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })
          assert.strictEqual(refused._tag, "Refused")
          if (refused._tag === "Refused") near(refused.retryAfterMillis, 1_000, "retry after")
          const fourth = granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 }))
          near(fourth, 1_000, "fourth")
          // The window has room at 1 s too, but a waiting request is paced behind the last booking
          // (1000 / 3 ms per unit), so the queue drains evenly.
          const fifth = granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 }))
          near(fifth, 1_000 + 1_000 / 3, "fifth")
        })
    )

    test("a refusal books nothing", (store, near) =>
      Effect.gen(function*() {
        const item = windowItem(freshId("refuse"), 1, 1_000)
        granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 }))
        for (let i = 0; i < 5; i++) {
          const refused = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 10 })
          assert.strictEqual(refused._tag, "Refused")
        }
        near(
          granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 })),
          1_000,
          "after refusals"
        )
      }))

    test("a rate spaces requests evenly after its burst", (store, near) =>
      Effect.gen(function*() {
        const item = rateItem(freshId("rate"), 10, 1_000, 2)
        const delays: Array<number> = []
        for (let i = 0; i < 5; i++) {
          delays.push(granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 })))
        }
        ;[0, 0, 100, 200, 300].forEach((expected, i) => near(delays[i]!, expected, `request ${i}`))
      }))

    test("a token cost spends that many units", (store, near) =>
      Effect.gen(function*() {
        const item = windowItem(freshId("tokens"), 100, 1_000, 60)
        granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 }))
        const refused = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })
        assert.strictEqual(refused._tag, "Refused")
        const small = windowItem(item.id, 100, 1_000, 40)
        near(
          granted(yield* store.reserve({ items: [small], blockKey: undefined, maxWaitMillis: 0 })),
          0,
          "40"
        )
      }))

    test("stacked items are booked at one instant, or not at all", (store, near) =>
      Effect.gen(function*() {
        const global = windowItem(freshId("global"), 10, 1_000)
        const host = windowItem(freshId("host"), 1, 1_000)
        granted(yield* store.reserve({ items: [global, host], blockKey: undefined, maxWaitMillis: 0 }))
        const refused = yield* store.reserve({ items: [global, host], blockKey: undefined, maxWaitMillis: 0 })
        assert.strictEqual(refused._tag, "Refused")
        if (refused._tag === "Refused") assert.strictEqual(refused.item, 1)
        // The global window spent only one unit: the refusal did not book it.
        for (let i = 0; i < 9; i++) {
          near(
            granted(yield* store.reserve({ items: [global], blockKey: undefined, maxWaitMillis: 0 })),
            0,
            "global"
          )
        }
        assert.strictEqual(
          (yield* store.reserve({ items: [global], blockKey: undefined, maxWaitMillis: 0 }))._tag,
          "Refused"
        )
      }))

    test("a block holds every request of its key, and only of its key", (store, near) =>
      Effect.gen(function*() {
        const key = freshId("blocked")
        const item = windowItem(freshId("item"), 100, 1_000)
        // A second, so the calls below see it live on any machine.
        yield* store.block(key, 1_000)
        // A shorter block later does not shorten it.
        yield* store.block(key, 100)
        const refused = yield* store.reserve({ items: [item], blockKey: key, maxWaitMillis: 0 })
        assert.strictEqual(refused._tag, "Refused")
        if (refused._tag === "Refused") {
          near(refused.retryAfterMillis, 1_000, "block")
          assert.strictEqual(refused.item, -1)
        }
        // Refused even when the caller would wait: a block books nothing ahead.
        const waiting = yield* store.reserve({ items: [item], blockKey: key, maxWaitMillis: 5_000 })
        assert.strictEqual(waiting._tag, "Refused")
        if (waiting._tag === "Refused") near(waiting.retryAfterMillis, 1_000, "block, waiting")
        // So another key sharing the item goes at once.
        near(
          granted(yield* store.reserve({ items: [item], blockKey: freshId("other"), maxWaitMillis: 0 })),
          0,
          "another key"
        )
        yield* options.pass(1_100)
        near(granted(yield* store.reserve({ items: [item], blockKey: key, maxWaitMillis: 0 })), 0, "after")
      }))

    test(
      "ids, keys and tokens are kept exactly: lone UTF-16 surrogates do not make two ids one",
      (store, near) =>
        Effect.gen(function*() {
          const base = freshId("surrogate")
          const lone = `${base}-\ud800`
          // The last looks like what a store might escape the first to: it is an id of its own too.
          const lookAlike = `\ufffe${Array.from(lone, (c) => c.charCodeAt(0).toString(16).padStart(4, "0")).join("")}`
          const ids = [lone, `${base}-\udfff`, `${base}-\ufffd`, `${base}-\udc00\ud800`, lookAlike]
          for (const id of ids) {
            granted(yield* store.reserve({ items: [windowItem(id, 1, 60_000)], blockKey: undefined, maxWaitMillis: 0 }))
          }
          // Each id is held by its own booking, and only by it.
          for (const id of ids) {
            const refused = yield* store.reserve({
              items: [windowItem(id, 1, 60_000)],
              blockKey: undefined,
              maxWaitMillis: 0
            })
            assert.strictEqual(refused._tag, "Refused", id)
          }
          yield* store.block(`${base}-\ud800`, 60_000)
          const item = windowItem(freshId("free"), 100, 1_000)
          near(
            granted(yield* store.reserve({ items: [item], blockKey: `${base}-\udfff`, maxWaitMillis: 0 })),
            0,
            "another key"
          )
          const lease = (id: string, token: string) => store.lease({ id, max: 1, token, leaseMillis: 60_000 })
          assert.strictEqual((yield* lease(`${base}-\ud800`, "t"))._tag, "Granted")
          assert.strictEqual((yield* lease(`${base}-\udfff`, "t"))._tag, "Granted")
          // A token is the holder's: releasing a look-alike frees nothing.
          yield* store.release(`${base}-\ud800`, "t\ud800")
          assert.strictEqual((yield* lease(`${base}-\ud800`, "u"))._tag, "Full")
          yield* store.release(`${base}-\ud800`, "t")
          assert.strictEqual((yield* lease(`${base}-\ud800`, "u"))._tag, "Granted")
        })
    )

    test(
      "a booking not yet due is given back by cancel when the store can: a window's any, a rate's latest",
      (store, near) =>
        Effect.gen(function*() {
          const reserve = (item: LimiterStore.Item) =>
            store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 60_000 })
          const window = windowItem(freshId("cancel-window"), 1, 10_000)
          granted(yield* reserve(window))
          const waiting = yield* reserve(window)
          near(granted(waiting), 10_000, "booked")
          const later = yield* reserve(window)
          near(granted(later), 20_000, "booked after")
          const cancel = store.cancel
          if (!options.cancels) {
            assert.strictEqual(cancel, undefined)
            return
          }
          assert.isDefined(cancel, "a store that cancels has cancel")
          if (cancel === undefined) return
          // In any order: the earlier first. Both slots are free again, so the next waits only for the first.
          yield* cancel({ items: [window], at: atOf(waiting) })
          yield* cancel({ items: [window], at: atOf(later) })
          near(granted(yield* reserve(window)), 10_000, "the freed slots")
          const rate = rateItem(freshId("cancel-rate"), 1, 10_000, 1)
          granted(yield* reserve(rate))
          const first = atOf(yield* reserve(rate))
          const second = atOf(yield* reserve(rate))
          yield* cancel({ items: [rate], at: second })
          near(granted(yield* reserve(rate)), 20_000, "rate: the latest booking freed")
          // An earlier booking is not the latest: taking it back would let the next in an interval early.
          yield* cancel({ items: [rate], at: first })
          near(granted(yield* reserve(rate)), 30_000, "rate: an earlier booking stays")
        })
    )

    test(
      "a live limit is never forgotten, however many other keys go through: one a minute stays refused after maxKeys other keys (or 1,000), and a store full of live limits refuses a new key with RateLimiterUnavailableError until one frees",
      (store, near) => {
        const take = (id: string) =>
          store.reserve({ items: [windowItem(id, 1, 60_000)], blockKey: undefined, maxWaitMillis: 0 })
        return Effect.gen(function*() {
          const victim = freshId("victim")
          granted(yield* take(victim))
          const others = options.maxKeys ?? 1_000
          const outcomes = { granted: 0, full: [] as Array<string> }
          for (let i = 0; i < others; i++) {
            const result = yield* Effect.result(take(freshId(`other-${i}`)))
            if (result._tag === "Success") {
              granted(result.success)
              outcomes.granted++
              continue
            }
            assert.strictEqual(result.failure._tag, "RateLimiterUnavailableError")
            assert.isTrue(result.failure.retryable)
            outcomes.full.push(result.failure.detail)
          }
          // The limit of one a minute holds: the victim was not forgotten to make room for the others.
          const again = yield* take(victim)
          assert.strictEqual(again._tag, "Refused", JSON.stringify(again))
          // On a store that keeps real time, the minute has been running while the others went through.
          if (again._tag === "Refused") near(again.retryAfterMillis, 60_000, "victim")
          if (options.maxKeys === undefined) {
            assert.strictEqual(outcomes.granted, others)
            return
          }
          // The victim holds one place: the others filled the rest, and every later one was refused, saying why.
          assert.strictEqual(outcomes.granted, options.maxKeys - 1)
          assert.strictEqual(outcomes.full.length, 1)
          assert.match(outcomes.full[0]!, new RegExp(`maxKeys \\(${options.maxKeys}\\)`))
          assert.match(outcomes.full[0]!, /the first frees in 60000 ms; raise maxKeys/)
          // Once the first limits have recovered, their places serve new keys (and the victim is free again).
          yield* options.pass(60_000)
          granted(yield* take(freshId("after")))
          granted(yield* take(victim))
        })
      }
    )

    test("leases admit at most max at once; a release or an expiry frees one", (store, near) =>
      Effect.gen(function*() {
        const id = freshId("lease")
        const take = (token: string, leaseMillis = 60_000) => store.lease({ id, max: 2, token, leaseMillis })
        assert.strictEqual((yield* take("a"))._tag, "Granted")
        // A second: live through the calls below on any machine, then expired by `pass`.
        assert.strictEqual((yield* take("b", 1_000))._tag, "Granted")
        const full = yield* take("c")
        assert.strictEqual(full._tag, "Full")
        if (full._tag === "Full") near(full.retryAfterMillis, 1_000, "first expiry")
        yield* store.release(id, "a")
        assert.strictEqual((yield* take("c"))._tag, "Granted")
        assert.strictEqual((yield* take("d"))._tag, "Full")
        yield* options.pass(1_100)
        // "b" expired: a holder that died gives its slot back.
        assert.strictEqual((yield* take("d"))._tag, "Granted")
        yield* store.release(id, "unknown")
      }))
  })
}

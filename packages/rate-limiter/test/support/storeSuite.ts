/**
 * The contract every `LimiterStore` keeps, written once and run for each
 * backend (memory, local SQLite file, Redis). Stores keep their own time, so
 * delays are asserted within `tolerance` milliseconds of the arithmetic
 * (zero for the memory store, which runs on `TestClock`).
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

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} ms, expected ${expected} ms within ${tolerance} ms`
  )

/** Options of one backend's run of the suite. */
export interface SuiteOptions {
  /** How far a delay may be from the arithmetic, in ms (time passes between calls on a real clock). */
  readonly tolerance: number
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
) =>
  describe(`LimiterStore contract: ${name}`, () => {
    const test = (title: string, body: (store: LimiterStore.Store) => Effect.Effect<void, unknown>) =>
      (options.live === true ? it.live : it.effect)(title, () =>
        Effect.gen(function*() {
          const store = yield* LimiterStore.LimiterStore
          yield* body(store)
        }).pipe(Effect.provide(layer)))
    const { tolerance } = options

    test("a sliding window admits its limit at once, then books the next slot when the oldest leaves, paced", (store) =>
      Effect.gen(function*() {
        const item = windowItem(freshId("window"), 3, 1_000)
        for (let i = 0; i < 3; i++) {
          near(
            granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })),
            0,
            tolerance,
            "burst"
          )
        }
        const refused = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })
        assert.strictEqual(refused._tag, "Refused")
        if (refused._tag === "Refused") near(refused.retryAfterMillis, 1_000, tolerance, "retry after")
        const fourth = granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 }))
        near(fourth, 1_000, tolerance, "fourth")
        // The window has room at 1 s too, but a waiting request is paced behind the last booking
        // (1000 / 3 ms per unit), so the queue drains evenly.
        const fifth = granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 }))
        near(fifth, 1_000 + 1_000 / 3, tolerance, "fifth")
      }))

    test("a refusal books nothing", (store) =>
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
          tolerance,
          "after refusals"
        )
      }))

    test("a rate spaces requests evenly after its burst", (store) =>
      Effect.gen(function*() {
        const item = rateItem(freshId("rate"), 10, 1_000, 2)
        const delays: Array<number> = []
        for (let i = 0; i < 5; i++) {
          delays.push(granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 5_000 })))
        }
        ;[0, 0, 100, 200, 300].forEach((expected, i) => near(delays[i]!, expected, tolerance, `request ${i}`))
      }))

    test("a token cost spends that many units", (store) =>
      Effect.gen(function*() {
        const item = windowItem(freshId("tokens"), 100, 1_000, 60)
        granted(yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 }))
        const refused = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })
        assert.strictEqual(refused._tag, "Refused")
        const small = windowItem(item.id, 100, 1_000, 40)
        near(
          granted(yield* store.reserve({ items: [small], blockKey: undefined, maxWaitMillis: 0 })),
          0,
          tolerance,
          "40"
        )
      }))

    test("stacked items are booked at one instant, or not at all", (store) =>
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
            tolerance,
            "global"
          )
        }
        assert.strictEqual(
          (yield* store.reserve({ items: [global], blockKey: undefined, maxWaitMillis: 0 }))._tag,
          "Refused"
        )
      }))

    test("a block holds every request of its key, and only of its key", (store) =>
      Effect.gen(function*() {
        const key = freshId("blocked")
        const item = windowItem(freshId("item"), 100, 1_000)
        yield* store.block(key, 500)
        // A shorter block later does not shorten it.
        yield* store.block(key, 100)
        const refused = yield* store.reserve({ items: [item], blockKey: key, maxWaitMillis: 0 })
        assert.strictEqual(refused._tag, "Refused")
        if (refused._tag === "Refused") {
          near(refused.retryAfterMillis, 500, tolerance, "block")
          assert.strictEqual(refused.item, -1)
        }
        // Refused even when the caller would wait: a block books nothing ahead.
        const waiting = yield* store.reserve({ items: [item], blockKey: key, maxWaitMillis: 5_000 })
        assert.strictEqual(waiting._tag, "Refused")
        if (waiting._tag === "Refused") near(waiting.retryAfterMillis, 500, tolerance, "block, waiting")
        // So another key sharing the item goes at once.
        near(
          granted(yield* store.reserve({ items: [item], blockKey: freshId("other"), maxWaitMillis: 0 })),
          0,
          tolerance,
          "another key"
        )
        yield* options.pass(600)
        near(granted(yield* store.reserve({ items: [item], blockKey: key, maxWaitMillis: 0 })), 0, tolerance, "after")
      }))

    test("ids, keys and tokens are kept exactly: lone UTF-16 surrogates do not make two ids one", (store) =>
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
          tolerance,
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
      }))

    test("a booking not yet due is given back by cancel when the store can: a window's any, a rate's latest", (store) =>
      Effect.gen(function*() {
        const reserve = (item: LimiterStore.Item) =>
          store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 60_000 })
        const window = windowItem(freshId("cancel-window"), 1, 10_000)
        granted(yield* reserve(window))
        const waiting = yield* reserve(window)
        near(granted(waiting), 10_000, tolerance, "booked")
        const later = yield* reserve(window)
        near(granted(later), 20_000, tolerance, "booked after")
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
        near(granted(yield* reserve(window)), 10_000, tolerance, "the freed slots")
        const rate = rateItem(freshId("cancel-rate"), 1, 10_000, 1)
        granted(yield* reserve(rate))
        const first = atOf(yield* reserve(rate))
        const second = atOf(yield* reserve(rate))
        yield* cancel({ items: [rate], at: second })
        near(granted(yield* reserve(rate)), 20_000, tolerance, "rate: the latest booking freed")
        // An earlier booking is not the latest: taking it back would let the next in an interval early.
        yield* cancel({ items: [rate], at: first })
        near(granted(yield* reserve(rate)), 30_000, tolerance, "rate: an earlier booking stays")
      }))

    test("a live limit is never forgotten, however many other keys go through: one a minute stays refused after maxKeys other keys (or 1,000), and a store full of live limits refuses a new key with RateLimiterUnavailableError until one frees", (store) => {
      const take = (id: string) =>
        store.reserve({ items: [windowItem(id, 1, 60_000)], blockKey: undefined, maxWaitMillis: 0 })
      return Effect.gen(function*() {
        const victim = freshId("victim")
        granted(yield* take(victim))
        const started = performance.now()
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
        const elapsed = tolerance === 0 ? 0 : performance.now() - started
        if (again._tag === "Refused") near(again.retryAfterMillis, 60_000 - elapsed, tolerance, "victim")
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
    })

    test("leases admit at most max at once; a release or an expiry frees one", (store) =>
      Effect.gen(function*() {
        const id = freshId("lease")
        const take = (token: string, leaseMillis = 60_000) => store.lease({ id, max: 2, token, leaseMillis })
        assert.strictEqual((yield* take("a"))._tag, "Granted")
        assert.strictEqual((yield* take("b", 300))._tag, "Granted")
        const full = yield* take("c")
        assert.strictEqual(full._tag, "Full")
        if (full._tag === "Full") near(full.retryAfterMillis, 300, tolerance, "first expiry")
        yield* store.release(id, "a")
        assert.strictEqual((yield* take("c"))._tag, "Granted")
        assert.strictEqual((yield* take("d"))._tag, "Full")
        yield* options.pass(400)
        // "b" expired: a holder that died gives its slot back.
        assert.strictEqual((yield* take("d"))._tag, "Granted")
        yield* store.release(id, "unknown")
      }))
  })

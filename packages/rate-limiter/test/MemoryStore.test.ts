import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as LimiterStore from "../src/LimiterStore.ts"
import { storeSuite } from "./support/storeSuite.ts"

storeSuite("memory", LimiterStore.layerMemory(), {
  realClock: false,
  slackMillis: 0,
  pass: (millis) => TestClock.adjust(millis),
  cancels: true,
  maxKeys: 10_000
})

const item = (id: string) => ({ id, kind: "window" as const, limit: 1, windowMillis: 1_000, burst: 1, cost: 1 })

/** An item whose state matters for 10 minutes. */
const long = (id: string) => ({ ...item(id), windowMillis: 600_000 })

it.effect("the memory store keeps at most maxKeys keys, forgetting expired state first", () =>
  Effect.gen(function*() {
    const store = yield* LimiterStore.makeMemory({ maxKeys: 3 })
    const take = (id: string) => store.reserve({ items: [item(id)], blockKey: undefined, maxWaitMillis: 0 })
    yield* take("a")
    yield* TestClock.adjust(2_000)
    yield* take("b")
    yield* take("c")
    // "a" no longer matters, so it goes first; "b" and "c" are still full.
    yield* take("d")
    assert.strictEqual((yield* take("b"))._tag, "Refused")
    assert.strictEqual((yield* take("c"))._tag, "Refused")
  }))

it.effect("a maxKeys that is not a whole number of at least 1 fails with PolicyError, rather than lifting the bound", () =>
  Effect.gen(function*() {
    for (const maxKeys of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
      const error = yield* Effect.flip(LimiterStore.makeMemory({ maxKeys }))
      assert.strictEqual(error._tag, "PolicyError")
      assert.deepStrictEqual(error.problems.map((problem) => problem.setting), ["maxKeys"])
    }
    const fromLayer = yield* Effect.flip(
      Effect.provide(Effect.service(LimiterStore.LimiterStore), LimiterStore.layerMemory({ maxKeys: Number.NaN }))
    )
    assert.strictEqual(
      fromLayer.message,
      "invalid rate limiter configuration: maxKeys is NaN, expected a whole number of at least 1"
    )
  }))

it.effect("a full memory store makes room in O(log n) a key: 20,000 new keys refused while the first 20,000 still limit, then 20,000 taking their places once they recovered, each cost about what filling it did", () =>
  Effect.gen(function*() {
    const maxKeys = 20_000
    const store = yield* LimiterStore.makeMemory({ maxKeys })
    const take = (id: string) =>
      Effect.result(store.reserve({ items: [long(id)], blockKey: undefined, maxWaitMillis: 0 }))
    const takeAll = (from: number, outcome: "Success" | "Failure") =>
      Effect.gen(function*() {
        const started = performance.now()
        for (let i = from; i < from + maxKeys; i++) assert.strictEqual((yield* take(`k${i}`))._tag, outcome)
        return performance.now() - started
      })
    const filling = yield* takeAll(0, "Success")
    // Every key limits for 10 minutes: a new one is refused (a pass over every key for each would take seconds).
    const refusing = yield* takeAll(maxKeys, "Failure")
    assert.isBelow(refusing, 10 * filling + 500, `filling ${filling} ms, refusing ${refusing} ms`)
    // Recovered: each new key takes the place of one that limits nothing any more.
    yield* TestClock.adjust(600_000)
    const replacing = yield* takeAll(2 * maxKeys, "Success")
    assert.isBelow(replacing, 10 * filling + 500, `filling ${filling} ms, replacing ${replacing} ms`)
    // The newest keys are held and limit; the first were forgotten only once they limited nothing.
    const last = yield* take(`k${3 * maxKeys - 1}`)
    assert.ok(last._tag === "Success" && last.success._tag === "Refused", String(last))
  }))

it.effect("a live block and live leases are never forgotten for a new key either: the new key is refused, the block and the slot still hold", () =>
  Effect.gen(function*() {
    const store = yield* LimiterStore.makeMemory({ maxKeys: 2 })
    yield* store.block("held", 60_000)
    assert.strictEqual((yield* store.lease({ id: "pool", max: 1, token: "a", leaseMillis: 60_000 }))._tag, "Granted")
    const refused = yield* Effect.flip(store.reserve({ items: [item("new")], blockKey: undefined, maxWaitMillis: 0 }))
    assert.strictEqual(refused._tag, "RateLimiterUnavailableError")
    assert.strictEqual(refused.backend, "memory")
    assert.match(refused.detail, /maxKeys \(2\) keys whose limits still apply.*the first frees in 60000 ms/)
    assert.strictEqual((yield* Effect.flip(store.block("other", 1_000)))._tag, "RateLimiterUnavailableError")
    assert.strictEqual(
      (yield* Effect.flip(store.lease({ id: "other", max: 1, token: "b", leaseMillis: 1_000 })))._tag,
      "RateLimiterUnavailableError"
    )
    const blocked = yield* store.reserve({ items: [], blockKey: "held", maxWaitMillis: 0 })
    assert.ok(blocked._tag === "Refused" && blocked.item === -1, JSON.stringify(blocked))
    assert.strictEqual((yield* store.lease({ id: "pool", max: 1, token: "c", leaseMillis: 60_000 }))._tag, "Full")
    // A release frees its key's place at once.
    yield* store.release("pool", "a")
    assert.strictEqual(
      (yield* store.reserve({ items: [item("new")], blockKey: undefined, maxWaitMillis: 0 }))._tag,
      "Granted"
    )
  }))

it.effect("a state shared by a window and a rate of one name is held as long as the later of the two needs it", () =>
  Effect.gen(function*() {
    const store = yield* LimiterStore.makeMemory({ maxKeys: 1 })
    const window = long("shared")
    const rate = { ...window, kind: "rate" as const, windowMillis: 1_000 }
    const take = (one: LimiterStore.Item) =>
      Effect.result(store.reserve({ items: [one], blockKey: undefined, maxWaitMillis: 0 }))
    yield* take(window)
    yield* take(rate)
    // The rate's part is over; the window's entry still counts for almost 10 minutes.
    yield* TestClock.adjust(1_100)
    assert.strictEqual((yield* take(item("new")))._tag, "Failure")
    const again = yield* take(window)
    assert.ok(again._tag === "Success" && again.success._tag === "Refused", String(again))
  }))

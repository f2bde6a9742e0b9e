import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as LimiterStore from "../src/LimiterStore.ts"
import { storeSuite } from "./support/storeSuite.ts"

storeSuite("memory", LimiterStore.layerMemory(), {
  tolerance: 0,
  pass: (millis) => TestClock.adjust(millis),
  cancels: true
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

it.effect("a full memory store makes room in O(1) amortised: 20,000 keys past its bound cost about what filling it did", () =>
  Effect.gen(function*() {
    const maxKeys = 20_000
    const store = yield* LimiterStore.makeMemory({ maxKeys })
    const takeAll = (from: number) =>
      Effect.gen(function*() {
        const started = performance.now()
        for (let i = from; i < from + maxKeys; i++) {
          yield* store.reserve({ items: [long(`k${i}`)], blockKey: undefined, maxWaitMillis: 0 })
        }
        return performance.now() - started
      })
    const filling = yield* takeAll(0)
    // Every new key now needs room: a pass over every key for each would take seconds.
    const past = yield* takeAll(maxKeys)
    assert.isBelow(past, 10 * filling + 500, `filling ${filling} ms, past the bound ${past} ms`)
    // The most recently used keys are still held; the least recently used were forgotten.
    const take = (id: string) => store.reserve({ items: [long(id)], blockKey: undefined, maxWaitMillis: 0 })
    assert.strictEqual((yield* take(`k${2 * maxKeys - 1}`))._tag, "Refused")
    assert.strictEqual((yield* take("k0"))._tag, "Granted")
  }))

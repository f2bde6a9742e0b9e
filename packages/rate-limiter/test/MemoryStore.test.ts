import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as LimiterStore from "../src/LimiterStore.ts"
import { storeSuite } from "./support/storeSuite.ts"

storeSuite("memory", LimiterStore.layerMemory(), {
  tolerance: 0,
  pass: (millis) => TestClock.adjust(millis)
})

const item = (id: string) => ({ id, kind: "window" as const, limit: 1, windowMillis: 1_000, burst: 1, cost: 1 })

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

/**
 * The concurrency waiters' wake-up signals (`internal/releaseSignals.ts`): an
 * id is remembered only while someone waits on it (RELIABILITY 13), however
 * its waiters leave.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as ReleaseSignals from "../src/internal/releaseSignals.ts"

it.effect("waiters whose slot was freed elsewhere leave nothing behind: 10,000 ids polled, none remembered", () =>
  Effect.gen(function*() {
    const signals = ReleaseSignals.make()
    // Each waiter polls (its slot is freed by another process, which says nothing here) and goes.
    const waiters = yield* Effect.forEach(
      Array.from({ length: 10_000 }, (_, i) => `concurrency 1|k${i}`),
      (id) => Effect.forkChild(signals.wait(id, 5))
    )
    yield* TestClock.adjust(1)
    assert.isAbove(signals.size(), 0)
    yield* TestClock.adjust(5)
    yield* Fiber.joinAll(waiters)
    assert.strictEqual(signals.size(), 0)
  }))

it.effect("a release here wakes every waiter of its id at once; an interrupted waiter leaves too", () =>
  Effect.gen(function*() {
    const signals = ReleaseSignals.make()
    const a = yield* Effect.forkChild(signals.wait("x", 60_000))
    const b = yield* Effect.forkChild(signals.wait("x", 60_000))
    const c = yield* Effect.forkChild(signals.wait("y", 60_000))
    yield* Effect.yieldNow
    assert.strictEqual(signals.size(), 2)
    yield* signals.announce("x")
    yield* Fiber.joinAll([a, b])
    assert.strictEqual(signals.size(), 1)
    yield* Fiber.interrupt(c)
    assert.strictEqual(signals.size(), 0)
    // A release nobody waits for remembers nothing.
    yield* signals.announce("z")
    assert.strictEqual(signals.size(), 0)
  }))

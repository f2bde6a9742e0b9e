/**
 * The lag-aware deadline behind the Redis store's timeouts (RELIABILITY 21): a
 * stall of the event loop is nobody's silence, and every deadline still fires
 * within its ceiling. Real time, since stalls are the point.
 */
import { assert, describe, it } from "@effect/vitest"
import * as LagTimer from "../src/LagTimer.ts"

/** Blocks this thread for `millis`. */
const blockEventLoop = (millis: number) => {
  const until = performance.now() + millis
  let spins = 0
  while (performance.now() < until) spins++
  return spins
}

/** Arms a deadline of `millis` and resolves with how long it took to fire (ms), running `meanwhile` once. */
const fired = (millis: number, meanwhile: () => void = () => {}) =>
  new Promise<number>((resolve) => {
    const start = performance.now()
    LagTimer.after(millis, () => resolve(performance.now() - start))
    meanwhile()
  })

describe("LagTimer.after", () => {
  it("fires after its time when the loop is free", async () => {
    const took = await fired(100)
    assert.isAtLeast(took, 99)
    assert.isBelow(took, LagTimer.ceilingMillis(100))
  })

  it("a 400 ms stall right after arming a 250 ms deadline leaves at least the grace period once the loop is free", async () => {
    const took = await fired(250, () => blockEventLoop(400))
    assert.isAtLeast(took, 400 + LagTimer.graceMillis - 1, `fired after ${took} ms`)
    assert.isBelow(took, LagTimer.ceilingMillis(250))
  })

  it("stalls again and again still end at the ceiling: every deadline is bounded", async () => {
    let stalls = 0
    let done = false
    const stall = () => {
      blockEventLoop(120)
      if (++stalls < 30 && !done) setTimeout(stall, 1)
    }
    const took = await fired(100, () => setTimeout(stall, 1))
    done = true // no stall left for the tests after this one
    assert.isAtMost(took, LagTimer.ceilingMillis(100) + 150, `fired after ${took} ms`)
  })

  it("a cancelled deadline never fires", async () => {
    let expired = false
    const cancel = LagTimer.after(20, () => (expired = true))
    cancel()
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.isFalse(expired)
  })

  it("a wait longer than one setTimeout takes is armed once, not every millisecond", async () => {
    const original = globalThis.setTimeout
    let armed = 0
    let expired = false
    const counting = ((...args: Parameters<typeof setTimeout>) => {
      armed++
      return original(...args)
    }) as typeof setTimeout
    globalThis.setTimeout = counting
    const cancels: Array<() => void> = []
    try {
      for (const wait of [3e9, Number.POSITIVE_INFINITY]) cancels.push(LagTimer.after(wait, () => (expired = true)))
    } finally {
      globalThis.setTimeout = original
    }
    assert.strictEqual(armed, 2)
    // Re-armed every millisecond, the two would call setTimeout about 400 times in 200 ms (others may call it a few).
    armed = 0
    globalThis.setTimeout = counting
    await new Promise((resolve) => original(resolve, 200))
    globalThis.setTimeout = original
    for (const cancel of cancels) cancel()
    assert.isAtMost(armed, 10, `setTimeout called ${armed} times`)
    assert.isFalse(expired)
  })

  it("a negative or NaN wait fires on the next turns of the loop", async () => {
    for (const wait of [-5, Number.NaN]) assert.isBelow(await fired(wait), 2_000)
  })
})

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
const fired = (millis: number, meanwhile: () => void = () => {}, options?: LagTimer.AfterOptions) =>
  new Promise<number>((resolve) => {
    const start = performance.now()
    LagTimer.after(millis, () => resolve(performance.now() - start), options)
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

  it("unref: every timer it arms (the first, and one re-armed after a stall) leaves the process free to exit", async () => {
    const original = globalThis.setTimeout
    const timers: Array<ReturnType<typeof setTimeout>> = []
    // Only LagTimer's own timers (its callback is named `tick`): vitest may arm timers of its own meanwhile.
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      const timer = original(...args)
      if ((args[0] as { readonly name?: string }).name === "tick") timers.push(timer)
      return timer
    }) as typeof setTimeout
    let took: number
    let plain: ReturnType<typeof setTimeout> | undefined
    try {
      took = await fired(100, () => blockEventLoop(300), { unref: true })
      const cancel = LagTimer.after(100, () => {})
      plain = timers.at(-1)
      cancel()
    } finally {
      globalThis.setTimeout = original
    }
    // The stall made it re-arm for the grace period: two timers of its own, neither referenced.
    assert.isAtLeast(took, 300 + LagTimer.graceMillis - 1)
    const own = timers.slice(0, -1)
    assert.isAtLeast(own.length, 2)
    for (const timer of own) assert.isFalse(timer.hasRef())
    // Without the option a timer is referenced, as setTimeout's are.
    assert.isTrue(plain!.hasRef())
  })

  it("a negative or NaN wait fires on the next turns of the loop", async () => {
    for (const wait of [-5, Number.NaN]) assert.isBelow(await fired(wait), 2_000)
  })
})

/**
 * The evening of Redis's reply latency (`internal/replyJitter.ts`), on chosen
 * instants: Redis's clock runs 5 s ahead of this process's (an offset it must
 * not care about), each grant's way back is given, and a request goes at its
 * answer's read + the delay reported. What matters is where that puts each
 * request against its slot.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ReplyJitter from "../src/internal/replyJitter.ts"

/** Redis's clock minus this process's. */
const skew = 5_000

interface Grant {
  /** When Redis ran the script, in local ms. */
  readonly sent: number
  /** The slot's delay from then. */
  readonly delay: number
  /** The answer's way back (ms). */
  readonly back: number
  /** How much of the call the event loop was busy, and read the answer that much later (ms). */
  readonly busy?: number
}

/** Feeds `grant` to `jitter`; where the request goes against its slot (local ms after it) and the rest. */
const go = (jitter: ReplyJitter.ReplyJitter, grant: Grant) => {
  const busy = grant.busy ?? 0
  const receivedAt = grant.sent + grant.back + busy
  const evened = jitter.delay(grant.delay, grant.sent + skew, { receivedAt, busyMillis: busy }, receivedAt)
  const slot = grant.sent + grant.delay
  return { after: receivedAt + evened.delayMillis - slot, ...evened }
}

describe("ReplyJitter", () => {
  it("replies taking 50 or 200 ms: every request goes 200 ms after its slot, so goings are spaced as slots are", () => {
    const jitter = ReplyJitter.make(500)
    const afters: Array<number> = []
    for (let i = 0; i < 40; i++) {
      afters.push(go(jitter, { sent: i * 100, delay: 2_000, back: i % 3 === 0 ? 200 : 50 }).after)
    }
    // Once a 200 ms reply has been seen (the first), every request goes at slot + 200.
    for (const after of afters) assert.closeTo(after, 200, 1e-6)
    assert.closeTo(jitter.current(), 150, 1e-6)
  })

  it("a J under 50 ms (replies taking 20 or 50 ms, as a loaded machine's scheduling makes a loopback Redis's) is left as it is; one of 180 ms is evened, grants due now too", () => {
    const jitter = ReplyJitter.make(500)
    for (let i = 0; i < 10; i++) {
      const back = i % 2 === 0 ? 50 : 20
      const now = go(jitter, { sent: i * 100, delay: 0, back })
      assert.deepStrictEqual([now.delayMillis, now.overdueMillis], [0, 0], `grant ${i} due now`)
      assert.strictEqual(go(jitter, { sent: i * 100 + 50, delay: 1_000, back }).delayMillis, 1_000, `grant ${i}`)
    }
    assert.strictEqual(jitter.current(), 0)
    // Replies taking 20 or 200 ms: J 180 ms.
    for (let i = 0; i < 10; i++) go(jitter, { sent: 1_000 + i * 100, delay: 1_000, back: i % 2 === 0 ? 200 : 20 })
    assert.closeTo(go(jitter, { sent: 2_000, delay: 0, back: 20 }).after, 200, 1e-6)
    assert.closeTo(go(jitter, { sent: 2_100, delay: 1_000, back: 20 }).after, 200, 1e-6)
  })

  it("one answer of 64 read 300 ms late (the machine starved of CPU, which counts as idle) is an outlier: it goes as Redis said, and nothing is held for it", () => {
    const jitter = ReplyJitter.make(500)
    for (let i = 0; i < 40; i++) go(jitter, { sent: i * 100, delay: 1_000, back: 20 + (i % 4) * 5 })
    const starved = go(jitter, { sent: 4_000, delay: 1_000, back: 330 })
    assert.strictEqual(starved.delayMillis, 1_000)
    for (let i = 41; i < 60; i++) {
      assert.strictEqual(go(jitter, { sent: i * 100, delay: 1_000, back: 20 + (i % 4) * 5 }).delayMillis, 1_000)
    }
    assert.strictEqual(jitter.current(), 0)
  })

  it("a reply slower than the cap (500 ms) goes as Redis said, never sooner; none is held more than the cap", () => {
    const jitter = ReplyJitter.make(500)
    go(jitter, { sent: 0, delay: 1_000, back: 10 })
    const slow = go(jitter, { sent: 100, delay: 1_000, back: 900 })
    assert.strictEqual(slow.delayMillis, 1_000)
    assert.strictEqual(slow.overdueMillis, 0, "a slow Redis makes no request late")
    const fast = go(jitter, { sent: 200, delay: 1_000, back: 10 })
    assert.closeTo(fast.delayMillis - 1_000, 500, 1e-6)
  })

  it("an answer read late because the loop was busy: within J it goes on target; past it, as Redis said, overdue by the miss; no later request is held back", () => {
    const jitter = ReplyJitter.make(500)
    for (let i = 0; i < 10; i++) go(jitter, { sent: i * 100, delay: 2_000, back: i % 2 === 0 ? 50 : 120 })
    // Read 15 ms late: the 70 ms it would have been held absorb it.
    const busy = go(jitter, { sent: 1_000, delay: 2_000, back: 50, busy: 15 })
    assert.closeTo(busy.after, 120, 1e-6)
    assert.strictEqual(busy.overdueMillis, 0)
    // Read 300 ms late: it goes as Redis said from the read (never sooner), 230 ms past its target.
    const stalled = go(jitter, { sent: 1_000, delay: 2_000, back: 50, busy: 300 })
    assert.closeTo(stalled.after, 350, 1e-6)
    assert.closeTo(stalled.overdueMillis, 230, 1e-6)
    for (let i = 11; i < 20; i++) {
      assert.closeTo(go(jitter, { sent: i * 100, delay: 2_000, back: i % 2 === 0 ? 50 : 120 }).after, 120, 1e-6)
    }
    assert.closeTo(jitter.current(), 70, 1e-6)
  })

  it("a grant due now read late because the loop was busy goes at once, overdue by what the loop took", () => {
    const jitter = ReplyJitter.make(500)
    go(jitter, { sent: 0, delay: 0, back: 50 })
    const stalled = go(jitter, { sent: 100, delay: 0, back: 50, busy: 300 })
    assert.strictEqual(stalled.delayMillis, 0)
    assert.closeTo(stalled.overdueMillis, 300, 1e-6)
  })

  it("when slow replies leave the window, J falls by 20 ms a second at most", () => {
    const jitter = ReplyJitter.make(500)
    let sent = 0
    go(jitter, { sent, delay: 0, back: 250 })
    // 64 fast replies in 640 ms push the slow one out of the window.
    const afters: Array<number> = []
    for (let i = 0; i < 200; i++) {
      sent += 10
      afters.push(go(jitter, { sent, delay: 1_000, back: 50 }).after)
    }
    for (let i = 1; i < afters.length; i++) {
      assert.isAtMost(afters[i - 1]! - afters[i]!, 0.02 * 10 + 1e-9, `step ${i}`)
    }
    assert.isAbove(afters.at(-1)!, 50, "still falling")
    assert.isBelow(afters.at(-1)!, 250)
  })

  it("a sample older than 30 s no longer counts", () => {
    const jitter = ReplyJitter.make(500)
    go(jitter, { sent: 0, delay: 0, back: 300 })
    // J has fallen for 31 s (620 ms at 20 ms a second) and the slow reply left the window: nothing is held.
    const later = go(jitter, { sent: 31_000, delay: 1_000, back: 50 })
    assert.strictEqual(later.delayMillis, 1_000)
  })

  it("a cap of 0 reports Redis's delay as it is, the busy part of the call overdue", () => {
    const jitter = ReplyJitter.make(0)
    go(jitter, { sent: 0, delay: 1_000, back: 200 })
    const evened = go(jitter, { sent: 100, delay: 1_000, back: 50, busy: 30 })
    assert.strictEqual(evened.delayMillis, 1_000)
    assert.strictEqual(evened.overdueMillis, 30)
    assert.strictEqual(jitter.current(), 0)
  })
})

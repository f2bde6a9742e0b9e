/**
 * The shared latency boundaries (`MetricBoundaries.seconds`): their range,
 * their factor, and the buckets a 2 ms call and a 30 s download fall in.
 */
import { assert, describe, it } from "@effect/vitest"
import * as MetricBoundaries from "../src/MetricBoundaries.ts"

describe("MetricBoundaries.seconds", () => {
  const { seconds } = MetricBoundaries

  it("has 49 boundaries from 2^-13 s to 2^11 s, exact powers of two at every other one", () => {
    assert.strictEqual(seconds.length, 49)
    assert.strictEqual(seconds[0], 2 ** -13)
    assert.strictEqual(seconds[48], 2048)
    for (let i = 0; i < seconds.length; i += 2) assert.strictEqual(seconds[i], 2 ** ((i - 26) / 2))
    assert.isTrue(Object.isFrozen(seconds))
  })

  it("grows by a factor √2 between neighbours, so a bucket is (√2 - 1) times its lower edge wide", () => {
    for (let i = 1; i < seconds.length; i++) {
      assert.closeTo(seconds[i]! / seconds[i - 1]!, Math.SQRT2, 1e-12)
      assert.closeTo((seconds[i]! - seconds[i - 1]!) / seconds[i - 1]!, Math.SQRT2 - 1, 1e-12)
    }
  })

  it("puts 2 ms and 30 s in buckets at most 41.5 % of their lower edge wide", () => {
    for (const value of [0.002, 30]) {
      const upper = seconds.findIndex((boundary) => boundary >= value)
      assert.isAbove(upper, 0)
      const lower = seconds[upper - 1]!
      assert.isTrue(lower < value && value <= seconds[upper]!)
      assert.isAtMost(seconds[upper]! - lower, 0.415 * lower)
    }
  })
})

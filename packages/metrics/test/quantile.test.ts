/**
 * Quantiles interpolated from Effect histograms with the shared
 * `MetricBoundaries.seconds`, checked against the true nearest-rank quantiles
 * of the same values: each lies in its stated interval, and so within the
 * interval's width of the truth.
 */
import { assert, describe, it } from "@effect/vitest"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import { Effect, Metric } from "effect"
import * as HttpkitMetrics from "../src/HttpkitMetrics.ts"
import * as Quantiles from "../src/internal/quantile.ts"

/** A small seeded generator (mulberry32), so every run sees the same values. */
const random = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal value from two uniform ones (Box-Muller). */
const normal = (next: () => number): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())

const distributions: ReadonlyArray<readonly [string, ReadonlyArray<number>]> = (() => {
  const uniform = random(1)
  const logNormal = random(2)
  const bimodal = random(3)
  const wide = random(4)
  return [
    ["constant 2 ms, 500 values", Array.from({ length: 500 }, () => 0.002)],
    ["uniform 1-50 ms, 2000 values", Array.from({ length: 2000 }, () => 0.001 + uniform() * 0.049)],
    ["log-normal around 2 ms, 5000 values", Array.from({ length: 5000 }, () => 0.002 * Math.exp(normal(logNormal)))],
    [
      "bimodal 2 ms and 30 s, 3000 values",
      Array.from(
        { length: 3000 },
        (_, i) => i % 10 < 8 ? 0.002 * (1 + bimodal() * 0.2) : 30 * (1 + (bimodal() - 0.5) * 0.3)
      )
    ],
    [
      "from 10 µs to 5000 s (both ends outside the boundaries), 1000 values",
      Array.from({ length: 1000 }, () => 1e-5 * Math.pow(5e8, wide()))
    ],
    ["one value of 1.8 ms", [0.0018]]
  ]
})()

const quantiles = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1]

/** The k-th smallest value, k = max(1, ceil(q n)). */
const trueQuantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!

/** The values recorded into a fresh histogram (`MetricBoundaries.seconds` unless told), and its state. */
const recorded = (values: ReadonlyArray<number>, boundaries: ReadonlyArray<number> = MetricBoundaries.seconds) =>
  Effect.gen(function*() {
    const histogram = Metric.histogram("test_latency_seconds", { boundaries })
    for (const value of values) yield* Metric.update(histogram, value)
    return yield* Metric.value(histogram)
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

const smallest = MetricBoundaries.seconds[0]!
const largest = MetricBoundaries.seconds[MetricBoundaries.seconds.length - 1]!

describe("quantiles from MetricBoundaries.seconds histograms", () => {
  for (const [name, values] of distributions) {
    it.effect(`${name}: p0-p100 each lie in their stated interval, at most a factor √2 wide`, () =>
      Effect.gen(function*() {
        const state = yield* recorded(values)
        const sorted = [...values].toSorted((a, b) => a - b)
        assert.strictEqual(state.count, values.length)
        for (const q of quantiles) {
          const estimate = Quantiles.quantile(state, q)
          assert.isDefined(estimate)
          const truth = trueQuantile(sorted, q)
          const { lower, upper, value } = estimate!
          const where = `q=${q}: true ${truth}, estimate ${value} in [${lower}, ${upper}]`
          assert.isTrue(lower <= truth && truth <= upper, where)
          assert.isTrue(lower <= value && value <= upper, where)
          assert.isAtMost(Math.abs(value - truth), upper - lower, where)
          assert.isAtLeast(lower, sorted[0]!, where)
          assert.isAtMost(upper, sorted[sorted.length - 1]!, where)
          // Inside the boundaries a bucket spans a factor √2; below the first, at most 0.122 ms.
          if (lower > smallest && upper <= largest) assert.isAtMost(upper / lower, Math.SQRT2 * (1 + 1e-12), where)
          if (upper <= smallest) assert.isAtMost(upper - lower, smallest, where)
        }
      }))
  }

  it.effect("a constant 2 ms: every quantile is exactly 2 ms (min and max clamp the bucket)", () =>
    Effect.gen(function*() {
      const state = yield* recorded(Array.from({ length: 50 }, () => 0.002))
      for (const q of quantiles) {
        assert.deepStrictEqual(Quantiles.quantile(state, q), { value: 0.002, lower: 0.002, upper: 0.002 })
      }
    }))

  it.effect("no values: no quantile, and a snapshot with no latency", () =>
    Effect.gen(function*() {
      const state = yield* recorded([])
      assert.strictEqual(state.count, 0)
      assert.isUndefined(Quantiles.quantile(state, 0.5))
      const snapshot = HttpkitMetrics.fromSeries([{
        id: HttpkitMetrics.names.clientRequestDuration,
        type: "Histogram",
        description: undefined,
        attributes: { client: "c", method: "GET", host: "h:1" },
        state
      }])
      assert.isUndefined(snapshot.clients[0]?.hosts[0]?.latency)
    }))

  it.effect("one host's GET and POST histograms merge: 300 values, quantiles of all of them", () =>
    Effect.gen(function*() {
      const next = random(5)
      const gets = Array.from({ length: 200 }, () => 0.001 + next() * 0.01)
      const posts = Array.from({ length: 100 }, () => 0.05 + next() * 0.1)
      const snapshot = HttpkitMetrics.fromSeries([
        {
          id: HttpkitMetrics.names.clientRequestDuration,
          type: "Histogram",
          description: undefined,
          attributes: { client: "c", method: "GET", host: "h:1" },
          state: yield* recorded(gets)
        },
        {
          id: HttpkitMetrics.names.clientRequestDuration,
          type: "Histogram",
          description: undefined,
          attributes: { client: "c", method: "POST", host: "h:1" },
          state: yield* recorded(posts)
        }
      ])
      const latency = snapshot.clients[0]!.hosts[0]!.latency!
      const sorted = [...gets, ...posts].toSorted((a, b) => a - b)
      assert.strictEqual(latency.count, 300)
      assert.strictEqual(latency.min, sorted[0])
      assert.strictEqual(latency.max, sorted[299])
      assert.closeTo(latency.mean, sorted.reduce((a, b) => a + b, 0) / 300, 1e-12)
      for (
        const [q, estimate] of [[0.5, latency.p50], [0.9, latency.p90], [0.95, latency.p95], [
          0.99,
          latency.p99
        ]] as const
      ) {
        const truth = trueQuantile(sorted, q)
        assert.isTrue(estimate.lower <= truth && truth <= estimate.upper, `q=${q}: ${truth} in ${estimate}`)
      }
    }))

  it.effect("histograms with different boundaries merge on the shared ones: 150 values, bounds still true", () =>
    Effect.gen(function*() {
      const next = random(6)
      const a = Array.from({ length: 100 }, () => next() * 0.2)
      const b = Array.from({ length: 50 }, () => next() * 2)
      const merged = Quantiles.merge([
        yield* recorded(a, [0.01, 0.05, 0.1, 0.5, 1]),
        yield* recorded(b, [0.05, 0.25, 0.5, 1, 5])
      ])!
      assert.deepStrictEqual(merged.buckets.map(([boundary]) => boundary), [0.05, 0.5, 1])
      assert.strictEqual(merged.count, 150)
      const sorted = [...a, ...b].toSorted((x, y) => x - y)
      for (const q of quantiles) {
        const estimate = Quantiles.quantile(merged, q)!
        const truth = trueQuantile(sorted, q)
        assert.isTrue(estimate.lower <= truth && truth <= estimate.upper, `q=${q}: ${truth}`)
      }
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import * as MetricsTest from "../src/MetricsTest.ts"

describe("MetricsTest", () => {
  it.effect("withRegistry gives the effect a registry of its own, fresh on each run, read by name and attributes", () =>
    Effect.gen(function*() {
      const counted = MetricsTest.withRegistry((metrics) =>
        Effect.gen(function*() {
          yield* Metric.update(Metric.counter("probe_total", { attributes: { kind: "a" } }), 2)
          yield* Metric.update(Metric.gauge("probe_gauge"), 7)
          return [metrics.count("probe_total", { kind: "a" }), metrics.gauge("probe_gauge"), metrics.snapshot().length]
        })
      )
      assert.deepStrictEqual(yield* counted, [2, 7, 2])
      assert.deepStrictEqual(yield* counted, [2, 7, 2])
    }))
})

import { assert, describe, it } from "@effect/vitest"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricSeries from "@httpkit/core/MetricSeries"
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"

describe("MetricSeries", () => {
  it("bounded(2): the first two distinct values as themselves, a third as other; a repeat stays itself", () => {
    const host = MetricSeries.bounded(2)
    assert.deepStrictEqual(["a", "b", "c", "a", "b", "d"].map(host), ["a", "b", "other", "a", "b", "other"])
  })

  it("bounded(1, { default }): an unbounded value neither counts against the bound nor is replaced", () => {
    const key = MetricSeries.bounded(1, new Set(["default"]))
    assert.deepStrictEqual(["default", "a", "default", "b"].map(key), ["default", "a", "default", "other"])
  })

  it("counter and histogram: series of the same name, description and boundaries, with the attributes", () => {
    const registry: Metric.MetricRegistry = new Map()
    const context = Context.make(Metric.MetricRegistry, registry)
    const total = Metric.counter("probe_total", { description: "probes", incremental: true })
    const seconds = Metric.histogram("probe_seconds", { description: "probe time", boundaries: [1] })
    MetricSeries.counter(total, { host: "a" }).updateUnsafe(2, context)
    MetricSeries.histogram(seconds, MetricBoundaries.seconds, { host: "a" }).updateUnsafe(0.002, context)
    const series = Metric.snapshotUnsafe(context)
    const counted = series.find((entry) => entry.id === "probe_total")!
    assert.deepStrictEqual(counted.attributes, { host: "a" })
    assert.strictEqual(counted.description, "probes")
    assert.strictEqual((counted.state as { count: number }).count, 2)
    const timed = series.find((entry) => entry.id === "probe_seconds")!
    assert.deepStrictEqual(timed.attributes, { host: "a" })
    const buckets = (timed.state as { buckets: ReadonlyArray<readonly [number, number]> }).buckets
    assert.deepStrictEqual(buckets.map(([boundary]) => boundary), [...MetricBoundaries.seconds])
  })
})

/**
 * One naming scheme for what httpkit records: every metric the client, the
 * rate limiter and the downloader define is `httpkit_<package>_<thing>[_<unit>]`
 * (counters end in `_total`, histograms, all durations, in `_seconds`), the
 * README's table lists exactly these names with their types, and the names
 * this package reads (`internal/names.ts`) are the same.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClientMetrics from "@httpkit/client/ClientMetrics"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as DownloadMetrics from "@httpkit/downloader/DownloadMetrics"
import * as RateLimiter from "@httpkit/rate-limiter/RateLimiter"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import { Context, Metric } from "effect"
import * as Fs from "node:fs"
import { names } from "../src/internal/names.ts"

/** Every metric a module exports, with the package segment its names must carry. */
const defined = [
  { segment: "client", module: ClientMetrics as Record<string, unknown> },
  { segment: "rate_limiter", module: RateLimiter as Record<string, unknown> },
  { segment: "download", module: DownloadMetrics as Record<string, unknown> }
].flatMap(({ module, segment }) =>
  Object.values(module).filter(Metric.isMetric).map((metric) => ({
    segment,
    metric: metric as Metric.Metric<never, unknown>
  }))
)

/** The rows of the README's "What is recorded" table: name and type. */
const readmeRows = (): ReadonlyArray<{ readonly name: string; readonly type: string }> => {
  const readme = Fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
  const start = readme.indexOf("## What is recorded")
  const end = readme.indexOf("\n## ", start + 1)
  assert.isAtLeast(start, 0, "the README has a section What is recorded")
  return readme.slice(start, end).split("\n").flatMap((line) => {
    const match = /^\|\s*`(httpkit_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|/.exec(line)
    return match === null ? [] : [{ name: match[1]!, type: match[2]! }]
  })
}

describe("metric names", () => {
  it("the three packages define 22 metrics, each id defined once", () => {
    const ids = defined.map(({ metric }) => metric.id)
    assert.strictEqual(ids.length, 22)
    assert.strictEqual(new Set(ids).size, ids.length)
  })

  it("every id is httpkit_<package>_<thing>[_<unit>]: counters end in _total, histograms in _seconds, gauges in neither", () => {
    for (const { metric, segment } of defined) {
      const { id } = metric
      assert.match(id, new RegExp(`^httpkit_${segment}_[a-z][a-z0-9]*(_[a-z0-9]+)*$`), id)
      switch (metric.type) {
        case "Counter":
          assert.isTrue(id.endsWith("_total"), `${id}: a counter ends in _total`)
          break
        case "Histogram":
          assert.isTrue(id.endsWith("_seconds"), `${id}: a duration histogram ends in _seconds`)
          break
        case "Gauge":
          assert.isFalse(
            id.endsWith("_total") || id.endsWith("_seconds"),
            `${id}: a gauge has no counter or duration suffix`
          )
          break
        default:
          assert.fail(`${id}: unexpected metric type ${metric.type}`)
      }
      assert.isAbove(metric.description?.length ?? 0, 0, `${id} has a description`)
    }
  })

  it("all 3 duration histograms use MetricBoundaries.seconds", () => {
    const metrics = MetricsTest.makeRegistry()
    const context = Context.make(Metric.MetricRegistry, metrics.registry)
    const histograms = defined.filter(({ metric }) => metric.type === "Histogram")
    assert.strictEqual(histograms.length, 3)
    for (const { metric } of histograms) {
      ;(metric as unknown as Metric.Histogram<number>).updateUnsafe(0.002, context)
      const state = metrics.series(metric.id)?.state as { buckets: ReadonlyArray<readonly [number, number]> }
      assert.deepStrictEqual(state.buckets.map(([boundary]) => boundary), [...MetricBoundaries.seconds], metric.id)
    }
    assert.strictEqual(ClientMetrics.durationBoundaries, MetricBoundaries.seconds)
    assert.strictEqual(DownloadMetrics.durationBoundaries, MetricBoundaries.seconds)
  })

  it("the README's table lists exactly these names, each with its type", () => {
    const rows = readmeRows()
    assert.deepStrictEqual(
      rows.map((row) => row.name).toSorted(),
      defined.map(({ metric }) => metric.id).toSorted()
    )
    const types = new Map(defined.map(({ metric }) => [metric.id, metric.type.toLowerCase()]))
    for (const row of rows) assert.strictEqual(row.type, types.get(row.name), row.name)
  })

  it("the names @httpkit/metrics reads are the names recorded", () => {
    assert.deepStrictEqual(
      Object.values(names).toSorted(),
      defined.map(({ metric }) => metric.id).toSorted()
    )
  })
})

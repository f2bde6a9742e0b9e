/**
 * Records `DownloadMetrics` for one download: bytes as they are checkpointed,
 * and the rest once it ends. Each attribute set's series is made once and
 * kept (as the client's recorder does), never with `Metric.withAttributes`,
 * which copies the fiber's context on every update.
 */
import * as MetricSeries from "@httpkit/core/MetricSeries"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as DownloadMetrics from "../DownloadMetrics.ts"
import type { DownloadResult } from "../DownloadResult.ts"
import * as HostLimit from "./hostLimit.ts"

const boundedHost = MetricSeries.bounded(DownloadMetrics.maxHosts, new Set(["none"]))

/** The `host` attribute of a URL: host and port only, bounded in number. */
export const hostOf = (url: string): string => boundedHost(HostLimit.hostOf(url) || "none")

/** What one download counts while it runs. */
export interface Tally {
  readonly host: string
  /** Body bytes received so far. */
  transferred: number
  /** Of those, already added to the bytes counter. */
  reported: number
  restarts: number
  continuations: number
  segments: number
  resumed: boolean
  /** The algorithm of a checksum that did not match. */
  mismatch: string | undefined
}

/** A tally for a download of `url`. */
export const tally = (url: string): Tally => ({
  host: hostOf(url),
  transferred: 0,
  reported: 0,
  restarts: 0,
  continuations: 0,
  segments: 0,
  resumed: false,
  mismatch: undefined
})

/** Series made so far, by metric id and attributes; bounded by the hosts (and outcomes, algorithms) they hold. */
const made = new Map<string, Metric.Metric<number, unknown>>()

/** The series of `metric` with `attributes`, made on first use. */
const seriesOf = (
  metric: Metric.Counter<number> | Metric.Histogram<number>,
  attributes: Readonly<Record<string, string>>
): Metric.Metric<number, unknown> => {
  const key = `${metric.id}\n${Object.values(attributes).join("\n")}`
  let series = made.get(key)
  if (series === undefined) {
    series = metric.type === "Histogram"
      ? MetricSeries.histogram(metric as Metric.Histogram<number>, DownloadMetrics.durationBoundaries, attributes)
      : MetricSeries.counter(metric as Metric.Counter<number>, attributes)
    made.set(key, series)
  }
  return series
}

const add = (metric: Metric.Counter<number>, attributes: Readonly<Record<string, string>>, amount: number) =>
  amount > 0 ? Metric.update(seriesOf(metric, attributes), amount) : Effect.void

/** Adds the bytes received since the last report. */
export const reportBytes = (t: Tally): Effect.Effect<void> =>
  Effect.suspend(() => {
    const delta = t.transferred - t.reported
    t.reported = t.transferred
    return add(DownloadMetrics.bytes, { host: t.host }, delta)
  })

/** Records a download that ended with `exit`, `millis` after it started. */
export const ended = (t: Tally, exit: Exit.Exit<DownloadResult, { readonly _tag: string }>, millis: number) =>
  Effect.gen(function*() {
    const host = { host: t.host }
    const outcome = Exit.isSuccess(exit)
      ? (exit.value.skipped ? "skipped" : "success")
      : Exit.hasInterrupts(exit)
      ? "interrupted"
      : (Exit.findErrorOption(exit).pipe((error) => error._tag === "Some" ? error.value._tag : "defect"))
    yield* reportBytes(t)
    yield* add(DownloadMetrics.files, { ...host, outcome }, 1)
    yield* add(DownloadMetrics.resumes, host, t.resumed ? 1 : 0)
    yield* add(DownloadMetrics.restarts, host, t.restarts)
    yield* add(DownloadMetrics.continuations, host, t.continuations)
    yield* add(DownloadMetrics.segments, host, t.segments)
    if (t.mismatch !== undefined) yield* add(DownloadMetrics.checksumFailures, { ...host, algorithm: t.mismatch }, 1)
    yield* Metric.update(seriesOf(DownloadMetrics.duration, { ...host, outcome }), millis / 1000)
  })

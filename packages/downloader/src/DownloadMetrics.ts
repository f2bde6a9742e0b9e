/**
 * What the `Downloader` reports as Effect `Metric`s: files by outcome, bytes
 * received, resumes, restarts from zero, continued bodies, segments,
 * checksum failures and download durations. The requests themselves are
 * also counted by the client's own `ClientMetrics`.
 *
 * Every series carries a `host` attribute (the URL's host and port, never
 * user info, path or query), at most `maxHosts` hosts (the rest count as
 * `other`). Read them with `Metric.snapshot`, or export them with
 * `effect/observability`.
 *
 * @since 0.1.0
 */
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricSeries from "@httpkit/core/MetricSeries"
import * as Metric from "effect/Metric"

/**
 * Downloads that ended: attributes `host` and `outcome` (`success`,
 * `skipped`, the error's tag, or `interrupted`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const files: Metric.Counter<number> = Metric.counter(
  "httpkit_download_files_total",
  MetricSeries.options({
    description: "Downloads that ended, by host and outcome",
    incremental: true
  })
)

/**
 * Body bytes received and written, resumed bytes from earlier runs not
 * included: attribute `host`. Updated at every checkpoint (about once a
 * second) while a download runs, and when it ends.
 *
 * @category metrics
 * @since 0.1.0
 */
export const bytes: Metric.Counter<number> = Metric.counter(
  "httpkit_download_bytes_total",
  MetricSeries.options({
    description: "Bytes received by downloads, by host",
    incremental: true
  })
)

/**
 * Downloads that continued a `.part` left by an earlier run: attribute `host`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const resumes: Metric.Counter<number> = Metric.counter(
  "httpkit_download_resumes_total",
  MetricSeries.options({
    description: "Downloads that resumed a .part from an earlier run, by host",
    incremental: true
  })
)

/**
 * Restarts from zero (the file changed, a range was refused): attribute `host`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const restarts: Metric.Counter<number> = Metric.counter(
  "httpkit_download_restarts_total",
  MetricSeries.options({
    description: "Downloads restarted from zero, by host",
    incremental: true
  })
)

/**
 * Broken bodies continued from their last byte: attribute `host`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const continuations: Metric.Counter<number> = Metric.counter(
  "httpkit_download_continuations_total",
  MetricSeries.options({
    description: "Broken download bodies continued from their last byte, by host",
    incremental: true
  })
)

/**
 * Connections used by downloads (1 per single-stream download): attribute `host`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const segments: Metric.Counter<number> = Metric.counter(
  "httpkit_download_segments_total",
  MetricSeries.options({
    description: "Segments (connections) used by downloads, by host",
    incremental: true
  })
)

/**
 * Downloads whose digest did not match: attributes `host` and `algorithm`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const checksumFailures: Metric.Counter<number> = Metric.counter(
  "httpkit_download_checksum_failures_total",
  MetricSeries.options({
    description: "Downloads whose checksum did not match, by host and algorithm",
    incremental: true
  })
)

/**
 * The bucket boundaries of `duration`, in seconds: the shared
 * `MetricBoundaries.seconds` (2^-13 s to 2^11 s by factor √2), as every
 * httpkit latency histogram uses, so a quantile read from it is off by at
 * most its bucket's width. Downloads longer than 2048 s (34 min) fall in the
 * overflow bucket, bounded by the recorded maximum.
 *
 * @category constants
 * @since 0.1.0
 */
export const durationBoundaries: ReadonlyArray<number> = MetricBoundaries.seconds

/**
 * How long downloads took, in seconds, precheck to rename: attributes `host` and `outcome`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const duration: Metric.Histogram<number> = Metric.histogram(
  "httpkit_download_duration_seconds",
  MetricSeries.options({
    description: "Duration of downloads in seconds, by host and outcome",
    boundaries: durationBoundaries
  })
)

/**
 * Most distinct `host` values; downloads from further hosts count under `other`.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxHosts = 1_000

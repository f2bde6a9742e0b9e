/**
 * Reads what the client, the rate limiter and the downloader recorded in
 * Effect's metric registry, as one `Snapshot`: per client and host, per
 * rate-limiter key, per download host.
 *
 * ```ts
 * const snapshot = yield* HttpkitMetrics.snapshot
 * for (const client of snapshot.clients) {
 *   for (const host of client.hosts) console.log(client.name, host.host, host.requests, host.latency?.p99.value)
 * }
 * ```
 *
 * **Details**
 *
 * Series are grouped by the attributes of the naming scheme (`client`,
 * `host`, `key`) and summed over the others (`method`, a client's calls to
 * one host by any method, say); histograms of one group are merged before
 * quantiles are read. Series whose name is not one of `names` are ignored, so
 * an application's own metrics may share the registry.
 *
 * **Gotchas**
 *
 * - The registry is the current `Metric.MetricRegistry`: a snapshot taken
 *   where another registry is provided (a test's own) sees only that one.
 * - Gauges (calls in flight, the pool, circuit states) exist while their
 *   client's scope is open: a snapshot taken after the client closed shows
 *   its counters and histograms, without a pool or breaker state.
 * - A client records `status` on every call; `status_class` is read when
 *   present, else derived from `status`.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { build } from "./internal/build.ts"
import { names as metricNames } from "./internal/names.ts"
import type * as Snapshot from "./Snapshot.ts"

/**
 * The names of the series a snapshot reads, as the client
 * (`ClientMetrics`), the rate limiter (`RateLimiter`) and the downloader
 * (`DownloadMetrics`) record them.
 *
 * @category constants
 * @since 0.1.0
 */
export const names = metricNames

/**
 * A snapshot of the series Effect's `Metric.snapshot` gives: the pure part
 * of `snapshot`, for series read some other way.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromSeries = (series: ReadonlyArray<Metric.Metric.Snapshot>): Snapshot.Snapshot => build(series)

/**
 * What the current metric registry holds, as a `Snapshot`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const snapshot: Effect.Effect<Snapshot.Snapshot> = Effect.map(Metric.snapshot, build)

/**
 * What the registry of `context` holds, as a `Snapshot`, read synchronously
 * (in a finalizer, say, with a context captured earlier).
 *
 * @category constructors
 * @since 0.1.0
 */
export const snapshotUnsafe = (context: Context.Context<never>): Snapshot.Snapshot =>
  build(Metric.snapshotUnsafe(context))

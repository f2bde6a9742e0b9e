/**
 * Histogram bucket boundaries shared by every httpkit latency metric, so that
 * the client, the rate limiter and the downloader report durations in the
 * same buckets and their quantiles carry the same error bound.
 *
 * **Details**
 *
 * `seconds` is geometric with factor √2, from 2^-13 s (0.122 ms) to 2^11 s
 * (2048 s, 34 min): 49 boundaries. That resolves a 2 ms loopback call and a
 * 30 s download alike; every boundary is `2 ** (k / 2)` for an integer `k`,
 * so the even ones are exact powers of two.
 *
 * **Error bound of an interpolated quantile**
 *
 * A quantile interpolated linearly inside its bucket lies in the same bucket
 * as the true quantile computed from the raw values. For a value above
 * 2^-13 s and at most 2^11 s, in the bucket `(b, b·√2]`, the estimate is off
 * by at most the bucket's width, `(√2 − 1)·b` (under 41.5 % of the lower
 * edge), and the ratio estimate / true value lies in `[1/√2, √2]`. In the first
 * bucket `(0, 2^-13]` the error is at most 0.122 ms; above 2048 s (the overflow
 * bucket) it is bounded only by the recorded maximum. Clamping the estimate to
 * the recorded min and max never widens the bound and often narrows it.
 *
 * @since 0.1.0
 */

/**
 * Latency boundaries in seconds: `2 ** (k / 2)` for `k` from -26 to 22, that
 * is 2^-13 s (0.122 ms) up to 2^11 s (2048 s) by factor √2, 49 boundaries,
 * ascending. Pass them to `Metric.histogram`'s `boundaries`.
 *
 * @example
 * ```ts
 * import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
 * import * as Metric from "effect/Metric"
 *
 * const latency = Metric.histogram("my_call_duration_seconds", { boundaries: MetricBoundaries.seconds })
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const seconds: ReadonlyArray<number> = Object.freeze(
  Array.from({ length: 49 }, (_, i) => 2 ** ((i - 26) / 2))
)

/**
 * The series of a metric with attributes, as every httpkit package records
 * them: made once by the recorder and kept, never with
 * `Metric.withAttributes` (which copies the fiber's context on every
 * update); and attribute values bounded in number, the rest counted as
 * `other`.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import { pinned } from "./Own.ts"

/**
 * Every option Effect's metric constructors (`Metric.counter`, `gauge`,
 * `frequency`, `histogram`, `summary`, `timer`) read, each with a plain
 * `options?.name`, which reaches `Object.prototype` for a name the options
 * object lacks.
 *
 * @category models
 * @since 0.1.0
 */
export const optionNames: ReadonlyArray<string> = [
  "attributes",
  "bigint",
  "boundaries",
  "description",
  "incremental",
  "maxAge",
  "maxSize",
  "preregisteredWords",
  "quantiles"
]

/**
 * `fields` as the options of an Effect metric constructor, read by their own
 * keys only (RELIABILITY 10): without a prototype, `bigint: false` unless
 * given, and every other name in `optionNames` that `fields` lacks pinned as
 * `undefined`. Every metric httpkit makes is made with it: with
 * `Object.prototype.bigint` polluted, a counter made from a bare literal
 * counts in `bigint` and its first update fails with "Cannot mix BigInt and
 * other types"; a polluted `attributes` or `incremental` would change its
 * series.
 *
 * @category constructors
 * @since 0.1.0
 */
export const options = <A extends object>(fields: A): A => pinned(optionNames, { bigint: false, ...fields })

/**
 * `metric`'s series with `attributes`: a counter of its own with the same
 * name and description. Make it once and keep it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const counter = (
  metric: Metric.Counter<number>,
  attributes: Readonly<Record<string, string>>
): Metric.Counter<number> =>
  Metric.counter(metric.id, options({ description: metric.description, incremental: true, attributes }))

/**
 * `metric`'s series with `attributes`: a histogram of its own with the same
 * name and description, over `boundaries` (those `metric` was made with).
 * Make it once and keep it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const histogram = (
  metric: Metric.Histogram<number>,
  boundaries: ReadonlyArray<number>,
  attributes: Readonly<Record<string, string>>
): Metric.Histogram<number> =>
  Metric.histogram(metric.id, options({ description: metric.description, boundaries, attributes }))

/**
 * An attribute's values, bounded: the first `max` distinct values are
 * recorded as themselves, any further one as `other`. Values in `unbounded`
 * are always themselves and not counted against `max`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const bounded = (max: number, unbounded: ReadonlySet<string> = new Set()): (value: string) => string => {
  const seen = new Set<string>()
  return (value) => {
    if (seen.has(value) || unbounded.has(value)) return value
    if (seen.size >= max) return "other"
    seen.add(value)
    return value
  }
}

/**
 * Records one limiter's metrics (`RateLimiter.waitTime`, `acquisitions`,
 * `holds`, `holdSeconds`) under a bounded `key` attribute: the limiter key
 * when it came from the URL, `custom` when the caller gave it (it may hold a
 * user id or a token), `default` without either, and past `maxKeys` distinct
 * keys `other`. Each key's series are made once and kept (no
 * `Metric.withAttributes`, which copies the fiber's context on every update).
 */
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricSeries from "@httpkit/core/MetricSeries"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Own from "./own.ts"

/** An acquisition's outcome, as `acquisitions` counts it. */
export type Outcome = "granted" | "refused" | "unavailable" | "fallback" | "late"

/** Why a key was put on hold, as `holds` counts it. */
export type HoldReason = "retry_after" | "too_many_requests" | "budget_exhausted" | "manual"

/** The metrics the recorder updates, from `RateLimiter`. */
export interface Definitions {
  readonly waitTime: Metric.Histogram<number>
  readonly acquisitions: Metric.Counter<number>
  readonly holds: Metric.Counter<number>
  readonly holdSeconds: Metric.Counter<number>
  readonly maxKeys: number
}

/** One `key` attribute's series. */
export interface Series {
  readonly acquired: (outcome: Outcome) => Effect.Effect<void>
  readonly waited: (millis: number) => Effect.Effect<void>
  readonly held: (reason: HoldReason, millis: number) => Effect.Effect<void>
}

/** What the limiter records through. */
export interface Recorder {
  /** The series of a request (or a response) given as `options`, whose limiter key is `key`. */
  readonly of: (options: { readonly key?: string | undefined } | undefined, key: string) => Series
  /** The series of a key the caller named itself (`hold`). */
  readonly custom: () => Series
}

/** A recorder for one limiter. */
export const make = (definitions: Definitions): Recorder => {
  const made = new Map<string, Series>()
  const seriesOf = (key: string): Series => {
    let series = made.get(key)
    if (series !== undefined) return series
    const outcomes = new Map<Outcome, Metric.Counter<number>>()
    const reasons = new Map<HoldReason, Metric.Counter<number>>()
    const wait = MetricSeries.histogram(definitions.waitTime, MetricBoundaries.seconds, { key })
    const holdSeconds = MetricSeries.counter(definitions.holdSeconds, { key })
    series = {
      acquired: (outcome) => {
        let counter = outcomes.get(outcome)
        if (counter === undefined) {
          counter = MetricSeries.counter(definitions.acquisitions, { key, outcome })
          outcomes.set(outcome, counter)
        }
        return Metric.update(counter, 1)
      },
      waited: (millis) => Metric.update(wait, millis / 1_000),
      held: (reason, millis) => {
        let counter = reasons.get(reason)
        if (counter === undefined) {
          counter = MetricSeries.counter(definitions.holds, { key, reason })
          reasons.set(reason, counter)
        }
        return Effect.andThen(Metric.update(counter, 1), Metric.update(holdSeconds, millis / 1_000))
      }
    }
    made.set(key, series)
    return series
  }
  // Keys past the bound share `other`; `default` is always there and not counted against it.
  const boundedKey = MetricSeries.bounded(definitions.maxKeys, new Set(["default"]))
  return {
    of: (options, key) => seriesOf(Own.get(options, "key") !== undefined ? "custom" : boundedKey(key)),
    custom: () => seriesOf("custom")
  }
}

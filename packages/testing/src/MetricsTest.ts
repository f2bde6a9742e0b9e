/**
 * Reading Effect metrics in tests: a registry of the test's own, and its
 * series read by name and attributes.
 *
 * ```ts
 * const metrics = MetricsTest.makeRegistry()
 * yield* program.pipe(Effect.provideService(Metric.MetricRegistry, metrics.registry))
 * assert.strictEqual(metrics.count("httpkit_client_requests_total", { outcome: "success" }), 1)
 *
 * // The same, the registry provided for you:
 * yield* MetricsTest.withRegistry((metrics) =>
 *   Effect.gen(function*() {
 *     yield* program
 *     assert.strictEqual(metrics.count("httpkit_client_requests_total", { outcome: "success" }), 1)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

/**
 * A fresh registry, and ways to read its series.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRegistry = () => {
  const registry: Metric.MetricRegistry = new Map()
  const context = Context.make(Metric.MetricRegistry, registry)
  /** Every series of the registry, as Effect snapshots it. */
  const snapshot = () => Metric.snapshotUnsafe(context)
  /** The series named `id` whose attributes include `attributes`, if exactly one matches. */
  const series = (id: string, attributes: Readonly<Record<string, string>> = {}) => {
    const matching = snapshot().filter((entry) =>
      entry.id === id &&
      Object.entries(attributes).every(([name, value]) => entry.attributes?.[name] === value)
    )
    if (matching.length > 1) throw new Error(`${matching.length} series of ${id} match ${JSON.stringify(attributes)}`)
    return matching[0]
  }
  /** A counter's count, 0 when the series does not exist. */
  const count = (id: string, attributes: Readonly<Record<string, string>> = {}): number =>
    Number((series(id, attributes)?.state as { count?: number } | undefined)?.count ?? 0)
  /** A gauge's value; undefined when the series does not exist. */
  const gauge = (id: string, attributes: Readonly<Record<string, string>> = {}): number | undefined =>
    (series(id, attributes)?.state as { value?: number } | undefined)?.value
  return { registry, snapshot, series, count, gauge }
}

/**
 * A registry read through `makeRegistry`'s functions.
 *
 * @category models
 * @since 0.1.0
 */
export type Registry = ReturnType<typeof makeRegistry>

/**
 * Runs the effect `body` makes with a fresh registry (a new one each time the
 * effect runs) as its `Metric.MetricRegistry`, `body` reading that registry.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withRegistry = <A, E, R>(body: (metrics: Registry) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const metrics = makeRegistry()
    return body(metrics).pipe(Effect.provideService(Metric.MetricRegistry, metrics.registry))
  })

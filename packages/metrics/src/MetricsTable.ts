/**
 * A `Snapshot` as text: aligned tables for a terminal or a log (a row per
 * client and host, then the rate limiter's keys and the download hosts when
 * there are any), or the snapshot as JSON. `layerPrintOnExit` prints the
 * table when the application ends.
 *
 * ```ts
 * const main = program.pipe(
 *   Effect.provide(MetricsTable.layerPrintOnExit().pipe(Layer.provideMerge(ResilientClient.layer())))
 * )
 * ```
 *
 * **Details**
 *
 * Durations and sizes are in human units (`1.8 ms`, `2.4 s`, `12.3 MB`);
 * quantiles are the snapshot's estimates, each within its bucket (a factor of
 * √2 with the shared boundaries; the JSON carries the bounds). `-` marks what
 * was not recorded: no latency yet, no breaker for the host. Rate-limit
 * waits and downloaded bytes are in the limiter's and the downloads' tables,
 * per limiter key and per host: the limiter keys by host name (not by client
 * or port), and the downloader records no client.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as HttpkitMetrics from "./HttpkitMetrics.ts"
import { table } from "./internal/layout.ts"
import type { Column } from "./internal/layout.ts"
import * as Units from "./internal/units.ts"
import * as Snapshot from "./Snapshot.ts"

/**
 * How to render: `table` (default) or `json` (the Schema-encoded snapshot,
 * indented).
 *
 * @category models
 * @since 0.1.0
 */
export interface RenderOptions {
  /** @default "table" */
  readonly format?: "table" | "json" | undefined
}

/**
 * The snapshot as text, without a trailing newline.
 *
 * @category utils
 * @since 0.1.0
 */
export const render = (snapshot: Snapshot.Snapshot, options?: RenderOptions): string =>
  options?.format === "json" ? renderJson(snapshot) : renderTable(snapshot)

const encode = Schema.encodeSync(Snapshot.Snapshot)

const renderJson = (snapshot: Snapshot.Snapshot): string => JSON.stringify(encode(snapshot), null, 2)

const text = (header: string): Column => ({ header, align: "left" })
const figure = (header: string): Column => ({ header, align: "right" })

const count = (value: number): string => String(value)
const seconds = (value: number | undefined): string => (value === undefined ? "-" : Units.duration(value))

const clientColumns: ReadonlyArray<Column> = [
  text("client"),
  text("host"),
  figure("calls"),
  figure("2xx"),
  figure("3xx"),
  figure("4xx"),
  figure("5xx"),
  figure("errors"),
  figure("p50"),
  figure("p90"),
  figure("p99"),
  figure("max"),
  figure("retries"),
  text("breaker")
]

const limiterColumns: ReadonlyArray<Column> = [
  text("key"),
  figure("granted"),
  figure("refused"),
  figure("waits"),
  figure("waited"),
  figure("p50"),
  figure("p90"),
  figure("p99"),
  figure("holds"),
  figure("held")
]

const downloadColumns: ReadonlyArray<Column> = [
  text("host"),
  figure("files"),
  figure("ok"),
  figure("skipped"),
  figure("failed"),
  figure("bytes"),
  figure("resumes"),
  figure("restarts"),
  figure("segments"),
  figure("bad sums"),
  figure("p50"),
  figure("p90"),
  figure("max")
]

const clientRows = (snapshot: Snapshot.Snapshot): Array<Array<string>> =>
  snapshot.clients.flatMap((client) =>
    client.hosts.length === 0
      ? [[client.name, "-", "0", "0", "0", "0", "0", "0", "-", "-", "-", "-", "0", "-"]]
      : client.hosts.map((host) => {
        const classes = host.statusClasses
        return [
          client.name,
          host.host,
          count(host.requests),
          count(classes["2xx"] ?? 0),
          count(classes["3xx"] ?? 0),
          count(classes["4xx"] ?? 0),
          count(classes["5xx"] ?? 0),
          count(host.errors),
          seconds(host.latency?.p50.value),
          seconds(host.latency?.p90.value),
          seconds(host.latency?.p99.value),
          seconds(host.latency?.max),
          count(host.retries),
          host.breaker ?? "-"
        ]
      })
  )

const limiterRows = (snapshot: Snapshot.Snapshot): Array<Array<string>> =>
  snapshot.rateLimiter.map((stats) => [
    stats.key,
    count(stats.acquisitions["granted"] ?? 0),
    count(stats.denials),
    count(stats.waits?.count ?? 0),
    seconds(stats.waits?.totalSeconds ?? 0),
    seconds(stats.waits?.p50.value),
    seconds(stats.waits?.p90.value),
    seconds(stats.waits?.p99.value),
    count(stats.holds),
    seconds(stats.holdSeconds)
  ])

const downloadRows = (snapshot: Snapshot.Snapshot): Array<Array<string>> =>
  snapshot.downloads.map((stats) => {
    const ok = stats.outcomes["success"] ?? 0
    const skipped = stats.outcomes["skipped"] ?? 0
    return [
      stats.host,
      count(stats.files),
      count(ok),
      count(skipped),
      count(stats.files - ok - skipped),
      Units.bytes(stats.bytes),
      count(stats.resumes),
      count(stats.restarts),
      count(stats.segments),
      count(stats.checksumFailures),
      seconds(stats.duration?.p50.value),
      seconds(stats.duration?.p90.value),
      seconds(stats.duration?.max)
    ]
  })

const renderTable = (snapshot: Snapshot.Snapshot): string => {
  if (Snapshot.isEmpty(snapshot)) return "httpkit: no metrics recorded"
  const sections: Array<Array<string>> = []
  if (snapshot.clients.length > 0) sections.push(table("httpkit clients", clientColumns, clientRows(snapshot)))
  if (snapshot.rateLimiter.length > 0) {
    sections.push(table("httpkit rate limiter", limiterColumns, limiterRows(snapshot)))
  }
  if (snapshot.downloads.length > 0) sections.push(table("httpkit downloads", downloadColumns, downloadRows(snapshot)))
  return sections.map((lines) => lines.join("\n")).join("\n\n")
}

/**
 * Options of `layerPrintOnExit`.
 *
 * @category models
 * @since 0.1.0
 */
export interface PrintOptions extends RenderOptions {
  /**
   * Where to print: `console` (`Console.log`, so stdout) or `log` (one log
   * line at level Info, through the application's logger).
   *
   * @default "console"
   */
  readonly to?: "console" | "log" | undefined
}

/**
 * A layer that prints the snapshot (a table, or JSON) when its scope closes:
 * at the end of the application, or of the test. It reads the metric
 * registry of the context it was built in.
 *
 * **Gotchas**
 *
 * Layers close in the reverse order they were built: build this one after
 * the clients (`printLayer.pipe(Layer.provideMerge(clientLayer))`) to print
 * while their gauges (calls in flight, the pool, circuit states) are still
 * registered. Counters and histograms remain either way.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerPrintOnExit = (options?: PrintOptions): Layer.Layer<never> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const output = render(HttpkitMetrics.snapshotUnsafe(context), options)
        return options?.to === "log" ? Effect.logInfo(output) : Console.log(output)
      })
    )
  }))

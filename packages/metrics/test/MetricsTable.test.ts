/**
 * `MetricsTable`: the text layout of a snapshot of known traffic (recorded
 * into a registry under the naming scheme's names and attributes, with
 * latencies chosen so every figure is known), the same over real traffic
 * against the fault-injection server (a row per host, columns aligned), the
 * JSON form decoding back to the same snapshot, and the layer that prints at
 * exit.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import { TestServer } from "@httpkit/testing"
import { makeRegistry } from "@httpkit/testing/MetricsTest"
import { Console, Effect, Layer, Logger, Metric, Schema } from "effect"
import * as HttpkitMetrics from "../src/HttpkitMetrics.ts"
import * as Units from "../src/internal/units.ts"
import * as MetricsTable from "../src/MetricsTable.ts"
import * as Snapshot from "../src/Snapshot.ts"

const { names } = HttpkitMetrics

/** Records `value` `times` times into the series `name` with `attributes`. */
const count = (name: string, attributes: Record<string, string>, value = 1) =>
  Metric.update(Metric.counter(name, { incremental: true, attributes }), value)

const observe = (name: string, attributes: Record<string, string>, values: ReadonlyArray<number>) => {
  const histogram = Metric.histogram(name, { boundaries: MetricBoundaries.seconds, attributes })
  return Effect.forEach(values, (value) => Metric.update(histogram, value), { discard: true })
}

const gauge = (name: string, attributes: Record<string, string>, value: number) =>
  Metric.update(Metric.gauge(name, { attributes }), value)

const repeat = (n: number, value: number): ReadonlyArray<number> => Array.from({ length: n }, () => value)

/**
 * Known traffic, as the client, the limiter and the downloader record it:
 * client `api` made 13 calls to 127.0.0.1:8080 (10 × 200, 2 × 404, 1 × 503,
 * each 1.8 ms, 2 retries, circuit closed) and 4 to localhost:8080 (3 × 200 in
 * 10 ms, 1 × 302 in 11 ms, circuit open); client `batch` none. The limiter
 * waited 12 times 250 ms under key 127.0.0.1, refused 3, held off once for
 * 2 s; 5 downloads from 127.0.0.1:8080 took 2.4 s each and brought 12,345,678
 * bytes. Plus a series of another name, which the snapshot ignores.
 */
const knownTraffic = Effect.gen(function*() {
  const a = { client: "api", method: "GET", host: "127.0.0.1:8080" }
  yield* count(names.clientRequests, { ...a, status: "200", outcome: "success" }, 10)
  yield* count(names.clientRequests, { ...a, status: "404", outcome: "NotFoundError" }, 2)
  yield* count(names.clientRequests, { ...a, status: "503", outcome: "ServiceUnavailableError" }, 1)
  yield* observe(names.clientRequestDuration, a, repeat(13, 0.0018))
  yield* count(names.clientRetries, { client: "api", host: a.host, reason: "ServiceUnavailableError" }, 2)
  yield* gauge(names.clientCircuitState, { client: "api", key: "http://127.0.0.1:8080" }, 0)

  const b = { client: "api", method: "GET", host: "localhost:8080" }
  yield* count(names.clientRequests, { ...b, status: "200", outcome: "success" }, 3)
  yield* count(names.clientRequests, { ...b, status: "302", outcome: "success" }, 1)
  yield* observe(names.clientRequestDuration, b, [0.010, 0.010, 0.010, 0.011])
  yield* gauge(names.clientCircuitState, { client: "api", key: "http://localhost:8080" }, 2)
  yield* gauge(names.clientCircuitsOpen, { client: "api" }, 1)
  yield* gauge(names.clientInFlight, { client: "api" }, 0)
  yield* gauge(names.clientInFlight, { client: "batch" }, 0)

  yield* observe(names.rateLimiterWait, { key: "127.0.0.1" }, repeat(12, 0.25))
  yield* count(names.rateLimiterAcquisitions, { key: "127.0.0.1", outcome: "granted" }, 12)
  yield* count(names.rateLimiterAcquisitions, { key: "127.0.0.1", outcome: "refused" }, 3)
  yield* count(names.rateLimiterHolds, { key: "127.0.0.1", reason: "retry_after" }, 1)
  yield* count(names.rateLimiterHoldSeconds, { key: "127.0.0.1" }, 2)
  yield* count(names.rateLimiterAcquisitions, { key: "custom", outcome: "granted" }, 5)

  const d = { host: "127.0.0.1:8080" }
  yield* count(names.downloadFiles, { ...d, outcome: "success" }, 3)
  yield* count(names.downloadFiles, { ...d, outcome: "skipped" }, 1)
  yield* count(names.downloadFiles, { ...d, outcome: "ServerError" }, 1)
  yield* count(names.downloadBytes, d, 12_345_678)
  yield* count(names.downloadResumes, d, 1)
  yield* count(names.downloadSegments, d, 6)
  yield* observe(names.downloadDuration, { ...d, outcome: "success" }, repeat(5, 2.4))

  yield* count("my_app_jobs_total", { host: "127.0.0.1:8080" }, 7)
})

const expectedTable = [
  "httpkit clients",
  "client  host            calls  2xx  3xx  4xx  5xx  errors      p50      p90      p99      max  retries  breaker",
  "api     127.0.0.1:8080     13   10    0    2    1       3   1.8 ms   1.8 ms   1.8 ms   1.8 ms        2  closed",
  "api     localhost:8080      4    3    1    0    0       0  10.5 ms  10.9 ms  11.0 ms  11.0 ms        0  open",
  "batch   -                   0    0    0    0    0       0        -        -        -        -        0  -",
  "",
  "httpkit rate limiter",
  "key        granted  refused  waits  waited     p50     p90     p99  holds   held",
  "127.0.0.1       12        3     12   3.0 s  250 ms  250 ms  250 ms      1  2.0 s",
  "custom           5        0      0     0 s       -       -       -      0    0 s",
  "",
  "httpkit downloads",
  "host            files  ok  skipped  failed    bytes  resumes  restarts  segments  bad sums    p50    p90    max",
  "127.0.0.1:8080      5   3        1       1  12.3 MB        1         0         6         0  2.4 s  2.4 s  2.4 s"
].join("\n")

describe("MetricsTable.render", () => {
  it.effect("known traffic: 3 client rows, 2 limiter keys, 1 download host, each column aligned", () =>
    Effect.gen(function*() {
      yield* knownTraffic
      const snapshot = yield* HttpkitMetrics.snapshot
      assert.strictEqual(MetricsTable.render(snapshot), expectedTable)
      assert.strictEqual(MetricsTable.render(snapshot, { format: "table" }), expectedTable)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("known traffic: the snapshot behind the table, the other name's series ignored", () =>
    Effect.gen(function*() {
      yield* knownTraffic
      const snapshot = yield* HttpkitMetrics.snapshot
      assert.deepStrictEqual(snapshot.clients.map((client) => client.name), ["api", "batch"])
      const api = snapshot.clients[0]!
      assert.strictEqual(api.circuitsOpen, 1)
      assert.isUndefined(api.pool)
      assert.deepStrictEqual(api.hosts.map((host) => [host.host, host.breaker]), [
        ["127.0.0.1:8080", "closed"],
        ["localhost:8080", "open"]
      ])
      const a = api.hosts[0]!
      assert.deepStrictEqual(a.statusClasses, { "2xx": 10, "4xx": 2, "5xx": 1 })
      assert.deepStrictEqual(a.errorsByTag, { NotFoundError: 2, ServiceUnavailableError: 1 })
      assert.deepStrictEqual(a.latency?.p99, new Snapshot.Quantile({ value: 0.0018, lower: 0.0018, upper: 0.0018 }))
      const b = api.hosts[1]!
      // Four values in the bucket (2^-7, 2^-6.5] s, narrowed to [10 ms, 11 ms]: p50 at rank 2 of 4.
      assert.closeTo(b.latency!.p50.value, 0.0105, 1e-12)
      assert.strictEqual(b.latency!.p50.lower, 0.010)
      assert.strictEqual(b.latency!.p50.upper, 0.011)

      const [limited, custom] = snapshot.rateLimiter
      assert.strictEqual(limited?.key, "127.0.0.1")
      assert.strictEqual(limited?.waits?.count, 12)
      assert.closeTo(limited!.waits!.totalSeconds, 3, 1e-12)
      assert.deepStrictEqual(limited?.acquisitions, { granted: 12, refused: 3 })
      assert.strictEqual(limited?.denials, 3)
      assert.strictEqual(limited?.holds, 1)
      assert.deepStrictEqual(limited?.holdsByReason, { retry_after: 1 })
      assert.strictEqual(limited?.holdSeconds, 2)
      assert.strictEqual(custom?.key, "custom")
      assert.isUndefined(custom?.waits)

      assert.deepStrictEqual(
        snapshot.downloads,
        [
          new Snapshot.DownloadStats({
            host: "127.0.0.1:8080",
            files: 5,
            outcomes: { ServerError: 1, skipped: 1, success: 3 },
            bytes: 12_345_678,
            resumes: 1,
            restarts: 0,
            continuations: 0,
            segments: 6,
            checksumFailures: 0,
            checksumFailuresByAlgorithm: {},
            duration: snapshot.downloads[0]!.duration!
          })
        ]
      )
      assert.strictEqual(snapshot.downloads[0]!.duration!.count, 5)
      assert.closeTo(snapshot.downloads[0]!.duration!.p50.value, 2.4, 1e-12)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("JSON: the Schema-encoded snapshot, which decodes back to an equal snapshot", () =>
    Effect.gen(function*() {
      yield* knownTraffic
      const snapshot = yield* HttpkitMetrics.snapshot
      const json = MetricsTable.render(snapshot, { format: "json" })
      const parsed = JSON.parse(json)
      assert.deepStrictEqual(parsed.clients[0].hosts[0].latency.p99, { value: 0.0018, lower: 0.0018, upper: 0.0018 })
      assert.strictEqual(parsed.clients[0].hosts[1].breaker, "open")
      assert.notProperty(parsed.clients[0], "pool")
      assert.deepStrictEqual(Schema.decodeUnknownSync(Snapshot.Snapshot)(parsed), snapshot)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("nothing recorded: one line saying so; JSON with three empty lists", () =>
    Effect.gen(function*() {
      const snapshot = yield* HttpkitMetrics.snapshot
      assert.deepStrictEqual(snapshot, Snapshot.empty)
      assert.strictEqual(MetricsTable.render(snapshot), "httpkit: no metrics recorded")
      assert.deepStrictEqual(JSON.parse(MetricsTable.render(snapshot, { format: "json" })), {
        clients: [],
        rateLimiter: [],
        downloads: []
      })
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})

describe("human units", () => {
  it("durations: 850 µs, 1.8 ms, 120 ms, 2.4 s, 90 s as 1.5 min, 2 h; 0 as 0 s", () => {
    assert.deepStrictEqual(
      [0.00085, 0.0018, 0.12, 2.4, 90, 7200, 0].map(Units.duration),
      ["850 µs", "1.8 ms", "120 ms", "2.4 s", "1.5 min", "2.0 h", "0 s"]
    )
  })

  it("bytes, decimal prefixes: 512 B, 1.5 kB, 12.3 MB, 4.3 GB, 1.2 TB", () => {
    assert.deepStrictEqual(
      [512, 1_500, 12_345_678, 4_294_967_296, 1.2e12].map(Units.bytes),
      ["512 B", "1.5 kB", "12.3 MB", "4.3 GB", "1.2 TB"]
    )
  })
})

/**
 * Checks that every cell of `lines` (a header, then rows) lines up with its
 * header: figures end where their header ends, text starts where its header
 * starts, two spaces before each column.
 */
const assertAligned = (lines: ReadonlyArray<string>, columns: ReadonlyArray<readonly [string, "left" | "right"]>) => {
  const [header, ...rows] = lines as [string, ...Array<string>]
  let cursor = 0
  for (const [name, align] of columns) {
    const start = header.indexOf(name, cursor)
    assert.isAtLeast(start, cursor, `header ${name}`)
    const end = start + name.length
    cursor = end
    for (const row of rows) {
      const where = `${name} in ${JSON.stringify(row)}`
      if (align === "right") {
        assert.notStrictEqual(row[end - 1], " ", where)
        assert.isTrue(row.length === end || row.slice(end, end + 2) === "  ", where)
      } else {
        assert.notStrictEqual(row[start], " ", where)
        assert.isTrue(start === 0 || row.slice(start - 2, start) === "  ", where)
      }
    }
  }
}

describe("MetricsTable over real traffic", () => {
  it.live("127.0.0.1: 3 × 200 and 1 × 404; localhost: 2 × 200: two rows, their counts, aligned columns", () => {
    const metrics = makeRegistry()
    return Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ name: "web", retry: { maxAttempts: 1 } })
      const named = server.url.replace("127.0.0.1", "localhost")
      for (let i = 0; i < 3; i++) yield* client.get(server.urlFor("/health"))
      yield* Effect.flip(client.get(server.urlFor("/status/404")))
      for (let i = 0; i < 2; i++) yield* client.get(`${named}/health`)

      const table = MetricsTable.render(yield* HttpkitMetrics.snapshot)
      const lines = table.split("\n")
      assert.strictEqual(lines[0], "httpkit clients")
      assert.strictEqual(lines.length, 4, table)
      const port = new URL(server.url).port
      assert.match(lines[2]!, new RegExp(`^web\\s+127\\.0\\.0\\.1:${port}\\s+4\\s+3\\s+0\\s+1\\s+0\\s+1\\s`), table)
      assert.match(lines[3]!, new RegExp(`^web\\s+localhost:${port}\\s+2\\s+2\\s+0\\s+0\\s+0\\s+0\\s`), table)
      assertAligned(lines.slice(1), [
        ["client", "left"],
        ["host", "left"],
        ["calls", "right"],
        ["2xx", "right"],
        ["3xx", "right"],
        ["4xx", "right"],
        ["5xx", "right"],
        ["errors", "right"],
        ["p50", "right"],
        ["p90", "right"],
        ["p99", "right"],
        ["max", "right"],
        ["retries", "right"],
        ["breaker", "left"]
      ])
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
  })
})

describe("MetricsTable.layerPrintOnExit", () => {
  it.effect("prints the table once, when its scope closes, after the traffic it ran around", () =>
    Effect.gen(function*() {
      const printed: Array<unknown> = []
      const console_: Console.Console = Object.assign(Object.create(console), {
        log: (...args: ReadonlyArray<unknown>) => printed.push(...args)
      })
      yield* Effect.gen(function*() {
        yield* knownTraffic
        assert.deepStrictEqual(printed, [])
      }).pipe(
        Effect.provide(MetricsTable.layerPrintOnExit()),
        Effect.provideService(Console.Console, console_)
      )
      assert.deepStrictEqual(printed, [expectedTable])
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("to: log, format: json: one Info log line holding the JSON snapshot", () =>
    Effect.gen(function*() {
      const logged: Array<{ readonly message: unknown; readonly level: string }> = []
      const capture = Logger.make((options) => {
        logged.push({ message: options.message, level: options.logLevel })
      })
      yield* knownTraffic.pipe(
        Effect.provide(MetricsTable.layerPrintOnExit({ to: "log", format: "json" })),
        Effect.provide(Logger.layer([capture]))
      )
      assert.strictEqual(logged.length, 1)
      assert.strictEqual(logged[0]!.level, "Info")
      const [message] = logged[0]!.message as ReadonlyArray<string>
      const decoded = Schema.decodeUnknownSync(Snapshot.Snapshot)(JSON.parse(message!))
      assert.strictEqual(decoded.clients[0]!.hosts[0]!.requests, 13)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.live("built after ResilientClient.layer (Layer.provideMerge), it prints while the client's pool gauges are registered", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const printed: Array<string> = []
      const console_: Console.Console = Object.assign(Object.create(console), {
        log: (text: string) => printed.push(text)
      })
      const live = MetricsTable.layerPrintOnExit({ format: "json" }).pipe(
        Layer.provideMerge(ResilientClient.layer({ name: "layered" }))
      )
      yield* Effect.gen(function*() {
        const client = yield* ResilientClient.ResilientClient
        yield* client.get(server.urlFor("/health"))
      }).pipe(Effect.provide(live), Effect.provideService(Console.Console, console_))
      assert.strictEqual(printed.length, 1)
      const snapshot = Schema.decodeUnknownSync(Snapshot.Snapshot)(JSON.parse(printed[0]!))
      assert.strictEqual(snapshot.clients[0]?.name, "layered")
      assert.strictEqual(snapshot.clients[0]?.hosts[0]?.requests, 1)
      assert.strictEqual(snapshot.clients[0]?.pool?.connected, 1)
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())))
})

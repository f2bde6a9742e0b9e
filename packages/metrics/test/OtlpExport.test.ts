/**
 * `OtlpExport` against a local OTLP/HTTP receiver (`support/otlpReceiver.ts`)
 * that decodes what it gets: known traffic through a `ResilientClient`
 * against the fault-injection server gives the expected metric data points,
 * spans and log records, all sent when the layer's scope closes. Export
 * intervals are an hour, so every export seen here is the shutdown flush (or
 * an explicit `flush`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as LoggingTest from "@httpkit/testing/LoggingTest"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as TestServer from "@httpkit/testing/TestServer"
import * as TlsTest from "@httpkit/testing/TlsTest"
import { ConfigProvider, Duration, Effect, Layer, Metric, Redacted, type Scope } from "effect"
import { OtlpExporter } from "effect/observability"
import * as OtlpExport from "../src/OtlpExport.ts"
import * as Receiver from "./support/otlpReceiver.ts"

const hour = "1 hour"

const withEnv = <A, E, R>(env: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

/** The data points of the metric `name` in the receiver's exports, with their attributes as a record. */
const points = (receiver: Receiver.Receiver, name: string) =>
  receiver.metrics().filter((metric) => metric.name === name).flatMap((metric) =>
    (metric.sum ?? metric.gauge ?? metric.histogram)!.dataPoints.map((point) => ({
      ...point,
      labels: Receiver.attributesOf(point.attributes)
    }))
  )

const matches = (labels: Record<string, unknown>, wanted: Record<string, unknown>) =>
  Object.entries(wanted).every(([key, value]) => labels[key] === value)

/** The settings a configuration error names, in its order. */
const settings = (error: { readonly problems: ReadonlyArray<{ readonly setting: string }> }) =>
  error.problems.map((problem) => problem.setting)

/** The paths the receiver was sent, sorted. */
const exported = (receiver: Receiver.Receiver) => receiver.received().map((entry) => entry.path).toSorted()

/** The one warning among `logs` that an export to `url` failed. */
const failureTo = (logs: ReadonlyArray<string>, url: string) => {
  const ours = logs.filter((line) => line.includes(`OTLP export to ${url} failed`))
  assert.strictEqual(ours.length, 1, `${url}: ${logs.join("\n")}`)
  return ours[0]!
}

/** Whether a line says Effect's exporter paused the signal posted to `url`. */
const pausing = (url: string) => (line: string) => line.includes("Disabling exporter") && line.includes(url)

describe("OtlpExport", () => {
  it.live(
    "known traffic (4 GET calls, one retried after a 503, one 404) exports its data points, 6 attempt spans and 6 attempt logs at scope close",
    () =>
      MetricsTest.withRegistry((metrics) =>
        Effect.gen(function*() {
          const receiver = yield* Receiver.make
          const server = yield* TestServer.make()
          yield* Effect.gen(function*() {
            const client = yield* ResilientClient.make({
              name: "otlp",
              retry: { maxAttempts: 3, minDelay: 1, maxDelay: 5 },
              logging: { level: "info" }
            })
            yield* client.get(server.urlFor("/msg"))
            yield* client.post(server.urlFor("/fail/count/1?status=503"))
            yield* client.get(server.urlFor("/msg"))
            yield* client.get(server.urlFor("/msg"))
            yield* Effect.flip(client.get(server.urlFor("/status/404")))
            // Nothing is sent before the scope closes: the intervals are an hour.
            assert.deepStrictEqual(receiver.received(), [])
          }).pipe(
            Effect.withSpan("app"),
            Effect.scoped,
            Effect.provide(
              OtlpExport.layer({ baseUrl: receiver.url, serviceName: "otlp-test", exportInterval: hour })
            )
          )

          // One POST per signal, all at shutdown, JSON by default.
          assert.deepStrictEqual(exported(receiver), ["/v1/logs", "/v1/metrics", "/v1/traces"])
          for (const entry of receiver.received()) assert.strictEqual(entry.contentType, "application/json")
          for (const resource of receiver.resources()) assert.strictEqual(resource["service.name"], "otlp-test")

          const host = new URL(server.url).host
          const attempts = (yield* server.requests).length
          assert.strictEqual(attempts, 6)

          const requests = points(receiver, "httpkit_client_requests_total")
          const ok = requests.filter((point) =>
            matches(point.labels, {
              client: "otlp",
              method: "GET",
              host,
              status: "200",
              status_class: "2xx",
              outcome: "success"
            })
          )
          assert.strictEqual(ok.length, 1)
          assert.strictEqual(Number(ok[0]!.asInt ?? ok[0]!.asDouble), 3)
          const notFound = requests.filter((point) =>
            matches(point.labels, { status: "404", outcome: "NotFoundError" })
          )
          assert.strictEqual(Number(notFound[0]!.asInt ?? notFound[0]!.asDouble), 1)
          const metric = receiver.metrics().find((entry) => entry.name === "httpkit_client_requests_total")!
          assert.isTrue(metric.sum!.isMonotonic)

          const retries = points(receiver, "httpkit_client_retries_total")
            .filter((point) => matches(point.labels, { client: "otlp", host, reason: "ServiceUnavailableError" }))
          assert.strictEqual(Number(retries[0]!.asInt ?? retries[0]!.asDouble), 1)

          const durations = points(receiver, "httpkit_client_request_duration_seconds")
            .filter((point) => matches(point.labels, { client: "otlp", method: "GET", host }))
          assert.strictEqual(durations.length, 1)
          const histogram = durations[0]!
          assert.strictEqual(Number(histogram.count), 4)
          assert.deepStrictEqual(histogram.explicitBounds, [...MetricBoundaries.seconds])
          assert.strictEqual(histogram.bucketCounts!.length, MetricBoundaries.seconds.length + 1)
          assert.strictEqual(histogram.bucketCounts!.reduce<number>((total, count) => total + Number(count), 0), 4)
          const state = metrics.series("httpkit_client_request_duration_seconds", { client: "otlp", method: "GET" })
            ?.state as { readonly sum: number }
          assert.closeTo(histogram.sum!, state.sum, 1e-9)

          // Spans: the application's, and one per attempt under it, with OTel's HTTP attributes.
          const spans = receiver.spans()
          const app = spans.find((span) => span.name === "app")!
          assert.isDefined(app)
          const http = spans.filter((span) =>
            Receiver.attributesOf(span.attributes)["http.request.method"] !== undefined
          )
          assert.isAtLeast(http.length, attempts)
          for (const span of http) assert.strictEqual(span.traceId, app.traceId)
          const missing = http.map((span) => Receiver.attributesOf(span.attributes)).find((attributes) =>
            attributes["http.response.status_code"] === 404
          )
          assert.isDefined(missing)
          assert.strictEqual(missing!["server.address"], "127.0.0.1")
          assert.strictEqual(missing!["server.port"], Number(new URL(server.url).port))
          assert.strictEqual(missing!["url.full"], server.urlFor("/status/404"))
          assert.isDefined(missing!["error.type"])

          // Logs: one "http attempt" record per request the server saw.
          const logs = receiver.logs().filter((record) => record.body.stringValue === "http attempt")
          assert.strictEqual(logs.length, attempts)
          const failed = logs.map((record) => Receiver.attributesOf(record.attributes)).filter((attributes) =>
            attributes["error"] === "ServiceUnavailableError"
          )
          assert.strictEqual(failed.length, 1)
          assert.strictEqual(failed[0]!["status"], 503)
          for (const record of logs) assert.strictEqual(record.traceId, app.traceId)

          // The exporter's own requests are neither traced nor counted.
          const receiverHost = new URL(receiver.url).host
          for (const span of spans) {
            assert.notInclude(String(Receiver.attributesOf(span.attributes)["url.full"] ?? ""), receiverHost)
          }
          assert.isFalse(requests.some((point) => point.labels["host"] === receiverHost))
        }).pipe(Effect.scoped)
      )
  )

  it.live("protocol protobuf posts application/x-protobuf to the three paths; flush sends all three at once", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      yield* Effect.gen(function*() {
        yield* Metric.update(Metric.counter("protobuf_probe_total"), 2)
        yield* Effect.logInfo("protobuf probe")
        yield* Effect.void.pipe(Effect.withSpan("protobuf-span"))
        const flusher = yield* OtlpExporter.Flusher
        yield* flusher.flush
        assert.deepStrictEqual(exported(receiver), ["/v1/logs", "/v1/metrics", "/v1/traces"])
      }).pipe(
        Effect.scoped,
        Effect.provide(OtlpExport.layer({
          baseUrl: `${receiver.url}/`,
          protocol: "protobuf",
          serviceName: "proto",
          exportInterval: hour
        }))
      )
      const byPath = (path: string) => receiver.received().filter((entry) => entry.path === path)
      for (const entry of receiver.received()) assert.strictEqual(entry.contentType, "application/x-protobuf")
      assert.include(byPath("/v1/metrics")[0]!.bytes.toString("latin1"), "protobuf_probe_total")
      assert.include(byPath("/v1/logs")[0]!.bytes.toString("latin1"), "protobuf probe")
      assert.include(byPath("/v1/traces")[0]!.bytes.toString("latin1"), "protobuf-span")
      // The shutdown flush sends the metrics again (a snapshot), and no more spans or logs.
      assert.strictEqual(byPath("/v1/traces").length, 1)
      assert.strictEqual(byPath("/v1/metrics").length, 2)
    }).pipe(Effect.scoped))

  it.live(
    "layerConfig honours OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, a signal's own endpoint, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_EXPORTER=none",
    () =>
      Effect.gen(function*() {
        const receiver = yield* Receiver.make
        const env = {
          OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/collector/`,
          OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${receiver.url}/v1/logs`,
          OTEL_EXPORTER_OTLP_HEADERS: "x-otlp-key=k%3D1,x-team=obs",
          OTEL_SERVICE_NAME: "from-env",
          OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
          OTEL_TRACES_EXPORTER: "none",
          OTEL_METRIC_EXPORT_INTERVAL: "3600000",
          OTEL_BLRP_SCHEDULE_DELAY: "3600000"
        }
        yield* Effect.gen(function*() {
          yield* Effect.logInfo("configured")
          yield* Effect.void.pipe(Effect.withSpan("not-exported"))
        }).pipe(Effect.scoped, Effect.provide(OtlpExport.layerConfig()), (effect) => withEnv(env, effect))
        assert.deepStrictEqual(exported(receiver), ["/collector/v1/metrics", "/v1/logs"])
        for (const entry of receiver.received()) {
          assert.strictEqual(entry.headers["x-otlp-key"], "k=1")
          assert.strictEqual(entry.headers["x-team"], "obs")
          assert.strictEqual(entry.contentType, "application/json")
        }
        for (const resource of receiver.resources()) {
          assert.strictEqual(resource["service.name"], "from-env")
          assert.strictEqual(resource["deployment.environment"], "test")
        }
        assert.deepStrictEqual(receiver.logs().map((record) => record.body.stringValue), ["configured"])
      }).pipe(Effect.scoped)
  )

  it.live("OTEL_SDK_DISABLED=true exports nothing; without a service name the resource says unknown_service:node", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      yield* Effect.logInfo("dropped").pipe(
        Effect.scoped,
        Effect.provide(OtlpExport.layerConfig()),
        (effect) => withEnv({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, effect)
      )
      assert.deepStrictEqual(receiver.received(), [])

      yield* Effect.logInfo("kept").pipe(
        Effect.scoped,
        Effect.provide(OtlpExport.layer({ baseUrl: receiver.url, signals: { metrics: false, traces: false } })),
        (effect) => withEnv({}, effect)
      )
      assert.deepStrictEqual(receiver.received().map((entry) => entry.path), ["/v1/logs"])
      assert.strictEqual(receiver.resources()[0]!["service.name"], "unknown_service:node")
    }).pipe(Effect.scoped))

  it.effect("invalid OTEL_* variables fail with one MetricsConfigError naming each (header values never shown), a bad OTEL_RESOURCE_ATTRIBUTES too", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_HEADERS: "api-key",
        OTEL_EXPORTER_OTLP_TIMEOUT: "3s"
      }, OtlpExport.fromConfig()))
      assert.strictEqual(error._tag, "MetricsConfigError")
      assert.deepStrictEqual(settings(error), [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_HEADERS"
      ])
      assert.include(
        error.message,
        "OTEL_EXPORTER_OTLP_ENDPOINT is \"collector:4318\", expected an http or https URL"
      )
      assert.include(error.message, "OTEL_EXPORTER_OTLP_PROTOCOL is \"grpc\", expected http/json or http/protobuf")
      assert.include(error.message, "OTEL_EXPORTER_OTLP_HEADERS is set (value not shown)")
      assert.notInclude(error.message, "api-key")

      // Effect's resource reader would die on this one; here it is a typed error.
      const resource = yield* Effect.flip(withEnv(
        { OTEL_RESOURCE_ATTRIBUTES: "team=%E0%A4%A" },
        Layer.build(OtlpExport.layer({ baseUrl: "http://127.0.0.1:4318", serviceName: "named" }))
      ))
      assert.strictEqual(resource._tag, "MetricsConfigError")
      assert.strictEqual(resource.problems[0]!.setting, "OTEL_RESOURCE_ATTRIBUTES")

      const inCode = yield* Effect.flip(Layer.build(OtlpExport.layer({ baseUrl: "ftp://collector/" })))
      assert.strictEqual(
        inCode.message,
        "invalid OTLP configuration: baseUrl is \"ftp://collector/\", expected an http or https URL without " +
          "user-info or secret query parameters (send credentials as headers: Effect's exporter logs its URL)"
      )
    }).pipe(Effect.scoped))

  it.effect("an export URL with user-info or a secret query parameter (in code or any OTEL_*ENDPOINT) is a MetricsConfigError that never shows the secret: Effect's exporter would log the URL", () =>
    Effect.gen(function*() {
      const inCode = [
        "https://user:PW1@collector:4318",
        "https://collector:4318/?api_key=PW2",
        "https://collector:4318/?X-Access-Token=PW3"
      ]
      for (const baseUrl of inCode) {
        const error = yield* Effect.flip(Layer.build(OtlpExport.layer({ baseUrl, serviceName: "s" })))
        assert.strictEqual(error._tag, "MetricsConfigError")
        assert.deepStrictEqual(settings(error), ["baseUrl"])
        assert.include(error.message, "send credentials as headers")
        assert.notMatch(JSON.stringify([error.message, error.problems]), /PW\d/)
      }
      const fromEnv = yield* Effect.flip(withEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4318/?token=PW4",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://u:PW5@collector:4318/v1/traces"
      }, OtlpExport.fromConfig()))
      assert.deepStrictEqual(settings(fromEnv), [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
      ])
      assert.notMatch(JSON.stringify([fromEnv.message, fromEnv.problems]), /PW\d/)
      // A query without secrets is an ordinary URL.
      const plain = yield* withEnv(
        { OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4318/?tenant=a" },
        OtlpExport.fromConfig()
      )
      assert.strictEqual(plain.targets.traces, "https://collector:4318/v1/traces?tenant=a")
    }).pipe(Effect.scoped))

  it.effect("a header value with CR, LF or NUL (in code, Redacted, or percent-decoded from OTEL_EXPORTER_OTLP_HEADERS) fails with MetricsConfigError naming the header, never the value", () =>
    Effect.gen(function*() {
      const base = "http://127.0.0.1:4318"
      const cases = [
        { "x-api-key": Redacted.make("SECRET1\r\nX-Evil: 1") },
        { "x-api-key": "SECRET2\r\nX-Evil: 1" },
        { "x-api-key": "SECRET3\u0000x" },
        { "x-api-key": "SECRET4\u0100" }
      ]
      for (const headers of cases) {
        const error = yield* Effect.flip(Layer.build(OtlpExport.layer({ baseUrl: base, serviceName: "s", headers })))
        assert.strictEqual(error._tag, "MetricsConfigError")
        assert.deepStrictEqual(settings(error), ["headers.x-api-key"])
        assert.include(error.message, "headers.x-api-key is set (value not shown)")
        assert.notInclude(JSON.stringify([error.message, error.problems]), "SECRET")
      }
      const fromCode = yield* Effect.flip(withEnv({}, OtlpExport.fromConfig({ headers: cases[0]! })))
      assert.deepStrictEqual(settings(fromCode), ["headers.x-api-key"])

      const fromEnv = yield* Effect.flip(withEnv(
        { OTEL_EXPORTER_OTLP_HEADERS: "api-key=SECHDR%0d%0aX-Evil: y" },
        Layer.build(OtlpExport.layerConfig({ serviceName: "s" }))
      ))
      assert.strictEqual(fromEnv._tag, "MetricsConfigError")
      assert.deepStrictEqual(settings(fromEnv), ["OTEL_EXPORTER_OTLP_HEADERS"])
      assert.include(fromEnv.message, "OTEL_EXPORTER_OTLP_HEADERS is set (value not shown)")
      assert.include(fromEnv.message, "\"api-key\"")
      assert.notInclude(JSON.stringify([fromEnv.message, fromEnv.problems]), "SECHDR")

      // A tab and Latin-1 are field-value characters: accepted.
      const fine = yield* withEnv({}, OtlpExport.fromConfig({ baseUrl: base, headers: { "x-a": "a\tb\u00e9" } }))
      assert.deepStrictEqual(fine.headers, { "x-a": "a\tb\u00e9" })
    }).pipe(Effect.scoped))

  it.effect("an export interval under 100 ms, or a shutdown or export timeout of 0, fails with MetricsConfigError naming the setting and value", () =>
    Effect.gen(function*() {
      const base = "http://127.0.0.1:4318"
      const inCode = yield* Effect.flip(
        Layer.build(
          OtlpExport.layer({ baseUrl: base, serviceName: "s", exportInterval: 0, shutdownTimeout: 0, exportTimeout: 0 })
        )
      )
      assert.strictEqual(
        inCode.message,
        "invalid OTLP configuration: exportInterval is 0, expected a duration of at least 100 ms; shutdownTimeout is 0, expected a duration above 0; exportTimeout is 0, expected a duration above 0"
      )
      const short = yield* Effect.flip(
        Layer.build(OtlpExport.layer({ baseUrl: base, serviceName: "s", exportInterval: "99 millis" }))
      )
      assert.deepStrictEqual(settings(short), ["exportInterval"])

      const fromEnv = yield* Effect.flip(withEnv({
        OTEL_METRIC_EXPORT_INTERVAL: "0",
        OTEL_BSP_SCHEDULE_DELAY: "99",
        OTEL_BLRP_SCHEDULE_DELAY: "0",
        OTEL_EXPORTER_OTLP_TIMEOUT: "0"
      }, Layer.build(OtlpExport.layerConfig({ serviceName: "s" }))))
      assert.deepStrictEqual(settings(fromEnv), [
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BLRP_SCHEDULE_DELAY"
      ])
      assert.include(
        fromEnv.message,
        "OTEL_METRIC_EXPORT_INTERVAL is \"0\", expected a whole number of milliseconds, at least 100"
      )
      assert.include(
        fromEnv.message,
        "OTEL_EXPORTER_OTLP_TIMEOUT is \"0\", expected a whole number of milliseconds, at least 1"
      )

      // 100 ms is the least interval taken.
      const fine = yield* withEnv({}, OtlpExport.fromConfig({ baseUrl: base, exportInterval: 100 }))
      assert.strictEqual(fine.intervals.metrics, 100)

      // OTEL_EXPORTER_OTLP_TIMEOUT is each export's deadline (OpenTelemetry's meaning) and the wait at shutdown;
      // either one given in code wins over it.
      const timeouts = yield* withEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: "5000" }, OtlpExport.fromConfig({ baseUrl: base }))
      assert.deepStrictEqual([timeouts.exportTimeout, timeouts.shutdownTimeout], [
        Duration.millis(5000),
        Duration.millis(5000)
      ])
      const inCodeWins = yield* withEnv(
        { OTEL_EXPORTER_OTLP_TIMEOUT: "5000" },
        OtlpExport.fromConfig({ baseUrl: base, exportTimeout: "2 seconds" })
      )
      assert.deepStrictEqual([inCodeWins.exportTimeout, inCodeWins.shutdownTimeout], [
        "2 seconds",
        Duration.millis(5000)
      ])
    }).pipe(Effect.scoped))

  it.effect("OTEL_RESOURCE_ATTRIBUTES with an entry that is not key=value (a, =b, a=b,c, a b=c) fails with MetricsConfigError naming it", () =>
    Effect.gen(function*() {
      for (const value of ["a", "=b", "a=b,c", "a b=c"]) {
        const error = yield* Effect.flip(withEnv(
          { OTEL_RESOURCE_ATTRIBUTES: value },
          OtlpExport.fromConfig({ baseUrl: "http://127.0.0.1:4318" })
        ))
        assert.deepStrictEqual(settings(error), ["OTEL_RESOURCE_ATTRIBUTES"], value)
      }
      for (const value of ["a=b", "a=b, c=%20d", "a=,b=c,"]) {
        yield* withEnv({ OTEL_RESOURCE_ATTRIBUTES: value }, OtlpExport.fromConfig({ baseUrl: "http://127.0.0.1:4318" }))
      }
    }))
})

/** Unhandled promise rejections while `effect` runs. */
const rejectionsDuring = <A, E, R>(rejections: Array<unknown>, effect: Effect.Effect<A, E, R>) => {
  const listener = (reason: unknown) => void rejections.push(reason)
  return Effect.acquireUseRelease(
    Effect.sync(() => void process.on("unhandledRejection", listener)),
    () => effect,
    () => Effect.sync(() => void process.off("unhandledRejection", listener))
  )
}

/** A metric, a span and a log line: something for each signal to export. */
const recordEachSignal = Effect.gen(function*() {
  yield* Metric.update(Metric.counter("tls_probe_total"), 1)
  yield* Effect.logInfo("tls probe").pipe(Effect.withSpan("tls-probe"))
})

const secretHeaders = { authorization: Redacted.make("Bearer otlp-s3cret"), "x-collector-key": "k3y-s3cret" }

/**
 * Runs `body` with the layer of `options` exporting to `url`, then closes the layer: how long closing it took, in
 * ms.
 */
const closingAfter = <E, R>(
  url: string,
  options: Omit<OtlpExport.Options, "baseUrl">,
  body: Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    let closeStarted = 0
    yield* Effect.andThen(body, Effect.sync(() => (closeStarted = performance.now()))).pipe(
      Effect.scoped,
      Effect.provide(OtlpExport.layer({ baseUrl: url, ...options }))
    )
    return performance.now() - closeStarted
  })

/** A test's body, given the lines logged (logfmt) while it runs; its scope closes at its end. */
const logged = <E>(body: (logs: ReadonlyArray<string>) => Effect.Effect<void, E, Scope.Scope>) => () =>
  LoggingTest.withLines((logs) => Effect.scoped(body(logs)), "logfmt")

describe("OtlpExport to an https receiver whose certificate nobody trusts (RELIABILITY 11)", () => {
  it.live(
    "nothing delivered, authorization never sent; one warning per signal names the URL and the certificate, Effect's pause is logged once each; no unhandled rejection; the app runs on and closes in under 1.5 s",
    () => {
      const rejections: Array<unknown> = []
      return LoggingTest.withLines((logs) =>
        Effect.gen(function*() {
          const receiver = yield* Receiver.makeTls(yield* TlsTest.selfSigned())
          const closing = yield* closingAfter(
            receiver.url,
            { serviceName: "untrusted", exportInterval: "100 millis", headers: secretHeaders },
            Effect.gen(function*() {
              yield* recordEachSignal
              // Effect's exporter retries a transport failure 3 times, 1 s apart, then pauses the signal.
              for (let i = 0; i < 150 && logs.filter(pausing("")).length < 3; i++) {
                yield* Effect.sleep(100)
              }
              // Still running: the failures were logged, not raised.
              yield* recordEachSignal
            })
          )
          assert.isBelow(closing, 1_500, `closing took ${closing} ms`)
          assert.deepStrictEqual(receiver.received(), [])
          assert.isAtLeast(receiver.connections(), 3, "each signal tried the receiver")
          for (const signal of ["metrics", "traces", "logs"]) {
            const failure = failureTo(logs, `${receiver.url}/v1/${signal}`)
            assert.match(failure, /self-signed certificate/)
            assert.match(failure, /level=WARN/)
            const paused = logs.filter(pausing(`POST ${receiver.url}/v1/${signal}`))
            assert.strictEqual(paused.length, 1, `${signal}: ${paused.join("\n")}`)
          }
          for (const line of logs) {
            assert.notInclude(line, "otlp-s3cret")
            assert.notInclude(line, "k3y-s3cret")
          }
          assert.deepStrictEqual(rejections, [])
        }).pipe(Effect.scoped), "logfmt").pipe((effect) => rejectionsDuring(rejections, effect))
    },
    30_000
  )

  it.live(
    "a short program (the export at shutdown only): one warning per signal names the certificate before shutdownTimeout (1 s) cuts the retries off; closing takes under 1 s + 1.5 s; nothing delivered",
    logged((logs) =>
      Effect.gen(function*() {
        const receiver = yield* Receiver.makeTls(yield* TlsTest.selfSigned())
        const closing = yield* closingAfter(
          receiver.url,
          { serviceName: "short", exportInterval: hour, shutdownTimeout: "1 second", headers: secretHeaders },
          recordEachSignal
        )
        assert.isBelow(closing, 2_500, `closing took ${closing} ms`)
        assert.deepStrictEqual(receiver.received(), [])
        for (const signal of ["metrics", "traces", "logs"]) {
          assert.match(failureTo(logs, `${receiver.url}/v1/${signal}`), /self-signed certificate/)
        }
        for (const line of logs) assert.notInclude(line, "s3cret")
      })
    ),
    30_000
  )

  it.live(
    "the same receiver once Node's CAs trust its certificate: 3 exports arrive, with the configured authorization, and no warning",
    logged((logs) =>
      Effect.gen(function*() {
        const certificate = yield* TlsTest.selfSigned()
        const receiver = yield* Receiver.makeTls(certificate)
        yield* TlsTest.trusting(certificate.cert)
        yield* recordEachSignal.pipe(
          Effect.scoped,
          Effect.provide(OtlpExport.layer({
            baseUrl: receiver.url,
            serviceName: "trusted",
            exportInterval: hour,
            headers: secretHeaders
          }))
        )
        assert.deepStrictEqual(exported(receiver), ["/v1/logs", "/v1/metrics", "/v1/traces"])
        for (const entry of receiver.received()) assert.strictEqual(entry.headers.authorization, "Bearer otlp-s3cret")
        assert.deepStrictEqual(logs.filter((line) => line.includes("level=WARN")), [])
      })
    ),
    30_000
  )
})

/** `count` log lines, each in a span of its own, yielding now and then so that Effect's exporters run. */
const logLines = (count: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < count; i++) {
      yield* Effect.logInfo(`line ${i} ${"x".repeat(200)}`).pipe(Effect.withSpan("work"))
      if (i % 500 === 499) yield* Effect.sleep(5)
    }
  })

/**
 * One log line exported to `receiver` (logs only, every 100 ms, each export cut at `exportTimeout`) until Effect
 * pauses the signal, for at most 10 s: how long that took, in ms.
 */
const oneLineUntilPaused = (
  receiver: { readonly url: string },
  logs: ReadonlyArray<string>,
  options: { readonly serviceName: string; readonly exportTimeout: Duration.Input }
) =>
  Effect.gen(function*() {
    const started = performance.now()
    yield* Effect.gen(function*() {
      yield* Effect.logInfo("one line")
      while (!logs.some(pausing("/v1/logs"))) {
        assert.isBelow(performance.now() - started, 10_000, logs.join("\n"))
        yield* Effect.sleep(50)
      }
    }).pipe(
      Effect.scoped,
      Effect.provide(OtlpExport.layer({
        baseUrl: receiver.url,
        signals: { metrics: false, traces: false },
        exportInterval: "100 millis",
        ...options
      }))
    )
    return performance.now() - started
  })

describe("OtlpExport to a receiver that is slow or does not answer (RELIABILITY 12, 13)", () => {
  it.live(
    "a receiver that never answers: each export is cut off at exportTimeout (500 ms), its retries send nothing, and Effect pauses the signal; one warning names the deadline",
    logged((logs) =>
      Effect.gen(function*() {
        const receiver = yield* Receiver.makeStalling()
        yield* oneLineUntilPaused(receiver, logs, { serviceName: "deadline", exportTimeout: "500 millis" })
        // One request: cut at the deadline; Effect's three retries came after it and sent nothing.
        const sent = receiver.requests().filter((request) => request.path === "/v1/logs")
        assert.strictEqual(sent.length, 1, JSON.stringify(sent))
        const took = sent[0]!.endedAt! - sent[0]!.at
        assert.isAtLeast(took, 400)
        assert.isBelow(took, 2_000)
        assert.include(failureTo(logs, `${receiver.url}/v1/logs`), "no answer within exportTimeout (0.5 s)")
      })
    ),
    30_000
  )

  it.live(
    "a 429 asking for an hour (Retry-After: 3600) with 2 s of exportTimeout left fails the export at once: no hour-long sleep holding the batch, Effect pauses the signal within 5 s, one request sent",
    logged((logs) =>
      Effect.gen(function*() {
        const receiver = yield* Receiver.makeStalling({ status: 429, headers: { "retry-after": "3600" } })
        const took = yield* oneLineUntilPaused(receiver, logs, {
          serviceName: "retry-after",
          exportTimeout: "2 seconds"
        })
        assert.isBelow(took, 5_000)
        assert.strictEqual(receiver.requests().filter((request) => request.path === "/v1/logs").length, 1)
        assert.include(failureTo(logs, `${receiver.url}/v1/logs`), "answered 429 and asked to wait 3600 s")
      })
    ),
    30_000
  )

  it.live(
    "20,000 log lines with spans against a receiver that never answers: one request per signal at a time, later batches dropped and counted in one warning each, each request cut at exportTimeout (1 s); closing takes under shutdownTimeout + 1 s and leaves no socket, and none is opened after",
    logged((logs) =>
      Effect.gen(function*() {
        const receiver = yield* Receiver.makeStalling()
        const closing = yield* closingAfter(
          receiver.url,
          {
            serviceName: "pileup",
            signals: { metrics: false },
            exportInterval: hour,
            exportTimeout: "1 second",
            shutdownTimeout: "1 second"
          },
          Effect.gen(function*() {
            yield* logLines(20_000)
            // Long enough for the first requests to reach their deadline, and for Effect's retries after it.
            yield* Effect.sleep("3 seconds")
          })
        )
        assert.isBelow(closing, 2_000, `closing took ${closing} ms`)
        // No socket left (the receiver sees the last ones close), and none opened once the layer closed.
        const connections = receiver.connections()
        yield* Effect.sleep("1 second")
        assert.strictEqual(receiver.open(), 0)
        assert.strictEqual(receiver.connections(), connections)

        for (const path of ["/v1/logs", "/v1/traces"]) {
          const sent = receiver.requests().filter((request) => request.path === path)
          // 20 batches of 1,000: without a bound, 20 requests hung at once.
          assert.strictEqual(receiver.maxInFlight(path), 1, path)
          assert.isAtLeast(sent.length, 1, path)
          assert.isAtMost(sent.length, 8, path)
          // Every request ended: cut at its deadline, or when the layer closed.
          for (const request of sent) assert.isDefined(request.endedAt, path)
          const first = sent[0]!
          assert.isAtLeast(first.endedAt! - first.at, 900, path)
          assert.isBelow(first.endedAt! - first.at, 2_500, path)

          const signal = path.slice("/v1/".length)
          const url = `${receiver.url}${path}`
          const dropping = logs.filter((line) => line.includes(`OTLP export to ${url}: 4 exports pending`))
          assert.strictEqual(dropping.length, 1, `${signal}: ${logs.join("\n")}`)
          const dropped = logs.flatMap((line) => {
            const match = new RegExp(`OTLP export to ${url}: dropped (\\d+) batch`).exec(line)
            return match === null ? [] : [Number(match[1])]
          })
          assert.isAtLeast(dropped.length, 1, `${signal}: ${logs.join("\n")}`)
          assert.isAtLeast(dropped.reduce((total, count) => total + count, 0), 8, signal)
        }
      })
    ),
    60_000
  )
})

/**
 * A service that calls the fault-injection server under load and shows what
 * its traffic did, the three ways `@httpkit/metrics` offers:
 *
 * - a Prometheus endpoint (`MetricsServer`) serving `/metrics` while it runs:
 *   the example scrapes it once itself and prints what it read;
 * - OTLP export of metrics, traces and logs (`OtlpExport.layerConfig`), when
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector, or of the signals whose
 *   `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` does; with none of them set
 *   nothing is sent (the example does not assume `layerConfig`'s default
 *   receiver, `http://localhost:4318`);
 * - the table (`MetricsTable.layerPrintOnExit`), printed when the program's
 *   scope closes.
 *
 * The load: `--calls` calls from `--concurrency` fibers through one
 * `ResilientClient` under a rate limit of 200 per second, to two hosts
 * (`127.0.0.1` and `localhost`): mostly `/msg` with a delay of 0-20 ms, some
 * armed to fail once with 503 (retried), some 404s, and a few calls to a
 * route slower than their 200 ms timeout.
 *
 * Run it with `npm run example -- metrics-service` (starts the server
 * embedded), or against a server started with `npm run test-server`:
 * `npm run example -- metrics-service --url http://127.0.0.1:PORT` (it resets
 * that server's state). `--serve-seconds 60` keeps `/metrics` up for a
 * Prometheus to scrape before the table is printed.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricsServer from "@httpkit/metrics/MetricsServer"
import * as MetricsTable from "@httpkit/metrics/MetricsTable"
import * as OtlpExport from "@httpkit/metrics/OtlpExport"
import { LimiterStore, Policy, RateLimiter } from "@httpkit/rate-limiter"
import * as ClientRateLimit from "@httpkit/rate-limiter/ClientRateLimit"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Layer } from "effect"
import { nonNegativeInt, port, positiveInt } from "../scripts/args.ts"
import { check, runMain } from "./support/outcome.ts"
import { serverFlags, serverHelpAt, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- metrics-service [options]

Calls the fault-injection server under load; serves /metrics, exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
(or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, _TRACES_, _LOGS_) is set, and prints the table at exit. Without them nothing
is sent over OTLP.

  --calls N           calls to make (default 400)
  --concurrency C     fibers making them (default 16)
  --port P            the /metrics port (default 0: any free port; Prometheus's usual is 9464)
  --serve-seconds S   keep serving /metrics for S seconds after the load (default 0)
${serverHelpAt(22)}`
const flags = serverFlags(usage, {
  calls: { type: "string" },
  concurrency: { type: "string" },
  port: { type: "string" },
  "serve-seconds": { type: "string" }
})
const calls = positiveInt("--calls", flags.calls) ?? 400
const concurrency = positiveInt("--concurrency", flags.concurrency) ?? 16
const metricsPort = port("--port", flags.port) ?? 0
const serveSeconds = nonNegativeInt("--serve-seconds", flags["serve-seconds"]) ?? 0

const serviceName = "metrics-service-example"

/** Whether the environment sets `name` to something. */
const isSet = (name: string) => (process.env[name] ?? "") !== ""

/**
 * OTLP export, only where a variable names a receiver: every signal with
 * `OTEL_EXPORTER_OTLP_ENDPOINT`; else the signals whose own
 * `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` is set (the others would go to the
 * default receiver); else none.
 */
const otlp = () => {
  if (isSet("OTEL_EXPORTER_OTLP_ENDPOINT")) return OtlpExport.layerConfig({ serviceName })
  const own = {
    metrics: isSet("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
    traces: isSet("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    logs: isSet("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
  }
  if (!own.metrics && !own.traces && !own.logs) return Layer.empty
  // `false` turns a signal off; a signal left out follows OTEL_<SIGNAL>_EXPORTER.
  const off = Object.fromEntries(Object.entries(own).filter(([, given]) => !given).map(([signal]) => [signal, false]))
  return OtlpExport.layerConfig({ serviceName, signals: off })
}

/** What call `n` asks for: mostly messages, every 10th a 404, every 50th a route slower than its timeout. */
const callOf = (client: ResilientClient.ResilientClient["Service"], hosts: ReadonlyArray<string>, n: number) => {
  const host = hosts[(n >> 1) % hosts.length]!
  if (n % 50 === 7) return client.get(`${host}/delay/400`, { timeout: { total: "200 millis" } })
  if (n % 10 === 3) return client.get(`${host}/status/404`)
  return client.get(`${host}/msg?delay=${n % 21}`)
}

/** The load, then one scrape of our own endpoint. */
const load = (baseUrl: string) =>
  Effect.gen(function*() {
    const client = yield* ResilientClient.ResilientClient
    const endpoint = yield* MetricsServer.MetricsServer
    const control = ServerControl.make(baseUrl)
    yield* control.reset
    yield* Console.log(`serving Prometheus metrics at ${endpoint.url}`)
    const hosts = [baseUrl, baseUrl.replace("127.0.0.1", "localhost")]
    let ok = 0
    let failed = 0
    yield* Effect.forEach(Array.from({ length: calls }, (_, n) => n), (n) =>
      Effect.gen(function*() {
        // Every 25th call arms the next /msg to fail once with 503: the client retries it. Calls run 16 at a time,
        // so a retry can meet the next armed failure too; five attempts make the calls that succeed the same in
        // every run.
        if (n % 25 === 0) yield* control.failNext(1, { status: 503 })
        const result = yield* Effect.result(callOf(client, hosts, n))
        if (result._tag === "Success") ok++
        else failed++
      }), { concurrency, discard: true })
    const planned = Array.from({ length: calls }, (_, n) => n).filter((n) => n % 50 === 7 || n % 10 === 3).length
    yield* Console.log(`made ${calls} calls with ${concurrency} fibers: ${ok} succeeded, ${failed} failed`)
    yield* check(failed === planned, `${planned} failures (the 404s and timeouts), not ${failed}`)

    const text = yield* Effect.promise(() => fetch(endpoint.url).then((response) => response.text()))
    const families = text.split("\n").filter((line) => line.startsWith("# TYPE httpkit_")).length
    const samples = text.split("\n").filter((line) => line.startsWith("httpkit_")).length
    yield* Console.log(`scraped ${endpoint.url}: ${families} httpkit families, ${samples} samples`)
    yield* check(families > 0, "httpkit metrics served at /metrics")
    if (serveSeconds > 0) {
      yield* Console.log(`serving /metrics for ${serveSeconds} s more`)
      yield* Effect.sleep(`${serveSeconds} seconds`)
    }
  })

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  const client = ResilientClient.layer({
    name: "service",
    retry: { maxAttempts: 5, minDelay: "10 millis", maxDelay: "50 millis" }
  }).pipe(
    Layer.provide(ClientRateLimit.layer),
    Layer.provide(RateLimiter.layer({ policies: [Policy.rate({ limit: 200, window: "1 second" })] })),
    Layer.provide(LimiterStore.layerMemory())
  )
  // Built in this order, the table is printed last (layers close in reverse): after the load, while the
  // client's gauges are still registered. OTLP only where a variable names a receiver (`otlp`).
  const live = MetricsTable.layerPrintOnExit().pipe(
    Layer.provideMerge(Layer.mergeAll(client, MetricsServer.layer({ port: metricsPort }))),
    Layer.provideMerge(otlp())
  )
  yield* load(baseUrl).pipe(Effect.provide(live))
})

runMain(Effect.scoped(main))

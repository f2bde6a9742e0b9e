/**
 * The polluted half of `pollution.test.ts`, run as a child process (polluting
 * `Object.prototype` inside the vitest worker would reach vitest itself).
 *
 * For each key named on the command line (`""` for an unpolluted baseline)
 * it sets `Object.prototype[key]` to a hostile value, then, still polluted:
 * builds `OtlpExport.layer({ baseUrl, serviceName })` against the parent's
 * receiver (under `/k<index>`, so the parent can tell the keys apart),
 * records a metric, three log lines and three spans, and closes the layer
 * (everything is exported at shutdown); and starts a `MetricsServer`. It then
 * deletes the key and sends the server three requests over raw sockets: a
 * scrape with a 100-byte header, a header holding a control character
 * (Node's strict parser answers 400), and a request without `Host` (400). It
 * prints one JSON line per key; the parent judges what reached its receiver.
 *
 * Usage: `node pollutionChild.ts <json>` with `{ url, keys }`.
 */
import { Effect, Exit, Logger, Metric, Scope } from "effect"
import * as Net from "node:net"
import * as MetricsServer from "../../src/MetricsServer.ts"
import * as OtlpExport from "../../src/OtlpExport.ts"

interface Input {
  /** The receiver's base URL. */
  readonly url: string
  readonly keys: ReadonlyArray<string>
}

const input = JSON.parse(process.argv[2]!) as Input
// Node makes its stdio streams on first use: make them now, before any key is polluted.
const stdout = process.stdout

/** How often a planted function ran for the key being polluted. */
let planted = 0
const spy = (result: (...args: Array<any>) => unknown) => (...args: Array<any>) => {
  planted++
  return result(...args)
}

/** A hostile value for `key`: what would hurt most if the exporter, the server, Effect or Node picked it up. */
const hostile = (key: string): unknown => {
  switch (key) {
    case "protocol":
      return "protobuf"
    case "compression":
      return "gzip"
    case "serviceName":
    case "serviceVersion":
      return "EVIL-SERVICE"
    case "attributes":
      return { "evil.attr": "1" }
    case "resource":
      return { serviceName: "EVIL-SERVICE", attributes: { "evil.attr": "1" } }
    case "signals":
      return { metrics: false, traces: false, logs: false }
    case "metrics":
    case "traces":
    case "logs":
    case "setHost":
      return false
    case "excludeLogSpans":
    case "insecureHTTPParser":
    case "pauseOnConnect":
      return true
    case "requireHostHeader":
      return false
    case "metricsTemporality":
    case "temporality":
      return "delta"
    case "headers":
      return { "x-evil": "1" }
    case "auth":
      return "evil:secret"
    case "maxBatchSize":
    case "exportTimeout":
    case "shutdownTimeout":
    case "timeout":
      return 1
    case "maxHeaderSize":
      return 64
    case "fd":
      return 0
    case "socketPath":
      return "/nonexistent/httpkit-metrics-pollution.sock"
    case "lookup":
      return spy((_host: string, _options: unknown, callback: (error: Error | null) => void) =>
        callback(new Error("planted lookup"))
      )
    case "localAddress":
      return "192.0.2.1"
    case "family":
      return 6
    default:
      return "EVIL"
  }
}

/** What a request written as is on a raw socket got: its status line's code, `closed`, or `timeout`. */
const raw = (port: number, request: string) =>
  Effect.promise(() =>
    new Promise<string>((resolve) => {
      const socket = Net.connect(port, "127.0.0.1")
      let received = ""
      const timer = setTimeout(() => {
        socket.destroy()
        resolve("timeout")
      }, 3_000)
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => {
        received += chunk
      })
      socket.on("error", () => {})
      socket.on("close", () => {
        clearTimeout(timer)
        resolve(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? "closed")
      })
      socket.write(request)
    })
  )

const probe = (index: number) =>
  Effect.gen(function*() {
    yield* Metric.update(Metric.counter(`pollution_probe_${index}_total`), 1)
    for (let i = 0; i < 3; i++) {
      yield* Effect.logInfo(`probe ${index} ${i}`).pipe(Effect.withSpan(`probe-span-${index}`))
    }
  })

const run = (key: string, index: number) =>
  Effect.gen(function*() {
    planted = 0
    const scope = yield* Scope.make()
    const polluted = key !== ""
    const proto = Object.prototype as Record<string, unknown>
    if (polluted) proto[key] = hostile(key)
    const started = performance.now()
    let exported: Exit.Exit<void, unknown>
    let server: Exit.Exit<MetricsServer.Service, unknown>
    try {
      exported = yield* probe(index).pipe(
        Effect.scoped,
        Effect.provide(
          OtlpExport.layer({ baseUrl: `${input.url}/k${index}`, serviceName: "own-service", exportInterval: "1 hour" })
        ),
        // Only the OTLP logger: the console would mix its lines with this child's JSON.
        Effect.provide(Logger.layer([])),
        Effect.timeout("15 seconds"),
        Effect.exit
      )
      server = yield* MetricsServer.make({ port: 0 }).pipe(Scope.provide(scope), Effect.exit)
    } finally {
      if (polluted) delete proto[key]
    }
    const exportMillis = Math.round(performance.now() - started)
    let scrape = "none"
    let controlCharacter = "none"
    let noHost = "none"
    if (Exit.isSuccess(server)) {
      const port = server.value.port
      scrape = yield* raw(
        port,
        `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: prometheus/${
          "x".repeat(100)
        }\r\nConnection: close\r\n\r\n`
      )
      controlCharacter = yield* raw(
        port,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\nConnection: close\r\n\r\n"
      )
      noHost = yield* raw(port, "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
    }
    yield* Scope.close(scope, Exit.void)
    stdout.write(
      `${
        JSON.stringify({
          key,
          index,
          exported: Exit.isSuccess(exported) ? "ok" : String(exported.cause),
          exportMillis,
          server: Exit.isSuccess(server) ? "ok" : String(server.cause),
          scrape,
          controlCharacter,
          noHost,
          planted
        })
      }\n`
    )
  })

await Effect.runPromise(Effect.forEach(input.keys, run, { discard: true }))

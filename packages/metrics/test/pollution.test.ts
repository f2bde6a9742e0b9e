/**
 * RELIABILITY 10: every option is read by its own keys only, so a polluted
 * `Object.prototype` changes neither what the OTLP exporter sends nor how the
 * Prometheus endpoint answers.
 *
 * One child process (`support/pollutionChild.ts`) takes each name below in
 * turn, sets `Object.prototype[name]` to a hostile value (`"protobuf"`,
 * `"gzip"`, resource attributes, `false`, `1`, 64, the path of a UNIX socket,
 * a `lookup` that counts its calls...), builds `OtlpExport.layer({ baseUrl,
 * serviceName })` and exports a metric, three log lines and three spans
 * through it, and starts a `MetricsServer`, all while polluted; then it
 * deletes the key and sends the server three requests. The receiver runs
 * here, unpolluted, and records what reached it. Each name must leave
 * everything as the unpolluted baseline had it: the paths posted to and how
 * often, content types and encodings, header names, the resource, the
 * records, the metric's temporality, the endpoint's answers, and no planted
 * function called.
 *
 * The names: every option of `OtlpExport.Options` (nested ones too), every
 * option Effect's `OtlpMetrics`, `OtlpTracer`, `OtlpLogger` and `OtlpResource`
 * read, options Node's `http.request` reads for the exporter's requests (and
 * events Node listens for on its sockets), and every option
 * `http.createServer` and `server.listen` read.
 */
import { assert, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { Effect } from "effect"
import { join } from "node:path"
import * as Receiver from "./support/otlpReceiver.ts"

const otlpNames = [
  "baseUrl",
  "protocol",
  "serviceName",
  "serviceVersion",
  "attributes",
  "headers",
  "compression",
  "exportInterval",
  "shutdownTimeout",
  "exportTimeout",
  "metricsTemporality",
  "signals",
  "metrics",
  "traces",
  "logs"
]

/** What Effect's exporters and resource reader read from the options they are given. */
const effectNames = ["resource", "url", "maxBatchSize", "excludeLogSpans", "temporality", "context"]

/** What Node reads for the exporter's requests (the request's, the agent's and the socket's options). */
const transportNames = [
  "socketPath",
  "path",
  "host",
  "hostname",
  "port",
  "lookup",
  "family",
  "localAddress",
  "auth",
  "setHost",
  "agent",
  "createConnection",
  "maxHeaderSize",
  "insecureHTTPParser",
  "timeout",
  // Event names: the first listener of each on a socket would find the polluted value.
  "connect",
  "free",
  "agentRemove",
  "ready"
]

/** What `http.createServer`, `net.Server` and `server.listen` read. */
const serverNames = [
  "IncomingMessage",
  "ServerResponse",
  "pauseOnConnect",
  "requireHostHeader",
  "keepAliveTimeout",
  "headersTimeout",
  "requestTimeout",
  "connectionsCheckingInterval",
  "fd"
]

const names = [...new Set([...otlpNames, ...effectNames, ...transportNames, ...serverNames])]

interface Outcome {
  readonly key: string
  readonly index: number
  readonly exported: string
  readonly exportMillis: number
  readonly server: string
  readonly scrape: string
  readonly controlCharacter: string
  readonly noHost: string
  readonly planted: number
}

/** Header names that vary with the body or the connection, whatever happens. */
const volatileHeaders = new Set(["content-length", "connection"])

/** What the receiver got under `/k<index>`, without what changes from one key to the next. */
const signature = (receiver: Receiver.Receiver, index: number) => {
  const prefix = `/k${index}`
  const entries = receiver.received().filter((entry) => entry.path.startsWith(`${prefix}/`))
  const json = entries.flatMap((entry) => entry.json === undefined ? [] : [entry.json as Record<string, unknown>])
  const resources = json.flatMap((body) =>
    Object.values(body as Record<string, ReadonlyArray<{ resource: { attributes: ReadonlyArray<Receiver.KeyValue> } }>>)
      .flatMap((list) => list.map((resource) => JSON.stringify(Receiver.attributesOf(resource.resource.attributes))))
  )
  const probe = entries.flatMap((entry) => {
    if (entry.json === undefined || !entry.path.endsWith("/v1/metrics")) return []
    const body = entry.json as {
      resourceMetrics: ReadonlyArray<{ scopeMetrics: ReadonlyArray<{ metrics: ReadonlyArray<Receiver.Metric> }> }>
    }
    return body.resourceMetrics.flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
      .filter((metric) => metric.name === `pollution_probe_${index}_total`)
      .map((metric) => `${metric.sum?.aggregationTemporality}/${metric.sum?.isMonotonic}`)
  })
  const count = (path: string, field: string) =>
    entries.filter((entry) => entry.path === `${prefix}${path}` && entry.json !== undefined).reduce(
      (total, entry) => total + (JSON.stringify(entry.json).match(new RegExp(`"${field}"`, "g"))?.length ?? 0),
      0
    )
  return {
    paths: entries.map((entry) => entry.path.slice(prefix.length)).toSorted(),
    contentTypes: [...new Set(entries.map((entry) => entry.contentType))].toSorted(),
    encodings: [...new Set(entries.map((entry) => String(entry.headers["content-encoding"])))].toSorted(),
    headerNames: [
      ...new Set(entries.flatMap((entry) => Object.keys(entry.headers).filter((name) => !volatileHeaders.has(name))))
    ].toSorted(),
    resources: [...new Set(resources)].toSorted(),
    probe,
    logRecords: count("/v1/logs", "timeUnixNano"),
    spans: count("/v1/traces", "spanId")
  }
}

it.live(
  "a polluted Object.prototype (every option name, one at a time) changes nothing the OTLP exporter sends and nothing the metrics endpoint answers",
  () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      const keys = ["", ...names]
      const run = yield* Effect.tryPromise((signal) =>
        NodeChild.run([
          join(import.meta.dirname, "support", "pollutionChild.ts"),
          JSON.stringify({ url: receiver.url, keys })
        ], {
          signal,
          timeoutMillis: 240_000
        })
      )
      assert.strictEqual(run.code, 0, run.output)
      const outcomes = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Outcome)
      assert.deepStrictEqual(outcomes.map((outcome) => outcome.key), keys, run.output)
      const baseline = outcomes[0]!
      assert.deepStrictEqual(
        [baseline.exported, baseline.server, baseline.scrape, baseline.controlCharacter, baseline.noHost],
        ["ok", "ok", "200", "400", "400"]
      )
      const expected = signature(receiver, 0)
      assert.deepStrictEqual(expected.paths, ["/v1/logs", "/v1/metrics", "/v1/traces"])
      assert.deepStrictEqual(expected.contentTypes, ["application/json"])
      assert.strictEqual(expected.logRecords, 3)
      assert.strictEqual(expected.spans, 3)
      // Cumulative (2), as configured by default.
      assert.deepStrictEqual(expected.probe.map((probe) => probe.split("/")[0]), ["2"])
      assert.isTrue(expected.resources.every((resource) => resource.includes("\"service.name\":\"own-service\"")))

      const differences: Array<string> = []
      for (const outcome of outcomes.slice(1)) {
        const got = signature(receiver, outcome.index)
        const seen = {
          exported: outcome.exported,
          server: outcome.server,
          scrape: outcome.scrape,
          controlCharacter: outcome.controlCharacter,
          noHost: outcome.noHost,
          planted: outcome.planted,
          ...got
        }
        const wanted = {
          exported: baseline.exported,
          server: baseline.server,
          scrape: baseline.scrape,
          controlCharacter: baseline.controlCharacter,
          noHost: baseline.noHost,
          planted: 0,
          ...expected
        }
        if (JSON.stringify(seen) !== JSON.stringify(wanted)) {
          differences.push(`${outcome.key}: ${JSON.stringify(seen)}`)
        }
        if (outcome.exportMillis > 5_000) differences.push(`${outcome.key}: took ${outcome.exportMillis} ms`)
      }
      assert.deepStrictEqual(differences, [], `baseline: ${JSON.stringify(expected)}`)
    }).pipe(Effect.scoped),
  300_000
)

/**
 * What a failed OTLP export reports when `exportTimeout` passes between
 * Effect's tries: the last try's outcome (the receiver's status, or the
 * connection's failure), and "no answer within exportTimeout" only for a try
 * the deadline cut off (RELIABILITY 12, 19).
 *
 * Effect's exporter pauses 1 s between its tries (5 s after a 429 without
 * `Retry-After`), so with an `exportTimeout` of a few seconds or less a try
 * falls due after the deadline; the gate fails it without sending. First
 * under `TestClock`, Effect's own exporter over the gate and a fake
 * transport; then the whole layer over sockets, against a receiver answering
 * 500 and a port that refuses connections.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Ports from "@httpkit/testing/Ports"
import { type Duration, Effect, Logger } from "effect"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import { OtlpExporter } from "effect/observability"
import { TestClock } from "effect/testing"
import * as ExportGate from "../src/internal/exportGate.ts"
import * as OtlpExport from "../src/OtlpExport.ts"
import * as Receiver from "./support/otlpReceiver.ts"

const withLogs = <A, E, R>(logs: Array<string>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provide(Logger.layer([
      Logger.map(Logger.formatLogFmt, (line) => {
        logs.push(line)
      })
    ]))
  )

type Answer = (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<
  HttpClientResponse.HttpClientResponse,
  HttpClientError.HttpClientError
>

const status = (code: number): Answer => (request) =>
  Effect.succeed(HttpClientResponse.fromWeb(request, new Response("boom", { status: code })))

const refused: Answer = (request) =>
  Effect.fail(
    new HttpClientError.HttpClientError({
      reason: new HttpClientError.TransportError({
        request,
        cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" })
      })
    })
  )

const silence: Answer = () => Effect.never

const url = "http://collector.test:4318/v1/logs"

/**
 * Effect's exporter over the gate (`timeout` ms) over a fake transport
 * answering try n with `answers[n]` (the last one for every later try): one
 * batch pushed, the clock moved `advance`. Returns, as they were then, the
 * tries that reached the transport, the `Disabling exporter` lines and every
 * log line.
 */
const exportOnce = (timeout: number, answers: ReadonlyArray<Answer>, advance: Duration.Input) => {
  const logs: Array<string> = []
  return Effect.gen(function*() {
    let tries = 0
    const transport = HttpClient.make((request) => answers[Math.min(tries++, answers.length - 1)]!(request))
    const gated = yield* ExportGate.make(transport, { timeout, maxPending: 4 })
    const exporter = yield* OtlpExporter.make({
      url,
      headers: { authorization: "Bearer gate-s3cret" },
      label: "OtlpLogger",
      exportInterval: "100 millis",
      maxBatchSize: 1000,
      body: (data) => [HttpBody.text(JSON.stringify(data), "application/json"), Effect.void],
      shutdownTimeout: "1 second"
    }).pipe(
      Effect.provideService(HttpClient.HttpClient, gated),
      Effect.provide(OtlpExporter.layerFlusher)
    )
    exporter.push({ line: 1 })
    yield* TestClock.adjust(advance)
    const seen = { tries, disabled: logs.filter((line) => line.includes("Disabling exporter")), logs: [...logs] }
    // Whatever happened, every try and pause is over before the scope closes (its flush waits on TestClock too).
    yield* TestClock.adjust("2 minutes")
    return seen
  }).pipe(Effect.scoped, (effect) => withLogs(logs, effect))
}

describe("OtlpExport's gate under TestClock: a try due after exportTimeout reports the try before it", () => {
  it.effect(
    "a receiver answering 500, exportTimeout 500 ms: one request sent; Effect's retries 1 s apart fail with StatusCodeError 500 naming the deadline, never 'no answer'",
    () =>
      Effect.gen(function*() {
        const { disabled, logs, tries } = yield* exportOnce(500, [status(500)], "5 seconds")
        assert.strictEqual(tries, 1)
        assert.strictEqual(disabled.length, 1, logs.join("\n"))
        assert.include(
          disabled[0]!,
          "StatusCode: non 2xx status code; exportTimeout (0.5 s) passed before the next try"
        )
        assert.include(disabled[0]!, `500 POST ${url}`)
        for (const line of logs) {
          assert.notInclude(line, "no answer")
          assert.notInclude(line, "gate-s3cret")
        }
      })
  )

  it.effect(
    "a refused connection, exportTimeout 500 ms: one try reaches the transport; the export fails with a TransportError whose cause is ECONNREFUSED, never 'no answer'",
    () =>
      Effect.gen(function*() {
        const { disabled, logs, tries } = yield* exportOnce(500, [refused], "5 seconds")
        assert.strictEqual(tries, 1)
        assert.strictEqual(disabled.length, 1, logs.join("\n"))
        assert.include(disabled[0]!, "Transport: exportTimeout (0.5 s) passed before the next try")
        assert.include(disabled[0]!, "connect ECONNREFUSED 127.0.0.1:9")
        for (const line of logs) assert.notInclude(line, "no answer")
      })
  )

  it.effect(
    "a receiver that never answers, exportTimeout 500 ms: the try is cut off at 500 ms and the export reports 'no answer within exportTimeout (0.5 s)', nothing else",
    () =>
      Effect.gen(function*() {
        const { disabled, logs, tries } = yield* exportOnce(500, [silence], "5 seconds")
        assert.strictEqual(tries, 1)
        assert.strictEqual(disabled.length, 1, logs.join("\n"))
        assert.include(disabled[0]!, "no answer within exportTimeout (0.5 s)")
        assert.notInclude(disabled[0]!, "the try before")
      })
  )

  it.effect(
    "500, then a try that hangs until exportTimeout (1.5 s): 'no answer within exportTimeout (1.5 s)' names the 500 of the try before; two requests sent",
    () =>
      Effect.gen(function*() {
        const { disabled, logs, tries } = yield* exportOnce(1500, [status(500), silence], "5 seconds")
        assert.strictEqual(tries, 2)
        assert.strictEqual(disabled.length, 1, logs.join("\n"))
        assert.include(
          disabled[0]!,
          "no answer within exportTimeout (1.5 s) (the try before: the receiver answered 500)"
        )
      })
  )

  it.effect(
    "a 429 without Retry-After, exportTimeout 1 s: after Effect's 5 s pause the tries left fail at once with the 429, so the export is given up 5 s after it started, not 15 s",
    () =>
      Effect.gen(function*() {
        const { disabled, logs, tries } = yield* exportOnce(1000, [status(429)], "5500 millis")
        assert.strictEqual(tries, 1)
        assert.strictEqual(disabled.length, 1, logs.join("\n"))
        assert.include(disabled[0]!, `429 POST ${url}`)
        assert.include(disabled[0]!, "exportTimeout (1 s) passed before the next try")
      })
  )
})

/**
 * Logs one line through an OTLP export of logs only to `baseUrl` (exportTimeout 900 ms, a secret header), and
 * waits until Effect pauses that exporter ("Disabling exporter"), at most 20 s.
 */
const logUntilPaused = (logs: ReadonlyArray<string>, baseUrl: string, serviceName: string) => {
  const started = performance.now()
  return Effect.gen(function*() {
    yield* Effect.logInfo("one line")
    while (!logs.some((line) => line.includes("Disabling exporter") && line.includes("/v1/logs"))) {
      assert.isBelow(performance.now() - started, 20_000, logs.join("\n"))
      yield* Effect.sleep(50)
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(OtlpExport.layer({
      baseUrl,
      serviceName,
      signals: { metrics: false, traces: false },
      headers: { "x-api-key": "outcome-s3cret" },
      exportInterval: "100 millis",
      exportTimeout: "900 millis"
    }))
  )
}

describe("OtlpExport over sockets: a failed export reports the receiver's status or the refused connection at any exportTimeout", () => {
  it.live(
    "a receiver answering 500 at once, exportTimeout 900 ms (Effect's retry comes after it): one request received, Effect's pause names 500 and the deadline, no line says 'no answer' or holds the header's secret",
    () => {
      const logs: Array<string> = []
      return Effect.gen(function*() {
        const receiver = yield* Receiver.makeStalling({ status: 500, headers: {} })
        yield* logUntilPaused(logs, receiver.url, "status-outcome")
        const sent = receiver.requests().filter((request) => request.path === "/v1/logs")
        assert.strictEqual(sent.length, 1, JSON.stringify(sent))
        assert.isDefined(sent[0]!.endedAt, "the receiver answered it")
        const paused = logs.filter((line) => line.includes("Disabling exporter"))
        assert.strictEqual(paused.length, 1, logs.join("\n"))
        assert.include(paused[0]!, `500 POST ${receiver.url}/v1/logs`)
        assert.include(paused[0]!, "exportTimeout (0.9 s) passed before the next try")
        for (const line of logs) {
          assert.notInclude(line, "no answer")
          assert.notInclude(line, "outcome-s3cret")
        }
      }).pipe(Effect.scoped, (effect) => withLogs(logs, effect))
    },
    40_000
  )

  it.live(
    "a port that refuses connections, exportTimeout 900 ms: the warning and Effect's pause both name ECONNREFUSED, no line says 'no answer' or holds the header's secret",
    () => {
      const logs: Array<string> = []
      return Effect.gen(function*() {
        const port = yield* Ports.unused
        const baseUrl = `http://127.0.0.1:${port}`
        yield* logUntilPaused(logs, baseUrl, "refused-outcome")
        const warned = logs.filter((line) => line.includes(`OTLP export to ${baseUrl}/v1/logs failed`))
        assert.strictEqual(warned.length, 1, logs.join("\n"))
        assert.include(warned[0]!, "ECONNREFUSED")
        const paused = logs.filter((line) => line.includes("Disabling exporter"))
        assert.strictEqual(paused.length, 1, logs.join("\n"))
        assert.include(paused[0]!, `POST ${baseUrl}/v1/logs`)
        assert.include(paused[0]!, "ECONNREFUSED")
        for (const line of logs) {
          assert.notInclude(line, "no answer")
          assert.notInclude(line, "outcome-s3cret")
        }
      }).pipe(Effect.scoped, (effect) => withLogs(logs, effect))
    },
    40_000
  )
})

/**
 * The httpkit demo: `npm run demo` (or `pnpm demo`).
 *
 * Starts the fault-injection server embedded, then drives requests through it:
 * a GET that succeeds after injected 503 failures thanks to a bounded,
 * backed-off retry, and a byte-range read checked against the full file. It
 * reads the server's own request log to show what crossed the wire.
 *
 * Pass `--url http://127.0.0.1:PORT` to drive a server started separately with
 * `pnpm test-server` instead of the embedded one.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as TestServer from "@httpkit/testing/TestServer"
import { Console, Effect, Schedule, Schema } from "effect"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "effect/http"
import { parseArgs } from "node:util"

const MessageAnswer = Schema.Struct({ message_id: Schema.String, deduplicated: Schema.Boolean })

/** The base URL given with `--url`, or an embedded server's. */
const serverUrl = Effect.gen(function*() {
  const { values } = parseArgs({ options: { url: { type: "string" } } })
  if (values.url !== undefined) return values.url.replace(/\/$/, "")
  const server = yield* TestServer.make()
  yield* Console.log(`fault-injection server embedded at ${server.url}`)
  return server.url
})

const retryAfterInjectedFailures = Effect.fn("retryAfterInjectedFailures")(function*(base: string) {
  const http = yield* HttpClient.HttpClient
  yield* Console.log("\n1. A GET that succeeds after two injected 503 failures")
  yield* http.post(`${base}/__reset`)
  yield* http.post(`${base}/fail/count/2?status=503`).pipe(Effect.flatMap(HttpClientResponse.filterStatusOk))

  const started = Date.now()
  const resilient = http.pipe(
    HttpClient.filterStatusOk,
    HttpClient.retryTransient({
      schedule: Schedule.exponential("50 millis").pipe(Schedule.jittered),
      times: 4
    })
  )
  const answer = yield* resilient.get(`${base}/msg`).pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(MessageAnswer))
  )
  const log = yield* http.get(`${base}/__requests`).pipe(Effect.flatMap((response) => response.json))
  const attempts = (log as ReadonlyArray<{ path: string }>).filter((entry) => entry.path === "/msg").length
  yield* Console.log(`   message ${answer.message_id} after ${attempts} attempts in ${Date.now() - started} ms`)
  yield* Console.log("   (the server's request log shows 2 refused attempts and 1 success)")
})

const byteRangeRead = Effect.fn("byteRangeRead")(function*(base: string) {
  const http = yield* HttpClient.HttpClient
  yield* Console.log("\n2. A byte-range read, checked against the whole file")
  const url = `${base}/files/demo.bin?size=65536&seed=7`
  const whole = new Uint8Array(yield* http.get(url).pipe(Effect.flatMap((response) => response.arrayBuffer)))
  const response = yield* http.execute(
    HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("range", "bytes=1000-1999"))
  )
  const part = new Uint8Array(yield* response.arrayBuffer)
  const same = part.length === 1000 && part.every((byte, index) => byte === whole[1000 + index])
  yield* Console.log(`   ${response.status} ${response.headers["content-range"] ?? "(no Content-Range)"}`)
  yield* Console.log(`   ${part.length} bytes, ${same ? "identical to" : "DIFFERENT from"} bytes 1000-1999 of the file`)
  if (!same) return yield* Effect.fail(new Error("the range read did not match the file"))
})

const main = Effect.gen(function*() {
  const base = yield* serverUrl
  yield* retryAfterInjectedFailures(base)
  yield* byteRangeRead(base)
  yield* Console.log("\ndone")
}).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))

NodeRuntime.runMain(main)

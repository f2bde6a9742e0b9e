/**
 * The httpkit demo: `npm run demo` (or `pnpm demo`).
 *
 * Starts the fault-injection server embedded, then drives requests through it
 * with `ResilientClient`: a GET that succeeds after injected 503 failures (the
 * same request id on every attempt, read back from the server's own log), a
 * typed error, a POST kept from being replayed, the circuit breaker opening
 * without sending anything, and a byte-range read checked against the
 * server's deterministic content.
 *
 * Pass `--url http://127.0.0.1:PORT` to drive a server started separately with
 * `npm run test-server` instead of the embedded one.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Content from "@httpkit/testing/Content"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Schema } from "effect"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- demo [--url URL]

The httpkit demo (the same as npm run demo).

${serverHelp}`
const flags = serverFlags(usage)

const MessageAnswer = Schema.Struct({ message_id: Schema.String })

const main = Effect.gen(function*() {
  const base = yield* serverUrl(flags.url)
  // The server's switches and its request log, through a client of their own.
  const control = ServerControl.make(base)
  const client = yield* ResilientClient.make({ baseUrl: base, retry: { maxAttempts: 4, minDelay: "50 millis" } })
  yield* control.reset

  yield* Console.log("\n1. A GET that succeeds after two injected 503 failures")
  yield* control.failNext(2, { status: 503 })
  const started = Date.now()
  const answer = yield* client.getJson("/msg", MessageAnswer)
  const attempts = yield* control.requestsTo("/msg")
  const ids = new Set(attempts.map((entry) => entry.headers["x-request-id"]))
  yield* Console.log(`   message ${answer.message_id} after ${attempts.length} attempts in ${Date.now() - started} ms`)
  yield* Console.log(`   the server saw ${ids.size} request id on all ${attempts.length} attempts: ${[...ids][0]}`)

  yield* Console.log("\n2. Typed errors, and a POST that is not replayed")
  const notFound = yield* Effect.flip(client.get("/status/404"))
  yield* Console.log(`   ${notFound._tag}: ${notFound.message}`)
  yield* control.reset
  const refused = yield* Effect.flip(client.post("/status/503", { json: { order: 42 } }))
  const posts = (yield* control.requestsTo("/status/503")).length
  yield* Console.log(`   POST without an idempotency key: ${refused._tag} after ${posts} attempt (not replayed)`)

  yield* Console.log("\n3. The circuit breaker (3 consecutive failures open it; it is per origin)")
  const guarded = yield* ResilientClient.make({
    baseUrl: base,
    retry: { maxAttempts: 1 },
    circuitBreaker: { failureThreshold: 3, openDuration: "1 second" }
  })
  yield* control.reset
  for (let call = 1; call <= 4; call++) {
    const outcome = yield* Effect.flip(guarded.get("/status/503"))
    yield* Console.log(`   call ${call}: ${outcome._tag}`)
  }
  const sent = (yield* control.requestsTo("/status/503")).length
  yield* Console.log(`   the server saw ${sent} requests: the open circuit refused the 4th without sending it`)

  yield* Console.log("\n4. A byte-range read, checked against the server's deterministic content")
  const response = yield* client.get("/files/demo.bin?size=65536&seed=7", { headers: { range: "bytes=1000-1999" } })
  const part = yield* response.bytes
  const expected = Content.bytesAt(7, 1000, 1000)
  const same = part.length === expected.length && part.every((byte, index) => byte === expected[index])
  yield* Console.log(`   ${response.status} ${response.headers["content-range"] ?? "(no Content-Range)"}`)
  yield* Console.log(`   ${part.length} bytes, ${same ? "identical to" : "DIFFERENT from"} bytes 1000-1999 of the file`)
  if (!same) return yield* Effect.fail(new Error("the range read did not match the file"))
  yield* Console.log("\ndone")
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)

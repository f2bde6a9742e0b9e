/**
 * The httpkit demo: `npm run demo` (or `pnpm demo`).
 *
 * Starts the fault-injection server embedded, then drives requests through it
 * with `ResilientClient`: a GET that succeeds after injected 503 failures (the
 * same request id on every attempt, read back from the server's own log), a
 * typed error, a POST kept from being replayed, the circuit breaker opening
 * without sending anything, and a byte-range read checked against the
 * server's deterministic content. Every claim it prints is checked against
 * what the server recorded; one that does not hold ends the demo with
 * `unexpected: ...` and exit status 1.
 *
 * Pass `--url http://127.0.0.1:PORT` to drive a server started separately with
 * `npm run test-server` instead of the embedded one. The demo does not reset
 * that server: each run tags its requests with an id of its own and reads
 * only its own from the server's log, so runs at once against one server do
 * not clear each other's. The injected 503s are the server's one switch for
 * `/msg`, though, shared by every client: a run that another one's requests
 * to `/msg` took them from fails its first check instead of printing it.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Content from "@httpkit/testing/Content"
import type { RecordedRequest } from "@httpkit/testing/RecordedRequest"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { check, runMain, unexpected } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- demo [--url URL]

The httpkit demo (the same as npm run demo). Each claim it prints is checked against the server's request log.

${serverHelp}`
const flags = serverFlags(usage)

const MessageAnswer = Schema.Struct({ message_id: Schema.String })

/** This run's tag, sent as the query parameter `demo` on each of its requests. */
const run = randomUUID().slice(0, 8)

/** `path` with this run's tag. */
const tagged = (path: string) => `${path}${path.includes("?") ? "&" : "?"}demo=${run}`

/** Why step 1 may not hold on a shared server: the injected 503s of `/msg` are one switch for every client. */
const shared = "(did another client's requests to /msg take the injected 503s?)"

/** Whether the server logged `entry` for a request of this run. */
const ours = (entry: RecordedRequest) => new URLSearchParams(entry.query).get("demo") === run

const main = Effect.gen(function*() {
  const base = yield* serverUrl(flags.url)
  // The server's switches and its request log, through a client of their own.
  const control = ServerControl.make(base)
  const sentTo = (path: string, method: string) =>
    Effect.map(control.requestsTo(path, method), (log) => log.filter(ours))
  const client = yield* ResilientClient.make({ baseUrl: base, retry: { maxAttempts: 4, minDelay: "50 millis" } })

  yield* Console.log("\n1. A GET that succeeds after two injected 503 failures")
  yield* control.failNext(2, { status: 503 })
  const started = Date.now()
  // Another client's requests to /msg while ours are armed can make it fail more often than it retries.
  const answer = yield* client.getJson(tagged("/msg"), MessageAnswer).pipe(
    Effect.catch((error) => unexpected(`the GET failed with ${error._tag} ${shared}`))
  )
  const attempts = yield* sentTo("/msg", "GET")
  const ids = new Set(attempts.map((entry) => entry.headers["x-request-id"]))
  const [id] = ids
  yield* check(
    attempts.length === 3 && ids.size === 1 && id !== undefined,
    `the server saw ${attempts.length} attempts of the GET (request ids: ${ids.size}), not 3 with one request id ${shared}`
  )
  yield* Console.log(`   message ${answer.message_id} after ${attempts.length} attempts in ${Date.now() - started} ms`)
  yield* Console.log(`   the server saw ${ids.size} request id on all ${attempts.length} attempts: ${id}`)

  yield* Console.log("\n2. Typed errors, and a POST that is not replayed")
  const notFound = yield* Effect.flip(client.get(tagged("/status/404")))
  yield* check(notFound._tag === "NotFoundError", `GET /status/404 failed with ${notFound._tag}, not NotFoundError`)
  yield* Console.log(`   ${notFound._tag}: ${notFound.message}`)
  const refused = yield* Effect.flip(client.post(tagged("/status/503"), { json: { order: 42 } }))
  const posts = (yield* sentTo("/status/503", "POST")).length
  yield* check(
    refused._tag === "ServiceUnavailableError" && posts === 1,
    `a POST without an idempotency key: ${refused._tag} after ${posts} attempts, not ServiceUnavailableError after 1`
  )
  yield* Console.log(`   POST without an idempotency key: ${refused._tag} after ${posts} attempt (not replayed)`)

  yield* Console.log("\n3. The circuit breaker (3 consecutive failures open it; it is per origin)")
  const guarded = yield* ResilientClient.make({
    baseUrl: base,
    retry: { maxAttempts: 1 },
    circuitBreaker: { failureThreshold: 3, openDuration: "1 second" }
  })
  const outcomes: Array<string> = []
  for (let call = 1; call <= 4; call++) {
    const outcome = yield* Effect.flip(guarded.get(tagged("/status/503")))
    outcomes.push(outcome._tag)
    yield* Console.log(`   call ${call}: ${outcome._tag}`)
  }
  const sent = (yield* sentTo("/status/503", "GET")).length
  const expected = ["ServiceUnavailableError", "ServiceUnavailableError", "ServiceUnavailableError", "CircuitOpenError"]
  yield* check(
    sent === 3 && outcomes.join() === expected.join(),
    `the server saw ${sent} of the 4 calls (${outcomes.join(", ")}), not 3 and the 4th refused by the open circuit`
  )
  yield* Console.log(`   the server saw ${sent} requests: the open circuit refused the 4th without sending it`)

  yield* Console.log("\n4. A byte-range read, checked against the server's deterministic content")
  const response = yield* client.get(tagged("/files/demo.bin?size=65536&seed=7"), {
    headers: { range: "bytes=1000-1999" }
  })
  const part = yield* response.bytes
  const expectedBytes = Content.bytesAt(7, 1000, 1000)
  const same = part.length === expectedBytes.length && part.every((byte, index) => byte === expectedBytes[index])
  const range = response.headers["content-range"]
  yield* Console.log(`   ${response.status} ${range ?? "(no Content-Range)"}`)
  yield* Console.log(`   ${part.length} bytes, ${same ? "identical to" : "DIFFERENT from"} bytes 1000-1999 of the file`)
  yield* check(
    same && response.status === 206 && range === "bytes 1000-1999/65536",
    "a 206 with bytes 1000-1999 of the file"
  )
  yield* Console.log("\ndone")
}).pipe(Effect.scoped)

runMain(main)

/**
 * Retries, idempotency keys and the circuit breaker of `ResilientClient`.
 *
 * 1. A GET retried after two injected 503s: every attempt carries the same
 *    `X-Request-ID`, as the server's request log (`/__requests`) shows.
 * 2. A POST is not retried without an idempotency key (the server may have
 *    acted on it), and is retried with `idempotencyKey: true` (the same
 *    `Idempotency-Key` on every attempt, so the server can deduplicate).
 * 3. After `failureThreshold` failed calls the circuit opens: the next call
 *    fails at once with `CircuitOpenError` and nothing is sent. After
 *    `openDuration` a trial call goes through and closes it again.
 * 4. What the client counted, as Effect `Metric`s (`ClientMetrics`): calls by
 *    outcome, retries by reason, circuit transitions.
 *
 * Run it with `npm run example -- client-retries-breaker` (starts the
 * fault-injection server embedded), or against a server started with
 * `npm run test-server`: `npm run example -- client-retries-breaker --url http://127.0.0.1:PORT`
 * (it resets that server's state).
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Metric, Schema } from "effect"
import { check, runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- client-retries-breaker [--url URL]

Retries with one request id, idempotency keys, the circuit breaker, the client's metrics.

${serverHelp}`
const flags = serverFlags(usage)

const Message = Schema.Struct({ message_id: Schema.String, deduplicated: Schema.Boolean })

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  // The server's switches and log, through a client of their own (so they never touch the breaker below).
  const control = ServerControl.make(baseUrl)
  const injectFailures = (n: number) => control.failNext(n, { status: 503 })
  yield* control.reset

  const client = yield* ResilientClient.make({
    name: "example",
    baseUrl,
    retry: { maxAttempts: 4, minDelay: "20 millis", maxDelay: "100 millis" },
    circuitBreaker: { failureThreshold: 3, openDuration: "500 millis" }
  })

  yield* Console.log("\n1. GET /msg after two injected 503s")
  yield* injectFailures(2)
  const response = yield* client.get("/msg")
  const ids = (yield* control.requestsTo("/msg", "GET")).map((entry) => entry.headers["x-request-id"])
  yield* Console.log(`   succeeded on attempt ${response.attempt}; the server saw ${ids.length} attempts`)
  yield* Console.log(`   all with X-Request-ID ${response.requestId}`)
  yield* check(ids.length === 3 && ids.every((id) => id === response.requestId), "one request id for 3 attempts")

  yield* Console.log("\n2. POST /msg after one injected 503")
  yield* injectFailures(1)
  const unkeyed = yield* client.postJson("/msg", { n: 1 }, Message).pipe(
    Effect.as("succeeded?"),
    Effect.catchTag("ServiceUnavailableError", (error) => Effect.succeed(`${error._tag} (status ${error.status})`))
  )
  const unkeyedAttempts = (yield* control.requestsTo("/msg", "POST")).length
  yield* Console.log(`   without a key: ${unkeyed} after ${unkeyedAttempts} attempt: not retried`)
  yield* check(unkeyedAttempts === 1, "a POST without a key sent once")

  yield* injectFailures(1)
  const keyed = yield* client.postJson("/msg", { n: 2 }, Message, { idempotencyKey: true })
  const keys = (yield* control.requestsTo("/msg", "POST")).slice(1).map((entry) => entry.headers["idempotency-key"])
  yield* Console.log(`   with idempotencyKey: true: ${keyed.message_id} after ${keys.length} attempts`)
  yield* Console.log(`   all with Idempotency-Key ${keys[0]}`)
  yield* check(keys.length === 2 && keys.every((key) => key === keys[0]), "one idempotency key for 2 attempts")

  yield* Console.log("\n3. The circuit breaker (3 failed calls open it for 500 ms)")
  for (let call = 1; call <= 3; call++) {
    const error = yield* Effect.flip(client.get("/status/503", { retry: false }))
    yield* Console.log(`   call ${call}: ${error._tag}`)
  }
  const sentBefore = (yield* control.requestsTo("/status/503", "GET")).length
  const refused = yield* client.get("/status/503", { retry: false }).pipe(
    Effect.as("sent?"),
    Effect.catchTag(
      "CircuitOpenError",
      (error) => Effect.succeed(`CircuitOpenError for ${error.key}, retry after ${error.retryAfterMillis ?? "?"} ms`)
    )
  )
  const sentAfter = (yield* control.requestsTo("/status/503", "GET")).length
  yield* Console.log(`   call 4: ${refused}`)
  yield* Console.log(`   requests sent by call 4: ${sentAfter - sentBefore}`)
  yield* check(sentAfter === sentBefore && refused.startsWith("CircuitOpenError"), "nothing sent while open")

  yield* Effect.sleep("600 millis")
  const trial = yield* client.getJson("/msg", Message)
  yield* Console.log(`   after 600 ms: GET /msg ${trial.message_id}, the circuit is closed again`)
  const next = yield* client.getJson("/msg", Message)
  yield* Console.log(`   and the next call goes through too: ${next.message_id}`)

  yield* Console.log("\n4. The client's metrics (counters of the client named example)")
  const counters = (yield* Metric.snapshot).filter((entry) =>
    entry.type === "Counter" && entry.id.startsWith("httpkit_client_") && entry.attributes?.client === "example"
  ).toSorted((a, b) => a.id.localeCompare(b.id))
  for (const entry of counters) {
    const { client: _, host: __, ...attributes } = entry.attributes ?? {}
    const labels = Object.entries(attributes).map(([name, value]) => `${name}=${value}`).join(" ")
    yield* Console.log(`   ${entry.id} ${labels}: ${(entry.state as { readonly count: number }).count}`)
  }
  const count = (id: string, attributes: Record<string, string>) =>
    counters.filter((entry) =>
      entry.id === id && Object.entries(attributes).every(([name, value]) => entry.attributes?.[name] === value)
    ).reduce((sum, entry) => sum + Number((entry.state as { readonly count: number }).count), 0)
  yield* check(
    count("httpkit_client_retries_total", { reason: "ServiceUnavailableError" }) === 3 &&
      count("httpkit_client_requests_total", { outcome: "CircuitOpenError" }) === 1 &&
      count("httpkit_client_circuit_transitions_total", { from: "half_open", to: "closed" }) === 1,
    "3 retries, 1 refusal and the circuit closed again, as counted"
  )
  yield* Console.log("\ndone")
}).pipe(Effect.scoped)

runMain(main)

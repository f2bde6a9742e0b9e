/**
 * The traps we found in Effect 4.1's HTTP client, each shown twice against the
 * same fault-injection server: Effect's own combinator misbehaving as we
 * found it, and ResilientClient doing the right thing. If an Effect upgrade
 * fixes a trap, its first half fails, and this file (and perhaps our code)
 * can change.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, layer } from "@effect/vitest"
import { ServerControl, TestServer } from "@httpkit/testing"
import { Effect, Fiber, Layer, Metric, Schedule, Stream } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { CircuitBreaker } from "effect/persistence"
import * as ResilientClient from "../src/ResilientClient.ts"
import { makeRegistry } from "./metricSupport.ts"

/** A client on real sockets with short retry delays (options merged one level deep). */
const makeClient = (options: ResilientClient.Options = {}) =>
  ResilientClient.make({
    ...options,
    retry: { minDelay: 10, maxDelay: 50, ...options.retry },
    circuitBreaker: { enabled: false, ...options.circuitBreaker }
  })

/** Arms the server, outside both clients under test: its next two requests to `/msg` answer 503. */
const failTwice = (server: TestServer.TestServer["Service"]) =>
  ServerControl.make(server.url).failNext(2, { status: 503 })

/** What the server saw on `path`, oldest first. */
const logOf = (server: TestServer.TestServer["Service"], path: string) =>
  Effect.map(server.requests, (requests) => requests.filter((request) => request.path === path))

const fastSchedule = Schedule.spaced("10 millis")

layer(Layer.merge(TestServer.layer(), NodeHttpClient.layerUndici), { excludeTestServices: true })(
  "Effect 4.1 traps, against the same server",
  (it) => {
    it.effect("trap 1: retryTransient replays a POST without a key; ResilientClient sends it once", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset
        yield* failTwice(server)
        const effectClient = http.pipe(HttpClient.retryTransient({ schedule: fastSchedule, times: 2 }))
        const response = yield* effectClient.post(server.urlFor("/msg"), { body: undefined })
        assert.strictEqual(response.status, 200)
        const replayed = yield* logOf(server, "/msg")
        assert.lengthOf(replayed, 3, "Effect sent the POST three times")
        assert.isTrue(replayed.every((request) => request.method === "POST"))

        yield* server.reset
        yield* failTwice(server)
        const client = yield* makeClient({ retry: { maxAttempts: 3 } })
        const error = yield* Effect.flip(client.post(server.urlFor("/msg"), { json: { n: 1 } }))
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        assert.lengthOf(yield* logOf(server, "/msg"), 1, "ResilientClient sent it once")
      }))

    it.effect("trap 2: a key added with mapRequest changes per attempt; ResilientClient keeps one", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset
        yield* failTwice(server)
        const keyed = http.pipe(
          HttpClient.mapRequest((request) =>
            HttpClientRequest.setHeader(request, "idempotency-key", crypto.randomUUID())
          ),
          HttpClient.retryTransient({ schedule: fastSchedule, times: 2 })
        )
        yield* keyed.post(server.urlFor("/msg"))
        const effectKeys = (yield* logOf(server, "/msg")).map((request) => request.headers["idempotency-key"])
        assert.lengthOf(effectKeys, 3)
        assert.strictEqual(new Set(effectKeys).size, 3, "a new key on every attempt defeats server-side dedupe")

        // mapRequestInput runs once per call: the note's way out.
        yield* server.reset
        yield* failTwice(server)
        const once = http.pipe(
          HttpClient.mapRequestInput((request) =>
            HttpClientRequest.setHeader(request, "idempotency-key", crypto.randomUUID())
          ),
          HttpClient.retryTransient({ schedule: fastSchedule, times: 2 })
        )
        yield* once.post(server.urlFor("/msg"))
        const stableKeys = (yield* logOf(server, "/msg")).map((request) => request.headers["idempotency-key"])
        assert.strictEqual(new Set(stableKeys).size, 1)

        yield* server.reset
        yield* failTwice(server)
        const client = yield* makeClient({ retry: { maxAttempts: 3 } })
        yield* client.post(server.urlFor("/msg"), { json: { n: 1 }, idempotencyKey: true })
        const ours = (yield* logOf(server, "/msg")).map((request) => request.headers["idempotency-key"])
        assert.lengthOf(ours, 3)
        assert.strictEqual(new Set(ours).size, 1, "ResilientClient: one key on every attempt")
      }))

    it.effect("trap 3: retryTransient without a schedule does not wait; without times it never stops", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset
        // No schedule: four requests back to back.
        yield* http.pipe(HttpClient.retryTransient({ times: 3 })).get(server.urlFor("/status/503"))
        const burst = yield* logOf(server, "/status/503")
        assert.lengthOf(burst, 4)
        // Generous: an exponential backoff from 100 ms would take at least 700 ms (100 + 200 + 400).
        assert.isBelow(burst[3]!.arrivedAt - burst[0]!.arrivedAt, 500)

        // No times: still retrying when we give up after 500 ms.
        yield* server.reset
        const forever = yield* http.pipe(HttpClient.retryTransient({ schedule: fastSchedule })).get(
          server.urlFor("/status/503")
        ).pipe(Effect.timeoutOption("500 millis"))
        assert.strictEqual(forever._tag, "None")
        assert.isAbove((yield* logOf(server, "/status/503")).length, 5)

        // ResilientClient's defaults: 3 attempts, spaced by the backoff (min 100 ms, jitter off here).
        const client = yield* ResilientClient.make({ retry: { jitter: false }, circuitBreaker: { enabled: false } })
        const error = yield* Effect.flip(client.get(server.urlFor("/status/503"), { requestId: "trap-3-ours" }))
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        // (An attempt of the abandoned Effect call may still land in the log: count ours by request id.)
        const ours = (yield* logOf(server, "/status/503")).filter((request) =>
          request.headers["x-request-id"] === "trap-3-ours"
        )
        assert.lengthOf(ours, 3)
        assert.isAtLeast(ours[1]!.arrivedAt - ours[0]!.arrivedAt, 90)
        assert.isAtLeast(ours[2]!.arrivedAt - ours[1]!.arrivedAt, 190)
      }))

    it.effect("trap 3: retryTransient honours any Retry-After, uncapped; ResilientClient fails fast above its ceiling", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset
        const effectClient = http.pipe(HttpClient.retryTransient({ schedule: fastSchedule, times: 2 }))
        const fiber = yield* Effect.forkChild(effectClient.get(server.urlFor("/status/429?retry_after=3600")))
        yield* Effect.sleep("500 millis")
        assert.isUndefined(fiber.pollUnsafe(), "Effect is sleeping for an hour")
        assert.lengthOf(yield* logOf(server, "/status/429"), 1)
        yield* Fiber.interrupt(fiber)

        yield* server.reset
        const client = yield* makeClient({ retry: { maxAttempts: 3 } })
        const started = Date.now()
        const error = yield* Effect.flip(client.get(server.urlFor("/status/429?retry_after=3600")))
        assert.isBelow(Date.now() - started, 500)
        assert.strictEqual(error._tag, "RateLimitedError")
        if (error._tag !== "RateLimitedError") return
        assert.strictEqual(error.retryAfterMillis, 3_600_000)
        assert.lengthOf(yield* logOf(server, "/status/429"), 1)
      }))

    it.effect("trap 4: undici's headersTimeout given to the agent is overridden; ResilientClient's applies", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        yield* Effect.gen(function*() {
          const effectClient = yield* HttpClient.HttpClient
          const fiber = yield* Effect.forkChild(effectClient.get(`${server.rawUrl}/hang?hold=5000`))
          yield* Effect.sleep("1 second")
          assert.isUndefined(fiber.pollUnsafe(), "still waiting for headers long after 200 ms")
          yield* Fiber.interrupt(fiber)
        }).pipe(Effect.provide(NodeHttpClient.layerUndiciOptions({ headersTimeout: 200, bodyTimeout: 200 })))

        const client = yield* makeClient({ timeout: { headers: 200 }, retry: { maxAttempts: 1 } })
        const started = Date.now()
        const error = yield* Effect.flip(client.get(`${server.rawUrl}/hang?hold=5000`))
        // Well before the server's 5 s: its own 200 ms deadline, with room for a loaded machine.
        assert.isBelow(Date.now() - started, 4_000)
        assert.strictEqual(error._tag, "TimeoutError")
        if (error._tag !== "TimeoutError") return
        assert.strictEqual(error.phase, "headers")
      }))

    it.effect("trap 4: Stream.timeout ends a stalled body quietly; ResilientClient's stream fails with phase idle", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset
        const url = `${server.rawUrl}/headers-then-hang?length=1000&sent=10`
        const response = yield* http.get(url)
        const chunks = yield* response.stream.pipe(Stream.timeout("300 millis"), Stream.runCollect)
        const length = chunks.reduce((n, chunk) => n + chunk.byteLength, 0)
        assert.strictEqual(length, 10, "10 bytes of 1000 read as a complete body")

        const client = yield* makeClient({ timeout: { idle: 300 } })
        const error = yield* Effect.flip(client.stream(url).pipe(Stream.runDrain))
        assert.strictEqual(error._tag, "TimeoutError")
        if (error._tag !== "TimeoutError") return
        assert.strictEqual(error.phase, "idle")
      }))

    it.effect("trap 6: Effect fails every status with one generic StatusCodeError; ResilientClient types them", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset
        const effectClient = http.pipe(HttpClient.filterStatusOk)
        const client = yield* makeClient()
        const cases = [
          { path: "/status/404", tag: "NotFoundError" },
          { path: "/status/429?retry_after=7", tag: "RateLimitedError" },
          { path: "/status/503", tag: "ServiceUnavailableError" },
          { path: "/status/401", tag: "AuthenticationError" },
          { path: "/status/500", tag: "ServerError" }
        ]
        for (const { path, tag } of cases) {
          const generic = yield* Effect.flip(effectClient.get(server.urlFor(path)))
          assert.strictEqual(generic._tag, "HttpClientError")
          assert.strictEqual(generic.reason._tag, "StatusCodeError", path)

          const typed = yield* Effect.flip(client.get(server.urlFor(path), { retry: false }))
          assert.strictEqual(typed._tag, tag, path)
          assert.strictEqual((typed as { readonly status?: number }).status, Number(path.slice(8, 11)))
          if (typed._tag === "RateLimitedError") assert.strictEqual(typed.retryAfterMillis, 7_000)
        }
      }))

    it.effect("trap 5: Effect's client, retries and breaker report no metrics; ResilientClient reports them", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const http = yield* HttpClient.HttpClient
        yield* server.reset

        // Effect's stack: two 503s retried, then a breaker that opens. Its registry stays empty.
        const effects = makeRegistry()
        yield* Effect.gen(function*() {
          yield* failTwice(server)
          const breaker = yield* CircuitBreaker.make({
            tripPolicy: CircuitBreaker.consecutive(1),
            openDuration: 60_000
          })
          const stacked = http.pipe(
            HttpClient.filterStatusOk,
            HttpClient.retryTransient({ schedule: fastSchedule, times: 3 }),
            HttpClient.withCircuitBreaker({ breaker })
          )
          assert.strictEqual((yield* stacked.get(server.urlFor("/msg"))).status, 200)
          yield* Effect.flip(stacked.get(server.urlFor("/status/500")))
          yield* Effect.flip(stacked.get(server.urlFor("/status/500")))
        }).pipe(
          Effect.provide(CircuitBreaker.layerStoreMemory()),
          Effect.provideService(Metric.MetricRegistry, effects.registry)
        )
        assert.deepStrictEqual(effects.snapshot(), [])

        // Ours, the same calls: calls by outcome and status, retries by reason, durations, transitions.
        const ours = makeRegistry()
        yield* Effect.gen(function*() {
          yield* failTwice(server)
          const client = yield* makeClient({ circuitBreaker: { enabled: true, failureThreshold: 1 } })
          assert.strictEqual((yield* client.get(server.urlFor("/msg"))).status, 200)
          yield* Effect.flip(client.get(server.urlFor("/status/500"), { retry: false }))
          yield* Effect.flip(client.get(server.urlFor("/status/500"), { retry: false }))
        }).pipe(Effect.provideService(Metric.MetricRegistry, ours.registry))
        const host = new URL(server.url).host
        const call = { client: "default", method: "GET", host }
        assert.strictEqual(
          ours.count("httpkit_client_requests_total", { ...call, status: "200", outcome: "success" }),
          1
        )
        assert.strictEqual(
          ours.count("httpkit_client_requests_total", { ...call, status: "500", outcome: "ServerError" }),
          1
        )
        assert.strictEqual(
          ours.count("httpkit_client_requests_total", { ...call, status: "none", outcome: "CircuitOpenError" }),
          1
        )
        assert.strictEqual(
          ours.count("httpkit_client_retries_total", { client: "default", host, reason: "ServiceUnavailableError" }),
          2
        )
        assert.strictEqual(ours.count("httpkit_client_request_duration_seconds", call), 3)
        assert.strictEqual(
          ours.count("httpkit_client_circuit_transitions_total", { client: "default", from: "closed", to: "open" }),
          1
        )
      }))
  }
)

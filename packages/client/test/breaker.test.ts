/**
 * The circuit breaker of `ResilientClient` (RELIABILITY 16), over real sockets
 * against the fault-injection server, plus a `TestClock` variant over the
 * scripted transport.
 */
import { assert, describe, it } from "@effect/vitest"
import type { CircuitOpenError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import * as TestTransport from "@httpkit/testing/TestTransport"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { failsWith, noRetry } from "./support.ts"
import { base, onTestTransport, scripted } from "./transportSupport.ts"

type Server = TestServer.TestServer["Service"]
type Client = ResilientClient.ResilientClient["Service"]

/** How many requests the server saw on `path`. */
const seen = (server: Server, path: string) => Effect.map(server.requestsTo(path), (requests) => requests.length)

/** A fresh server, and a client of one attempt per call with this breaker (and `options`). */
const serverAndClient = (
  circuitBreaker: NonNullable<ResilientClient.Options["circuitBreaker"]>,
  options: ResilientClient.Options = {}
) =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ retry: noRetry, circuitBreaker, ...options })
    return { server, client }
  })

/** `times` calls to the server's `/status/503`, each failing with ServiceUnavailableError. */
const unavailable = (client: Client, server: Server, times = 1) =>
  Effect.gen(function*() {
    for (let i = 0; i < times; i++) {
      yield* failsWith(client.get(server.urlFor("/status/503")), "ServiceUnavailableError")
    }
  })

describe("circuit breaker over sockets", () => {
  it.live("opens after failureThreshold consecutive 503s, rejects without a request, then a half-open probe closes it", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 3, openDuration: 300 })
      yield* unavailable(client, server, 3)
      assert.strictEqual(yield* seen(server, "/status/503"), 3)

      // Open: rejected at once, nothing reaches the server, whatever the path on that origin.
      const before = (yield* server.requests).length
      const rejected =
        (yield* failsWith(client.get(server.urlFor("/status/503")), "CircuitOpenError")) as CircuitOpenError
      assert.strictEqual(rejected.key, new URL(server.url).origin)
      assert.isTrue(rejected.retryable)
      assert.isDefined(rejected.retryAfterMillis)
      assert.isAbove(rejected.retryAfterMillis!, 0)
      assert.isAtMost(rejected.retryAfterMillis!, 300)
      assert.include(rejected.message, "circuit open")
      yield* failsWith(client.get(server.urlFor("/health")), "CircuitOpenError")
      yield* failsWith(client.post(server.urlFor("/echo"), { json: { a: 1 } }), "CircuitOpenError")
      assert.strictEqual((yield* server.requests).length, before)

      // After openDuration: one probe goes through, succeeds and closes the circuit.
      yield* Effect.sleep(400)
      const probe = yield* client.get(server.urlFor("/health"))
      assert.strictEqual(probe.status, 200)
      assert.strictEqual(yield* seen(server, "/health"), 1)
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
      assert.strictEqual(yield* seen(server, "/health"), 4)

      // Closed again with a fresh streak: two failures do not open it, the third does.
      yield* unavailable(client, server, 2)
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
      assert.strictEqual(yield* seen(server, "/status/503"), 5)
    }).pipe(Effect.scoped))

  it.live("a failed half-open probe reopens the circuit", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 2, openDuration: 300 })
      yield* failsWith(client.get(server.urlFor("/status/500")), "ServerError")
      yield* failsWith(client.get(server.urlFor("/status/502")), "ServiceUnavailableError")
      yield* failsWith(client.get(server.urlFor("/health")), "CircuitOpenError")
      yield* Effect.sleep(400)
      // The probe fails: open again at once, without the threshold.
      yield* failsWith(client.get(server.urlFor("/status/504")), "ServiceUnavailableError")
      const before = (yield* server.requests).length
      yield* failsWith(client.get(server.urlFor("/health")), "CircuitOpenError")
      assert.strictEqual((yield* server.requests).length, before)
      assert.strictEqual(yield* seen(server, "/health"), 0)
    }).pipe(Effect.scoped))

  /** Opens a one-failure circuit, waits past its open time, and starts a slow probe. */
  const probing = Effect.gen(function*() {
    const { client, server } = yield* serverAndClient({ failureThreshold: 1, openDuration: 200 })
    yield* unavailable(client, server)
    yield* Effect.sleep(300)
    const probe = yield* Effect.forkChild(client.get(server.urlFor("/delay/600")))
    // Wait until the probe reached the server.
    while ((yield* seen(server, "/delay/600")) === 0) yield* Effect.sleep(10)
    const others = yield* Effect.all(
      Array.from({ length: 3 }, () => Effect.flip(client.get(server.urlFor("/health")))),
      { concurrency: "unbounded" }
    )
    return { server, client, probe, others }
  })

  it.live("half-open lets one probe through: concurrent calls are rejected until it ends", () =>
    Effect.gen(function*() {
      const { client, others, probe, server } = yield* probing
      for (const error of others) assert.strictEqual(error._tag, "CircuitOpenError")
      assert.strictEqual(yield* seen(server, "/health"), 0)
      assert.strictEqual((yield* Fiber.join(probe)).status, 200)
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
      assert.strictEqual(yield* seen(server, "/health"), 1)
    }).pipe(Effect.scoped))

  it.live("a half-open rejection says when to try again (retryAfterMillis)", () =>
    Effect.gen(function*() {
      const { others, probe } = yield* probing
      for (const error of others) {
        assert.strictEqual(error._tag, "CircuitOpenError")
        // RELIABILITY 16: rejections say when to try again, half-open ones included.
        const hint = (error as CircuitOpenError).retryAfterMillis
        assert.isNumber(hint, `no retry hint: ${String(error)}`)
        assert.isAbove(hint!, 0)
      }
      yield* Fiber.join(probe)
    }).pipe(Effect.scoped))

  // A per-phase timeout, and a total deadline alone (the common case, shorter than the per-phase defaults).
  // The server answers after 10 s: undici's headers timer ticks coarsely (up to about half a second late),
  // and a loaded machine adds its own lag, so an answer after 1 s could still beat a 150 ms deadline.
  const hangs = [
    ["a per-phase timeout (headers) counts as a failure", { headers: 150 }],
    ["a service that hangs until the total deadline counts as a failure", { total: 150 }]
  ] as const
  for (const [name, timeout] of hangs) {
    it.live(name, () =>
      Effect.gen(function*() {
        const { client, server } = yield* serverAndClient({ failureThreshold: 2, openDuration: 60_000 }, { timeout })
        yield* failsWith(client.get(server.urlFor("/delay/10000")), "TimeoutError")
        yield* failsWith(client.get(server.urlFor("/delay/10000")), "TimeoutError")
        yield* failsWith(client.get(server.urlFor("/delay/10000")), "CircuitOpenError")
        assert.strictEqual(yield* seen(server, "/delay/10000"), 2)
      }).pipe(Effect.scoped))
  }

  it.live("4xx answers do not count as failures", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 2, openDuration: 60_000 })
      for (const status of [400, 401, 403, 404, 409, 410, 422, 400, 404]) {
        const error = yield* Effect.flip(client.get(server.urlFor(`/status/${status}`)))
        assert.notStrictEqual(error._tag, "CircuitOpenError")
      }
      // 429 is the server's throttling, not its failure.
      yield* failsWith(client.get(server.urlFor("/status/429")), "RateLimitedError")
      yield* failsWith(client.get(server.urlFor("/status/429")), "RateLimitedError")
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
      assert.strictEqual((yield* server.requests).length, 12)
    }).pipe(Effect.scoped))

  it.live("a BulkheadFullError does not count against the remote service", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 1, openDuration: 60_000 }, {
        bulkhead: { maxConcurrency: 1, acquireTimeout: 100 }
      })
      const slow = yield* Effect.forkChild(client.get(server.urlFor("/delay/500")))
      while ((yield* seen(server, "/delay/500")) === 0) yield* Effect.sleep(10)
      yield* failsWith(client.get(server.urlFor("/health")), "BulkheadFullError")
      yield* failsWith(client.get(server.urlFor("/health")), "BulkheadFullError")
      yield* Fiber.join(slow)
      // With a threshold of 1, a counted failure would have opened the circuit.
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
      assert.strictEqual(yield* seen(server, "/health"), 1)
    }).pipe(Effect.scoped))

  it.live("the client's own refusals (bad header, bad URL, refused redirect) do not count as failures", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 1, openDuration: 60_000 })
      yield* failsWith(
        client.get(server.urlFor("/health"), { headers: { "x-bad": "a\r\nb: c" } }),
        "InvalidRequestError"
      )
      yield* failsWith(client.get(server.url.replace("http:", "ftp:")), "InvalidRequestError")
      const scheme = yield* failsWith(
        client.get(server.urlFor(`/redirect-to?url=${encodeURIComponent("file:///etc/passwd")}`)),
        "RedirectError"
      )
      assert.strictEqual((scheme as { reason?: string }).reason, "scheme")
      const tooMany = yield* failsWith(
        ResilientClient.make({
          retry: noRetry,
          circuitBreaker: { failureThreshold: 1, openDuration: 60_000 },
          redirects: { maxHops: 1 }
        }).pipe(Effect.flatMap((other) => other.get(server.urlFor("/redirect/3")))),
        "RedirectError"
      )
      assert.strictEqual((tooMany as { reason?: string }).reason, "too-many")
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))

  it.live("a refusal between two failures neither resets nor extends the streak", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 2, openDuration: 60_000 })
      yield* unavailable(client, server)
      yield* failsWith(client.get(server.urlFor("/health"), { headers: { "x-bad": "a\nb" } }), "InvalidRequestError")
      yield* unavailable(client, server)
      // Two consecutive failures of the service: open.
      yield* failsWith(client.get(server.urlFor("/health")), "CircuitOpenError")
      assert.strictEqual(yield* seen(server, "/health"), 0)
    }).pipe(Effect.scoped))

  it.live("keyed per origin: a second server stays usable while the first is open", () =>
    Effect.gen(function*() {
      const { client, server: first } = yield* serverAndClient({ failureThreshold: 2, openDuration: 60_000 })
      const second = yield* TestServer.make()
      yield* unavailable(client, first, 2)
      const open = (yield* failsWith(client.get(first.urlFor("/health")), "CircuitOpenError")) as CircuitOpenError
      assert.strictEqual(open.key, new URL(first.url).origin)
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* client.get(second.urlFor("/health"))).status, 200)
      assert.strictEqual(yield* seen(second, "/health"), 3)
      assert.strictEqual(yield* seen(first, "/health"), 0)
      // The second origin has its own streak.
      yield* unavailable(client, second)
      assert.strictEqual((yield* client.get(second.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))

  it.live("keyBy host: two ports on one host share one circuit", () =>
    Effect.gen(function*() {
      const { client, server: first } = yield* serverAndClient({
        failureThreshold: 2,
        openDuration: 60_000,
        keyBy: "host"
      })
      const second = yield* TestServer.make()
      yield* unavailable(client, first, 2)
      const open = (yield* failsWith(client.get(second.urlFor("/health")), "CircuitOpenError")) as CircuitOpenError
      assert.strictEqual(open.key, "127.0.0.1")
      assert.strictEqual((yield* second.requests).length, 0)
    }).pipe(Effect.scoped))

  it.live("a disabled breaker never rejects", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ enabled: false, failureThreshold: 1, openDuration: 60_000 })
      yield* unavailable(client, server, 10)
      assert.strictEqual(yield* seen(server, "/status/503"), 10)
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))

  it.live("the breaker sees one outcome per call, not per retry attempt", () =>
    Effect.gen(function*() {
      const { client, server } = yield* serverAndClient({ failureThreshold: 2, openDuration: 60_000 }, {
        retry: { maxAttempts: 3, minDelay: 1, maxDelay: 5 }
      })
      // Three attempts, one failed call: still closed.
      yield* unavailable(client, server)
      assert.strictEqual(yield* seen(server, "/status/503"), 3)
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))
})

describe("circuit breaker under TestClock", () => {
  const url = `${base}/items`

  // Without a bulkhead the in-memory breaker is consulted in the call's own exit handler; with one, it wraps
  // the retry loop inside the bulkhead: both paths keep the same rules.
  for (const [name, bulkhead] of [["", undefined], [" (behind a bulkhead)", { maxConcurrency: 4 }]] as const) {
    it.effect(`opens, rejects for openDuration, then a probe closes it${name}`, () =>
      Effect.gen(function*() {
        const { client, transport } = yield* scripted(
          { path: "/items" },
          TestTransport.respond(503),
          TestTransport.respond(503),
          TestTransport.fail("ECONNRESET"),
          TestTransport.respond(200, { body: "ok" })
        )
        yield* failsWith(client.get(url), "ServiceUnavailableError")
        yield* failsWith(client.get(url), "ServiceUnavailableError")
        yield* failsWith(client.get(url), "ConnectionError")
        const open = (yield* failsWith(client.get(url), "CircuitOpenError")) as CircuitOpenError
        assert.strictEqual(open.retryAfterMillis, 30_000)
        assert.strictEqual((yield* transport.calls).length, 3)

        yield* TestClock.adjust("20 seconds")
        const later = (yield* failsWith(client.get(url), "CircuitOpenError")) as CircuitOpenError
        assert.strictEqual(later.retryAfterMillis, 10_000)
        assert.strictEqual((yield* transport.calls).length, 3)

        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* (yield* client.get(url)).text, "ok")
        assert.strictEqual((yield* transport.calls).length, 4)
        // Closed: unscripted 404s reach the transport and count as answers, not failures.
        for (let i = 0; i < 4; i++) yield* failsWith(client.get(url), "NotFoundError")
        assert.strictEqual((yield* transport.calls).length, 8)
      }).pipe(onTestTransport({
        retry: noRetry,
        circuitBreaker: { failureThreshold: 3, openDuration: "30 seconds" },
        ...(bulkhead === undefined ? {} : { bulkhead })
      })))
  }
})

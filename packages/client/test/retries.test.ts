/**
 * ResilientClient's retry loop: which requests are retried, how often, with
 * which delays, with what identity (request id, idempotency key), how
 * `Retry-After` and the overall deadline bound the waits, and the 401 refresh.
 *
 * Socket tests run against the fault-injection server on the real clock and
 * assert on its request log; delay arithmetic runs on `TestTransport` under
 * `TestClock`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { ServerControl, TestServer } from "@httpkit/testing"
import * as Ports from "@httpkit/testing/Ports"
import * as TestTransport from "@httpkit/testing/TestTransport"
import { Cause, Clock, Effect, Exit, Fiber, Layer, Ref, Schedule, Schema } from "effect"
import { HttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import * as Auth from "../src/Auth.ts"
import * as ClientConfig from "../src/ClientConfig.ts"
import type { ClientError } from "../src/ClientError.ts"
import * as ResilientClient from "../src/ResilientClient.ts"
import { base, callTimes, onTestTransport, scripted } from "./transportSupport.ts"

const Message = Schema.Struct({
  message_id: Schema.String,
  deduplicated: Schema.Boolean,
  method: Schema.String
})

/** A client on real sockets with short retry delays (options merged one level deep). */
const makeClient = (options: ResilientClient.Options = {}) =>
  ResilientClient.make({
    ...options,
    retry: { minDelay: 10, maxDelay: 50, ...options.retry }
  })

/** The server's switches (arming failures, rotating tokens), outside the client under test. */
const control = (server: TestServer.TestServer["Service"]) => ServerControl.make(server.url)

/** The file's server, its log and armed failures cleared. */
const freshServer = Effect.tap(TestServer.TestServer, (server) => server.reset)

/**
 * A wait the server asks for on its first answer (the failure armed on `/msg`, made when the test runs), and how far
 * apart the two attempts must arrive: at least `atLeast` ms, and below `below` when given.
 */
const serverWaits: ReadonlyArray<{
  readonly name: string
  readonly failure: () => ServerControl.FailureOptions
  readonly atLeast: number
  readonly below?: number
}> = [
  {
    name: "Retry-After in seconds is honoured: the second attempt arrives at least ~1 s after the first",
    failure: () => ({ status: 429, retryAfter: 1 }),
    atLeast: 900
  },
  {
    // The client's own backoff would be at most 100 ms here.
    name: "retry-after-ms is honoured without a rate limiter: the second attempt waits for it",
    failure: () => ({ status: 429, retryAfterMs: 1500 }),
    atLeast: 1_400
  },
  {
    // Whole seconds: a date 2 s ahead is 1 to 2 s away once truncated.
    name: "Retry-After as an HTTP-date is honoured",
    failure: () => ({ status: 503, retryAfter: new Date(Date.now() + 2_000).toUTCString() }),
    atLeast: 900,
    below: 5_000
  }
]

layer(Layer.merge(TestServer.layer(), NodeHttpClient.layerUndici), { excludeTestServices: true })(
  "ResilientClient retries over sockets",
  (it) => {
    it.effect("n injected 503s then success: n+1 requests, all with the same x-request-id", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        for (const n of [1, 2, 4]) {
          yield* server.reset
          yield* control(server).failNext(n, { status: 503 })
          const client = yield* makeClient({ retry: { maxAttempts: n + 1 } })
          const message = yield* client.getJson(server.urlFor("/msg"), Message)
          assert.strictEqual(message.method, "GET")
          const attempts = yield* server.requestsTo("/msg")
          assert.lengthOf(attempts, n + 1)
          const ids = new Set(attempts.map((request) => request.headers["x-request-id"]))
          assert.strictEqual(ids.size, 1, "one x-request-id on every attempt")
          assert.match([...ids][0]!, /^[0-9a-f-]{36}$/)
        }
      }))

    it.effect("a POST with idempotencyKey: true carries one key on every attempt, and /msg dedupes on it", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        yield* control(server).failNext(2, { status: 503 })
        const client = yield* makeClient()
        const first = yield* client.postJson(server.urlFor("/msg"), { text: "hello" }, Message, {
          idempotencyKey: true
        })
        assert.strictEqual(first.method, "POST")
        assert.isFalse(first.deduplicated)
        const attempts = yield* server.requestsTo("/msg")
        assert.lengthOf(attempts, 3)
        const keys = new Set(attempts.map((request) => request.headers["idempotency-key"]))
        assert.strictEqual(keys.size, 1, "one idempotency key on every attempt")
        const key = [...keys][0]
        assert.isString(key)
        assert.strictEqual(new Set(attempts.map((request) => request.headers["x-request-id"])).size, 1)

        // A replay with that key (a new call, a new request id) is the same message to the server.
        const replay = yield* client.postJson(server.urlFor("/msg"), { text: "hello" }, Message, {
          idempotencyKey: key!
        })
        assert.isTrue(replay.deduplicated)
        assert.strictEqual(replay.message_id, first.message_id)
      }))

    it.effect("a POST without a key is not retried on 503", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        yield* control(server).failNext(1, { status: 503 })
        const client = yield* makeClient({ retry: { maxAttempts: 5 } })
        const error = yield* Effect.flip(client.postJson(server.urlFor("/msg"), { text: "once" }, Message))
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        assert.isTrue(error.retryable, "503 is retryable, yet not for a POST without a key")
        assert.lengthOf(yield* server.requestsTo("/msg"), 1)

        const statusError = yield* Effect.flip(client.post(server.urlFor("/status/503")))
        assert.strictEqual(statusError._tag, "ServiceUnavailableError")
        assert.lengthOf(yield* server.requestsTo("/status/503"), 1)
      }))

    it.effect("a POST without a key is retried after ECONNREFUSED: ConnectionError with sent: false", () =>
      Effect.gen(function*() {
        const port = yield* Ports.unused
        // Count attempts at the transport: nothing reaches a server, so no server log can.
        const attempts = yield* Ref.make(0)
        const transport = (yield* HttpClient.HttpClient).pipe(
          HttpClient.tapRequest(() => Ref.update(attempts, (n) => n + 1))
        )
        const resolved = yield* ClientConfig.resolve({ retry: { maxAttempts: 3, minDelay: 10, maxDelay: 50 } })
        const client = yield* ResilientClient.makeWith(resolved, transport)
        const error = yield* Effect.flip(client.post(`http://127.0.0.1:${port}/msg`, { json: { text: "x" } }))
        assert.strictEqual(error._tag, "ConnectionError")
        if (error._tag !== "ConnectionError") return
        assert.isFalse(error.sent, "a refused connection never carried the request")
        assert.isTrue(error.retryable)
        assert.include(error.detail, "ECONNREFUSED")
        assert.strictEqual(yield* Ref.get(attempts), 3)
      }))

    it.effect("retry.idempotencyKeys: true retries a POST with one stable key; each call has its own", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        yield* control(server).failNext(2, { status: 503 })
        const client = yield* makeClient({ retry: { idempotencyKeys: true } })
        yield* client.postJson(server.urlFor("/msg"), { n: 1 }, Message)
        const attempts = yield* server.requestsTo("/msg")
        assert.lengthOf(attempts, 3)
        const keys = new Set(attempts.map((request) => request.headers["idempotency-key"]))
        assert.strictEqual(keys.size, 1)
        assert.isString([...keys][0])

        const second = yield* client.postJson(server.urlFor("/msg"), { n: 2 }, Message)
        assert.isFalse(second.deduplicated, "a new call gets a new key")
        const all = yield* server.requestsTo("/msg")
        assert.lengthOf(all, 4)
        assert.notStrictEqual(all[3]!.headers["idempotency-key"], all[0]!.headers["idempotency-key"])
      }))

    it.effect("maxAttempts bounds the attempts: always 503 gives exactly maxAttempts requests", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ retry: { maxAttempts: 4 }, circuitBreaker: { enabled: false } })
        const error = yield* Effect.flip(client.get(server.urlFor("/status/503")))
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        if (error._tag !== "ServiceUnavailableError") return
        assert.strictEqual(error.status, 503)
        assert.lengthOf(yield* server.requestsTo("/status/503"), 4)

        const once = yield* Effect.flip(client.get(server.urlFor("/status/502"), { retry: false }))
        assert.strictEqual(once._tag, "ServiceUnavailableError")
        assert.lengthOf(yield* server.requestsTo("/status/502"), 1)
      }))

    it.effect("non-retryable statuses (404, 400) are not retried; statuses set by config are honoured", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ retry: { maxAttempts: 3 } })
        const notFound = yield* Effect.flip(client.get(server.urlFor("/status/404")))
        assert.strictEqual(notFound._tag, "NotFoundError")
        assert.isFalse(notFound.retryable)
        const invalid = yield* Effect.flip(client.get(server.urlFor("/status/400")))
        assert.strictEqual(invalid._tag, "InvalidRequestError")
        assert.isFalse(invalid.retryable)
        assert.lengthOf(yield* server.requestsTo("/status/404"), 1)
        assert.lengthOf(yield* server.requestsTo("/status/400"), 1)

        const custom = yield* makeClient({ retry: { maxAttempts: 3, statuses: [418] } })
        const teapot = yield* Effect.flip(custom.get(server.urlFor("/status/418")))
        assert.strictEqual(teapot._tag, "ClientStatusError")
        assert.isTrue(teapot.retryable)
        assert.lengthOf(yield* server.requestsTo("/status/418"), 3)
        // 503 is not in this client's list: one request.
        const unavailable = yield* Effect.flip(custom.get(server.urlFor("/status/503")))
        assert.strictEqual(unavailable._tag, "ServiceUnavailableError")
        assert.isFalse(unavailable.retryable)
        assert.lengthOf(yield* server.requestsTo("/status/503"), 1)
      }))

    for (const { atLeast, below, failure, name } of serverWaits) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const server = yield* freshServer
          yield* control(server).failNext(1, failure())
          const client = yield* makeClient()
          yield* client.getJson(server.urlFor("/msg"), Message)
          const [first, second] = yield* server.requestsTo("/msg")
          assert.isDefined(second)
          assert.isAtLeast(second!.arrivedAt - first!.arrivedAt, atLeast)
          if (below !== undefined) assert.isBelow(second!.arrivedAt - first!.arrivedAt, below)
        }))
    }

    it.effect("a malformed Retry-After (raw 503 with 120junk, -3) falls back to the short backoff", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ retry: { maxAttempts: 2 }, circuitBreaker: { enabled: false } })
        for (const value of ["120junk", "-3"]) {
          const error = yield* Effect.flip(
            client.get(`${server.rawUrl}/retry-after?value=${encodeURIComponent(value)}&status=503`)
          )
          assert.strictEqual(error._tag, "ServiceUnavailableError")
          if (error._tag !== "ServiceUnavailableError") return
          assert.isUndefined(error.retryAfterMillis)
        }
        const attempts = yield* server.requestsTo("/retry-after")
        assert.lengthOf(attempts, 4)
        assert.isTrue(attempts.every((request) => request.listener === "raw"))
        // Backoff of at most 50 ms, not 120 s: generous bound.
        assert.isBelow(attempts[1]!.arrivedAt - attempts[0]!.arrivedAt, 5_000)
        assert.isBelow(attempts[3]!.arrivedAt - attempts[2]!.arrivedAt, 5_000)
      }))

    it.effect("a Retry-After above retry.retryAfterCeiling fails at once with RateLimitedError, one request", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ retry: { maxAttempts: 5, retryAfterCeiling: "5 seconds" } })
        const started = Date.now()
        const error = yield* Effect.flip(client.get(server.urlFor("/status/429?retry_after=120")))
        assert.isBelow(Date.now() - started, 5_000)
        assert.strictEqual(error._tag, "RateLimitedError")
        if (error._tag !== "RateLimitedError") return
        assert.strictEqual(error.retryAfterMillis, 120_000)
        assert.strictEqual(error.status, 429)
        assert.lengthOf(yield* server.requestsTo("/status/429"), 1)
      }))

    it.effect("a Retry-After too large to count (9007199254741 s, 20 digits) is above the ceiling: one request", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        for (const value of ["9007199254741", "99999999999999999999"]) {
          yield* server.reset
          const client = yield* makeClient({ retry: { maxAttempts: 3, retryAfterCeiling: "10 seconds" } })
          const error = yield* Effect.flip(client.get(`${server.rawUrl}/retry-after?value=${value}&status=503`))
          assert.strictEqual(error._tag, "ServiceUnavailableError", value)
          if (error._tag !== "ServiceUnavailableError") return
          assert.strictEqual(error.retryAfterMillis, Number.MAX_SAFE_INTEGER, value)
          assert.lengthOf(yield* server.requestsTo("/retry-after"), 1, value)
        }
      }))

    it.effect("timeout.total covers Retry-After: a wait past the deadline fails at once with the 429", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({
          timeout: { total: 500 },
          retry: { maxAttempts: 5, retryAfterCeiling: "60 seconds" }
        })
        const started = Date.now()
        const error = yield* Effect.flip(client.get(server.urlFor("/status/429?retry_after=10")))
        assert.isBelow(Date.now() - started, 500, "never sleeps past the deadline")
        assert.strictEqual(error._tag, "RateLimitedError")
        if (error._tag !== "RateLimitedError") return
        assert.strictEqual(error.retryAfterMillis, 10_000)
        assert.lengthOf(yield* server.requestsTo("/status/429"), 1)
      }))

    it.effect("401: a rotated token is refreshed once and the call succeeds; concurrent calls share one refresh", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const runs = yield* Ref.make(0)
        const fetchToken = Ref.update(runs, (n) => n + 1).pipe(
          Effect.andThen(control(server).token),
          Effect.map(({ token }) => token)
        )
        const client = yield* makeClient().pipe(
          Effect.provide(Auth.layerBearer("token-1", { onUnauthorized: fetchToken }))
        )
        const url = server.urlFor("/auth/bearer")
        const ok = yield* client.get(url)
        assert.strictEqual(ok.status, 200)

        yield* control(server).rotateToken()
        const after = yield* client.get(url)
        assert.strictEqual(after.status, 200)
        assert.strictEqual(after.attempt, 1, "the retry with new credentials is not counted as an attempt")
        assert.deepStrictEqual(yield* after.json, { authenticated: true, token_generation: 2 })
        assert.strictEqual(yield* Ref.get(runs), 1)
        const log = yield* server.requestsTo("/auth/bearer")
        assert.deepStrictEqual(log.map((request) => request.headers["authorization"]), [
          "Bearer token-1",
          "Bearer token-1",
          "Bearer token-2"
        ])

        yield* control(server).rotateToken()
        const results = yield* Effect.forEach(
          Array.from({ length: 10 }),
          () => Effect.flatMap(client.get(url), (response) => response.json),
          { concurrency: "unbounded" }
        )
        assert.isTrue(results.every((body) => (body as { token_generation: number }).token_generation === 3))
        assert.strictEqual(yield* Ref.get(runs), 2, "ten concurrent 401s, one refresh")
      }))
  }
)

// -----------------------------------------------------------------------------
// TestTransport under TestClock: the delay arithmetic
// -----------------------------------------------------------------------------

const route = { path: "/r" } as const
const post = { method: "POST", path: "/r" } as const

/** Short steps without jitter: 100 ms, then 200 ms (the default multiplier), three attempts at most. */
const short: ResilientClient.Options = { retry: { jitter: false, minDelay: 100, maxAttempts: 3 } }

/**
 * Moves the clock to each instant of `at` (the first call at 0): a millisecond before it, only the calls before it
 * were made; at it, its call too.
 */
const callsAt = (at: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    for (let i = 1; i < at.length; i++) {
      yield* TestClock.adjust(at[i]! - at[i - 1]! - 1)
      assert.deepStrictEqual(yield* callTimes, at.slice(0, i))
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(yield* callTimes, at.slice(0, i + 1))
    }
  })

/** A GET whose replies are paced by the backoff or by what the server said: the calls' instants, then 200. */
const paced: ReadonlyArray<{
  readonly name: string
  readonly replies: ReadonlyArray<TestTransport.Reply>
  readonly options: ResilientClient.Options
  readonly at: ReadonlyArray<number>
}> = [
  {
    name: "backoff without jitter, minDelay 100, multiplier 2: attempts at 0, 100, 300 ms",
    replies: [TestTransport.respond(503), TestTransport.respond(503), TestTransport.respond(200)],
    options: { retry: { jitter: false, minDelay: 100, multiplier: 2, maxAttempts: 3 } },
    at: [0, 100, 300]
  },
  {
    name: "the retrySchedule option replaces the backoff",
    replies: [TestTransport.respond(503), TestTransport.respond(503), TestTransport.respond(200)],
    options: { retrySchedule: Schedule.spaced("1 second"), retry: { jitter: false, minDelay: 100, maxAttempts: 3 } },
    at: [0, 1_000, 2_000]
  },
  {
    name: "Retry-After: 5 lengthens a 100 ms step to 5 s",
    replies: [TestTransport.respond(503, { headers: { "retry-after": "5" } }), TestTransport.respond(200)],
    options: short,
    at: [0, 5_000]
  },
  {
    name: "retry-after-ms: 2500 lengthens a 100 ms step to 2.5 s, and wins over Retry-After: 1",
    replies: [
      TestTransport.respond(429, { headers: { "retry-after": "1", "retry-after-ms": "2500" } }),
      TestTransport.respond(200)
    ],
    options: short,
    at: [0, 2_500]
  },
  {
    name: "a 429 without Retry-After waits for the reset of the budget it reports empty (X-RateLimit-*)",
    replies: [
      TestTransport.respond(429, { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "3" } }),
      TestTransport.respond(200)
    ],
    options: short,
    at: [0, 3_000]
  },
  {
    name: "a budget that is not empty, or a reset on a 503, does not lengthen the backoff step",
    replies: [
      TestTransport.respond(429, { headers: { "ratelimit": "limit=10, remaining=4, reset=30" } }),
      TestTransport.respond(503, { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30" } }),
      TestTransport.respond(200)
    ],
    options: short,
    at: [0, 100, 300]
  }
]

/**
 * A POST of `{ a: 1 }` (with `options`) on a fresh log, `replies` queued, given a second for its retries: how it
 * ended, and the calls it made.
 */
const postAfter = (replies: ReadonlyArray<TestTransport.Reply>, options: { readonly idempotencyKey?: true } = {}) =>
  Effect.gen(function*() {
    const transport = yield* TestTransport.TestTransport
    yield* transport.reset
    const { client } = yield* scripted(post, ...replies)
    const fiber = yield* Effect.forkChild(Effect.exit(client.post(`${base}/r`, { json: { a: 1 }, ...options })))
    yield* TestClock.adjust("1 second")
    return { exit: yield* Fiber.join(fiber), calls: yield* transport.calls }
  })

/** The POST was created (201) at attempt `attempts`, after that many calls. */
const assertCreated = (
  { calls, exit }: Effect.Success<ReturnType<typeof postAfter>>,
  attempts: number
) => {
  assert.isTrue(Exit.isSuccess(exit), String(exit))
  if (!Exit.isSuccess(exit)) return
  assert.strictEqual(exit.value.status, 201)
  assert.strictEqual(exit.value.attempt, attempts)
  assert.lengthOf(calls, attempts)
}

/** The POST failed with a ConnectionError on a request that was sent, and was not replayed: one call. */
const assertSentOnce = ({ calls, exit }: Effect.Success<ReturnType<typeof postAfter>>) => {
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as ClientError : undefined
  assert.strictEqual(error?._tag, "ConnectionError", String(exit))
  if (error?._tag !== "ConnectionError") return
  assert.isTrue(error.sent)
  assert.lengthOf(calls, 1)
}

describe("ResilientClient retries on TestTransport", () => {
  for (const { at, name, options, replies } of paced) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const { client } = yield* scripted(route, ...replies)
        const fiber = yield* Effect.forkChild(client.get(`${base}/r`))
        yield* callsAt(at)
        const response = yield* Fiber.join(fiber)
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.attempt, at.length)
        assert.deepStrictEqual(yield* callTimes, at)
      }).pipe(onTestTransport(options)))
  }

  it.effect("timeout.total: a Retry-After past the deadline fails at once, without sleeping", () =>
    Effect.gen(function*() {
      const { client } = yield* scripted(
        route,
        TestTransport.respond(429, { headers: { "retry-after": "10" } }),
        TestTransport.respond(200)
      )
      const fiber = yield* Effect.forkChild(Effect.flip(client.get(`${base}/r`)))
      yield* TestClock.adjust("1 millis")
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit, "the call ended without waiting on the clock")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RateLimitedError")
      if (error._tag !== "RateLimitedError") return
      assert.strictEqual(error.retryAfterMillis, 10_000)
      assert.deepStrictEqual(yield* callTimes, [0])
    }).pipe(onTestTransport({ timeout: { total: 500 }, retry: { retryAfterCeiling: "60 seconds", maxAttempts: 5 } })))

  it.effect("timeout.total: a backoff step that would end past the deadline is not slept", () =>
    Effect.gen(function*() {
      const transport = yield* TestTransport.TestTransport
      const client = yield* ResilientClient.ResilientClient
      yield* transport.setDefault(route, TestTransport.respond(503))
      const fiber = yield* Effect.forkChild(Effect.flip(client.get(`${base}/r`)))
      // Attempt 1 at 0, sleep 400 (ends before 1000); attempt 2 at 400, a sleep of 800 would pass 1000.
      yield* TestClock.adjust("400 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ServiceUnavailableError")
      assert.strictEqual(yield* Clock.currentTimeMillis, 400)
      assert.deepStrictEqual(yield* callTimes, [0, 400])
    }).pipe(onTestTransport({
      timeout: { total: 1_000 },
      retry: { jitter: false, minDelay: 400, multiplier: 2, maxAttempts: 10 }
    })))

  it.effect("a POST without a key: retried after ECONNREFUSED (not sent), not after ECONNRESET (sent)", () =>
    Effect.gen(function*() {
      assertCreated(
        yield* postAfter([
          TestTransport.fail("ECONNREFUSED"),
          TestTransport.fail("ECONNREFUSED"),
          TestTransport.respond(201)
        ]),
        3
      )
      assertSentOnce(yield* postAfter([TestTransport.fail("ECONNRESET"), TestTransport.respond(201)]))

      // The same fault with an idempotency key is retried, with the same key.
      const keyed = yield* postAfter([TestTransport.fail("ECONNRESET"), TestTransport.respond(201)], {
        idempotencyKey: true
      })
      assertCreated(keyed, 2)
      assert.strictEqual(keyed.calls[0]!.headers["idempotency-key"], keyed.calls[1]!.headers["idempotency-key"])
    }).pipe(onTestTransport(short)))

  it.effect("a POST without a key is retried after any fault raised while connecting (ETIMEDOUT on connect)", () =>
    Effect.gen(function*() {
      // The kernel's own connect timeout: `connect ETIMEDOUT`, so the request was never sent.
      assertCreated(yield* postAfter([TestTransport.fail("ETIMEDOUT"), TestTransport.respond(201)]), 2)
      // The same code on a connection that carried the request (`read ETIMEDOUT`): not replayed.
      assertSentOnce(yield* postAfter([TestTransport.fail("ETIMEDOUT", { sent: true }), TestTransport.respond(201)]))
    }).pipe(onTestTransport(short)))
})

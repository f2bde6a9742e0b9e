/**
 * RELIABILITY 14 beyond POST: PATCH is never replayed blindly; PUT and DELETE
 * (idempotent by RFC 9110) are retried; a method the client does not know
 * (`PURGE`, `LOCK`) follows the non-idempotent rule. A POST whose attempt
 * deadline ended it while it still waited for a connection (nothing sent) is
 * retried like a refused connection.
 *
 * Every attempt that reaches a server is counted in the fault-injection
 * server's log (a connection reset after the request was sent is the raw
 * listener's `/reset`, which reads the whole request first); a refused
 * connection reaches no server, so those attempts are counted at the transport,
 * or by a server that starts listening on the refused port after the first.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, layer } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import * as Ports from "@httpkit/testing/Ports"
import { Effect, Fiber, Layer, Ref, Schedule, Scope } from "effect"
import { HttpClient } from "effect/http"
import * as ClientConfig from "../src/ClientConfig.ts"
import type { ClientError } from "../src/ClientError.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

/** A client on real sockets with short retry delays and no breaker (503s in a row must not open it). */
const makeClient = (
  retry: NonNullable<ResilientClient.Options["retry"]> = {},
  timeout: ResilientClient.Options["timeout"] = {}
) =>
  ResilientClient.make({
    retry: { maxAttempts: 3, minDelay: 10, maxDelay: 50, ...retry },
    circuitBreaker: { enabled: false },
    timeout
  })

/** A JSON body, so that a request that reaches the server carries bytes it could act on. */
const body = { json: { op: "replace", path: "/name", value: "x" } }

/**
 * A client over Effect's undici transport that counts the attempts handed to
 * it; `afterFirstFailure` runs once, when the first attempt fails.
 */
const countingClient = (afterFirstFailure: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make(0)
    const failures = yield* Ref.make(0)
    const transport = (yield* HttpClient.HttpClient).pipe(
      HttpClient.tapRequest(() => Ref.update(attempts, (n) => n + 1)),
      HttpClient.transform((effect) =>
        Effect.tapError(
          effect,
          () =>
            Ref.getAndUpdate(failures, (n) => n + 1).pipe(
              Effect.andThen((before) => before === 0 ? afterFirstFailure : Effect.void)
            )
        )
      )
    )
    const resolved = yield* ClientConfig.resolve({
      retry: { maxAttempts: 3, minDelay: 10, maxDelay: 50 },
      circuitBreaker: { enabled: false }
    })
    const client = yield* ResilientClient.makeWith(resolved, transport)
    return { client, attempts: Ref.get(attempts) }
  })

/** Waits (polling the server's log, at most 20 s) until `server` has seen `count` requests to `path`. */
const seen = (server: TestServer.TestServer["Service"], path: string, count: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      if ((yield* server.requestsTo(path)).length >= count) return
      yield* Effect.sleep(20)
    }
    assert.fail(`the server never saw ${count} request(s) to ${path}`)
  })

/**
 * A client with one connection per origin, and a GET that holds that connection for `holdMillis` (its own
 * attempt deadline 20 s), already at the server when this returns: a request sent now waits in undici's queue.
 */
const oneConnectionHeld = (server: TestServer.TestServer["Service"], holdMillis: number) =>
  Effect.gen(function*() {
    const client = yield* ResilientClient.make({
      pool: { connectionsPerOrigin: 1 },
      retry: { maxAttempts: 3, minDelay: 10, maxDelay: 50 },
      timeout: { attempt: 300, total: "30 seconds" },
      circuitBreaker: { enabled: false }
    })
    const holder = yield* Effect.forkChild(
      Effect.flatMap(
        client.get(server.urlFor(`/delay/${holdMillis}?holder`), { timeout: { attempt: "20 seconds" } }),
        (response) => response.text
      )
    )
    yield* seen(server, `/delay/${holdMillis}`, 1)
    return { client, holder }
  })

layer(Layer.merge(TestServer.layer(), NodeHttpClient.layerUndici), { excludeTestServices: true })(
  "RELIABILITY 14: PATCH, PUT, DELETE and custom methods",
  (it) => {
    it.effect("a PATCH without a key answered 503 is sent once (maxAttempts 5): ServiceUnavailableError", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient({ maxAttempts: 5 })
        const error = yield* Effect.flip(client.patch(server.urlFor("/status/503"), body))
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        assert.isTrue(error.retryable, "503 is retryable, yet not for a PATCH without a key")
        const log = yield* server.requestsTo("/status/503")
        assert.deepStrictEqual(log.map((request) => request.method), ["PATCH"])
      }))

    it.effect("a PATCH without a key reset after the request was sent is sent once: ConnectionError, sent: true", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient({ maxAttempts: 5 })
        const error = yield* Effect.flip(client.patch(`${server.rawUrl}/reset`, body))
        assert.strictEqual(error._tag, "ConnectionError")
        if (error._tag !== "ConnectionError") return
        assert.isTrue(error.sent, "the raw listener read the whole request before the RST")
        assert.isTrue(error.retryable, "a reset is retryable, yet not for a PATCH without a key")
        const log = yield* server.requestsTo("/reset")
        assert.deepStrictEqual(log.map((request) => [request.listener, request.method]), [["raw", "PATCH"]])
      }))

    it.effect("a PATCH without a key that times out after sending (timeout.attempt 300 ms) is sent once; a GET 3 times", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient({ maxAttempts: 3 }, { attempt: 300 })
        const error = yield* Effect.flip(client.patch(server.urlFor("/delay/5000?patch"), body))
        assert.strictEqual(error._tag, "TimeoutError")
        if (error._tag !== "TimeoutError") return
        assert.strictEqual(error.phase, "attempt")
        assert.isTrue(error.retryable, "an attempt timeout is retryable, yet not for a PATCH without a key")
        assert.isFalse(Object.hasOwn(error, "sent"), "the PATCH was sent: the error does not say otherwise")
        const patches = yield* server.requestsTo("/delay/5000")
        assert.deepStrictEqual(patches.map((request) => request.method), ["PATCH"])

        yield* Effect.flip(client.get(server.urlFor("/delay/5000?get")))
        const all = yield* server.requestsTo("/delay/5000")
        assert.deepStrictEqual(all.map((request) => request.method), ["PATCH", "GET", "GET", "GET"])
      }))

    it.effect("a POST without a key whose attempt deadline (300 ms) ends while it waits for the only connection is retried: the server sees it once", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const { client, holder } = yield* oneConnectionHeld(server, 2_000)
        // Each retry waits for the holder to be done first, so the next attempt finds the connection free.
        const failures: Array<ClientError> = []
        const schedule = Schedule.spaced(10).pipe(
          Schedule.tap(({ input }) =>
            Effect.andThen(Effect.sync(() => failures.push(input as ClientError)), Fiber.await(holder))
          )
        )
        const response = yield* client.post(server.urlFor("/echo?queued"), { ...body, retry: { schedule } })
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.attempt, 2)
        assert.lengthOf(failures, 1)
        const first = failures[0]!
        assert.strictEqual(first._tag, "TimeoutError")
        if (first._tag !== "TimeoutError") return
        assert.strictEqual(first.phase, "attempt")
        assert.isFalse(first.sent, "the first attempt never left undici's queue")
        assert.include(first.message, "before the request was sent")
        const posts = yield* server.requestsTo("/echo")
        assert.deepStrictEqual(posts.map((request) => request.method), ["POST"])
        // It went out after the holder was answered, on the connection the holder had used.
        const [held] = yield* server.requestsTo("/delay/2000")
        assert.isAtLeast(posts[0]!.arrivedAt, held!.arrivedAt + 1_900)
      }))

    it.effect("a POST without a key and without retries whose attempt deadline ends in undici's queue fails with TimeoutError, sent: false, and never reaches the server", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const { client, holder } = yield* oneConnectionHeld(server, 1_500)
        const error = yield* Effect.flip(client.post(server.urlFor("/echo?once"), { ...body, retry: false }))
        assert.strictEqual(error._tag, "TimeoutError")
        if (error._tag !== "TimeoutError") return
        assert.strictEqual(error.phase, "attempt")
        assert.isFalse(error.sent)
        yield* Fiber.await(holder)
        // The connection is free now: a request left in the queue would be sent.
        yield* Effect.sleep(300)
        assert.lengthOf(yield* server.requestsTo("/echo"), 0)
      }))

    it.effect("a POST whose total deadline (400 ms) ends in undici's queue fails with TimeoutError total, sent: false, tried once", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const { client, holder } = yield* oneConnectionHeld(server, 1_500)
        const error = yield* Effect.flip(
          client.post(server.urlFor("/echo?total"), { ...body, timeout: { attempt: "10 seconds", total: 400 } })
        )
        assert.strictEqual(error._tag, "TimeoutError")
        if (error._tag !== "TimeoutError") return
        assert.strictEqual(error.phase, "total")
        assert.isFalse(error.retryable)
        assert.isFalse(error.sent)
        yield* Fiber.await(holder)
        yield* Effect.sleep(300)
        assert.lengthOf(yield* server.requestsTo("/echo"), 0)
      }))

    it.effect("a PATCH without a key refused (ECONNREFUSED) is tried 3 times (maxAttempts 3): ConnectionError, sent: false", () =>
      Effect.gen(function*() {
        const port = yield* Ports.unused
        const { attempts, client } = yield* countingClient()
        const error = yield* Effect.flip(client.patch(`http://127.0.0.1:${port}/msg`, body))
        assert.strictEqual(error._tag, "ConnectionError")
        if (error._tag !== "ConnectionError") return
        assert.isFalse(error.sent, "a refused connection never carried the request")
        assert.include(error.detail, "ECONNREFUSED")
        assert.strictEqual(yield* attempts, 3)
      }))

    it.effect("a PATCH without a key refused once reaches the server listening by the retry: 2 attempts, 1 PATCH logged", () =>
      Effect.gen(function*() {
        const port = yield* Ports.unused
        const scope = yield* Effect.scope
        const started = yield* Ref.make<TestServer.TestServer["Service"] | undefined>(undefined)
        // The server starts on the refused port once the first attempt has failed, before the retry.
        const listen = TestServer.make({ port }).pipe(
          Effect.flatMap((server) => Ref.set(started, server)),
          Scope.provide(scope),
          Effect.orDie
        )
        const { attempts, client } = yield* countingClient(listen)
        const response = yield* client.patch(`http://127.0.0.1:${port}/echo`, body)
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.attempt, 2)
        assert.strictEqual(yield* attempts, 2)
        const server = yield* Ref.get(started)
        assert.isDefined(server)
        const log = yield* server!.requestsTo("/echo")
        assert.deepStrictEqual(log.map((request) => request.method), ["PATCH"])
      }).pipe(Effect.scoped))

    it.effect("a PATCH with idempotencyKey: true is sent maxAttempts (3) times on 503 and on a reset, one key each", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const client = yield* makeClient()
        for (
          const [url, path] of [[server.urlFor("/status/503"), "/status/503"], [`${server.rawUrl}/reset`, "/reset"]]
        ) {
          yield* server.reset
          yield* Effect.flip(client.patch(url!, { ...body, idempotencyKey: true }))
          const log = yield* server.requestsTo(path!)
          assert.deepStrictEqual(log.map((request) => request.method), ["PATCH", "PATCH", "PATCH"], path)
          const keys = new Set(log.map((request) => request.headers["idempotency-key"]))
          assert.strictEqual(keys.size, 1, `one idempotency key on every attempt to ${path}`)
          assert.match([...keys][0]!, /^[0-9a-f-]{36}$/)
          assert.strictEqual(new Set(log.map((request) => request.headers["x-request-id"])).size, 1)
        }
      }))

    it.effect("a PATCH with its own key, or from a client with retry.idempotencyKeys, is retried 3 times with that key", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient()
        yield* Effect.flip(client.patch(server.urlFor("/status/503?own"), { ...body, idempotencyKey: "patch-key-1" }))
        const own = yield* server.requestsTo("/status/503")
        assert.deepStrictEqual(own.map((request) => request.headers["idempotency-key"]), [
          "patch-key-1",
          "patch-key-1",
          "patch-key-1"
        ])

        yield* server.reset
        const keyed = yield* makeClient({ idempotencyKeys: true })
        yield* Effect.flip(keyed.patch(server.urlFor("/status/503?auto"), body))
        const auto = yield* server.requestsTo("/status/503")
        assert.lengthOf(auto, 3)
        assert.strictEqual(new Set(auto.map((request) => request.headers["idempotency-key"])).size, 1)
        assert.isString(auto[0]!.headers["idempotency-key"])
      }))

    it.effect("a lower-case 'patch' given to request is a PATCH: sent once on 503", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient()
        const error = yield* Effect.flip(client.request("patch", server.urlFor("/status/503"), body))
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        const log = yield* server.requestsTo("/status/503")
        assert.deepStrictEqual(log.map((request) => request.method), ["PATCH"])
      }))

    it.effect("PUT and DELETE without a key are retried: 503 and a reset after sending give maxAttempts (3) requests", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const client = yield* makeClient()
        for (const method of ["PUT", "DELETE"] as const) {
          yield* server.reset
          const unavailable = yield* Effect.flip(client.request(method, server.urlFor("/status/503"), body))
          assert.strictEqual(unavailable._tag, "ServiceUnavailableError", method)
          const reset = yield* Effect.flip(client.request(method, `${server.rawUrl}/reset`, body))
          assert.strictEqual(reset._tag, "ConnectionError", method)
          assert.deepStrictEqual((yield* server.requestsTo("/status/503")).map((request) => request.method), [
            method,
            method,
            method
          ])
          assert.deepStrictEqual((yield* server.requestsTo("/reset")).map((request) => request.method), [
            method,
            method,
            method
          ])
        }
      }))

    it.effect("a custom method (PURGE, LOCK) without a key is sent once on 503 and on a reset, like a PATCH", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const client = yield* makeClient({ maxAttempts: 5 })
        for (const method of ["PURGE", "LOCK"]) {
          yield* server.reset
          const unavailable = yield* Effect.flip(client.request(method, server.urlFor("/status/503"), body))
          assert.strictEqual(unavailable._tag, "ServiceUnavailableError", method)
          const reset = yield* Effect.flip(client.request(method, `${server.rawUrl}/reset`, body))
          assert.strictEqual(reset._tag, "ConnectionError", method)
          assert.deepStrictEqual((yield* server.requestsTo("/status/503")).map((request) => request.method), [method])
          assert.deepStrictEqual((yield* server.requestsTo("/reset")).map((request) => request.method), [method])
        }
      }))

    it.effect("a custom method (PURGE) refused (ECONNREFUSED) is tried 3 times (maxAttempts 3)", () =>
      Effect.gen(function*() {
        const port = yield* Ports.unused
        const { attempts, client } = yield* countingClient()
        const error = yield* Effect.flip(client.request("PURGE", `http://127.0.0.1:${port}/cache`))
        assert.strictEqual(error._tag, "ConnectionError")
        assert.strictEqual(yield* attempts, 3)
      }))

    it.effect("a custom method is retried 3 times with idempotencyKey: true, or when retry.methods names it", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient()
        yield* Effect.flip(client.request("LOCK", server.urlFor("/status/503?keyed"), { idempotencyKey: true }))
        const keyed = yield* server.requestsTo("/status/503")
        assert.lengthOf(keyed, 3)
        assert.strictEqual(new Set(keyed.map((request) => request.headers["idempotency-key"])).size, 1)
        assert.isString(keyed[0]!.headers["idempotency-key"])

        // `retry.methods` replaces the default list (upper-cased): PURGE is retried, PUT no longer is.
        yield* server.reset
        const purging = yield* makeClient({ methods: ["purge", "GET"] })
        yield* Effect.flip(purging.request("PURGE", server.urlFor("/status/503?listed")))
        yield* Effect.flip(purging.put(server.urlFor("/status/503?unlisted")))
        const log = yield* server.requestsTo("/status/503")
        assert.deepStrictEqual(log.map((request) => request.method), ["PURGE", "PURGE", "PURGE", "PUT"])
      }))

    it.effect("retry.idempotencyKeys: true adds a key to POST and PATCH only: a LOCK gets none and is sent once", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        yield* server.reset
        const client = yield* makeClient({ idempotencyKeys: true })
        yield* Effect.flip(client.request("LOCK", server.urlFor("/status/503")))
        const log = yield* server.requestsTo("/status/503")
        assert.lengthOf(log, 1)
        assert.isUndefined(log[0]!.headers["idempotency-key"])
      }))
  }
)

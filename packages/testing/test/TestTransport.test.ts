import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Schedule, Stream } from "effect"
import { HttpClient, HttpClientError, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import * as TestTransport from "../src/TestTransport.ts"

const base = "http://api.test"
const users = { method: "GET", path: "/users" } as const

const status = (path: string) => Effect.map(HttpClient.get(`${base}${path}`), (response) => response.status)

/** A test on a fresh transport (scripted with `script`), given to `body`. */
const scripted = <A, E>(
  body: (transport: TestTransport.TestTransport["Service"]) => Effect.Effect<A, E, HttpClient.HttpClient>,
  script?: Parameters<typeof TestTransport.layer>[0]
) => Effect.flatMap(TestTransport.TestTransport, body).pipe(Effect.provide(TestTransport.layer(script)))

/** Moves the clock by `before`: `fiber` is still running; then by `rest`: what it ended with. */
const endsAfter = <A, E>(fiber: Fiber.Fiber<A, E>, before: Duration.Input, rest: Duration.Input) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(before)
    assert.isUndefined(fiber.pollUnsafe())
    yield* TestClock.adjust(rest)
    return yield* Fiber.join(fiber)
  })

const transportCause = (error: HttpClientError.HttpClientError) => {
  assert.strictEqual(error.reason._tag, "TransportError")
  return error.reason.cause as Error & { readonly code?: string; readonly syscall?: string }
}

describe("TestTransport", () => {
  it.effect("serves queued replies in order, then the default, then 404 for unscripted requests", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(users, TestTransport.respond(200))
        yield* transport.setDefault(users, TestTransport.respond(204))
        assert.deepStrictEqual(
          [yield* status("/users"), yield* status("/users"), yield* status("/users"), yield* status("/users")],
          [503, 200, 204, 204]
        )

        const unscripted = yield* HttpClient.post(`${base}/orders`)
        assert.strictEqual(unscripted.status, 404)
        assert.strictEqual(unscripted.headers["x-test-transport"], "unscripted")
        const body = (yield* unscripted.json) as { readonly error: string; readonly url: string }
        assert.strictEqual(body.error, "unscripted")
        assert.strictEqual(body.url, `${base}/orders`)

        const calls = yield* transport.calls
        assert.deepStrictEqual(calls.map((call) => `${call.method} ${new URL(call.url).pathname}`), [
          "GET /users",
          "GET /users",
          "GET /users",
          "GET /users",
          "POST /orders"
        ])
      }), [[users, TestTransport.respond(503)]]))

  it.effect("matches method and path, first registered route with a non-empty queue first", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue({ method: "*", path: /^\/items\/\d+$/ }, TestTransport.respond(201))
        yield* transport.enqueue({ method: "get", path: "/items/1" }, TestTransport.respond(202))
        yield* transport.enqueue({ path: "/other" }, TestTransport.respond(203))
        // The regexp route was registered first and wins while its queue lasts.
        assert.strictEqual(yield* status("/items/1"), 201)
        assert.strictEqual(yield* status("/items/1"), 202)
        assert.strictEqual(yield* status("/items/1"), 404)
        // Method mismatch: a POST does not take a GET route's reply.
        yield* transport.enqueue({ method: "GET", path: "/only-get" }, TestTransport.respond(200))
        assert.strictEqual((yield* HttpClient.post(`${base}/only-get`)).status, 404)
        // Query strings do not affect the path match.
        assert.strictEqual(yield* status("/other?x=1"), 203)
      })
    ))

  it.effect("records method, URL, headers, body and time", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const request = yield* HttpClientRequest.post(`${base}/users?page=2#frag`).pipe(
          HttpClientRequest.setHeader("X-Request-ID", "req-1"),
          HttpClientRequest.bodyJson({ name: "Ada" })
        )
        yield* HttpClient.execute(request)
        yield* HttpClient.execute(
          HttpClientRequest.put(`${base}/blob`).pipe(
            HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("he"), new TextEncoder().encode("llo")))
          )
        )
        yield* HttpClient.get(`${base}/empty`)

        const [post, put, get] = yield* transport.calls
        assert.strictEqual(post!.method, "POST")
        assert.strictEqual(post!.url, `${base}/users?page=2`)
        assert.strictEqual(post!.headers["x-request-id"], "req-1")
        assert.strictEqual(post!.headers["content-type"], "application/json")
        assert.strictEqual(post!.body, `{"name":"Ada"}`)
        assert.strictEqual(post!.at, 1_000)
        assert.strictEqual(put!.body, "hello")
        assert.isUndefined(get!.body)
      })
    ))

  it.effect("a request whose body stream fails is recorded without a body, uses up no reply, and fails with EncodeError", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue({ method: "POST", path: "/upload" }, TestTransport.respond(201))
        const error = yield* Effect.flip(HttpClient.execute(
          HttpClientRequest.post(`${base}/upload`).pipe(
            HttpClientRequest.bodyStream(Stream.fail(new Error("the disk went away")))
          )
        ))
        assert.strictEqual(error.reason._tag, "EncodeError")
        const calls = yield* transport.calls
        assert.deepStrictEqual(calls.map((call) => [call.method, call.url, call.body]), [
          ["POST", `${base}/upload`, undefined]
        ])
        // The reply is still there for the next attempt.
        assert.strictEqual(
          (yield* HttpClient.execute(HttpClientRequest.post(`${base}/upload`))).status,
          201
        )
      })
    ))

  it.effect("bodies read as text, JSON, bytes and stream, with headers passed through", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(
          users,
          TestTransport.json(429, { items: [1, 2] }, { headers: { "retry-after": "7" } }),
          TestTransport.respond(200, { body: "plain" }),
          TestTransport.respond(200, { body: new Uint8Array([1, 2, 3]) }),
          TestTransport.respond(200, { chunks: ["a", "b", new Uint8Array([99])] }),
          TestTransport.respond(200, { body: { raw: true } })
        )
        const first = yield* HttpClient.get(`${base}/users`)
        assert.strictEqual(first.status, 429)
        assert.strictEqual(first.headers["retry-after"], "7")
        assert.strictEqual(first.headers["content-type"], "application/json")
        assert.deepStrictEqual(yield* first.json, { items: [1, 2] })

        assert.strictEqual(yield* (yield* HttpClient.get(`${base}/users`)).text, "plain")
        const bytes = yield* (yield* HttpClient.get(`${base}/users`)).arrayBuffer
        assert.deepStrictEqual([...new Uint8Array(bytes)], [1, 2, 3])
        const streamed = yield* (yield* HttpClient.get(`${base}/users`)).stream.pipe(Stream.runCollect)
        assert.strictEqual(new TextDecoder().decode(Buffer.concat(streamed)), "abc")
        const value = yield* HttpClient.get(`${base}/users`)
        assert.strictEqual(value.headers["content-type"], "application/json")
        assert.deepStrictEqual(yield* value.json, { raw: true })
      })
    ))

  it.effect("faults fail with a TransportError whose cause carries the code", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(
          users,
          TestTransport.fail("ECONNREFUSED"),
          TestTransport.fail("ECONNRESET"),
          TestTransport.fail("UND_ERR_CONNECT_TIMEOUT", { sent: true })
        )
        const refused = transportCause(yield* Effect.flip(HttpClient.get(`${base}/users`)))
        assert.instanceOf(refused, Error)
        assert.strictEqual(refused.code, "ECONNREFUSED")
        assert.strictEqual(refused.syscall, "connect")
        assert.include(refused.message, "api.test:80")
        const reset = transportCause(yield* Effect.flip(HttpClient.get(`${base}/users`)))
        assert.strictEqual(reset.code, "ECONNRESET")
        assert.strictEqual(reset.syscall, "read")
        const timeout = transportCause(yield* Effect.flip(HttpClient.get(`${base}/users`)))
        assert.strictEqual(timeout.code, "UND_ERR_CONNECT_TIMEOUT")
        assert.strictEqual(timeout.syscall, "read")
        assert.lengthOf(yield* transport.calls, 3)
      })
    ))

  it.effect("a delay is observed on the clock: the request completes only after TestClock.adjust", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(
          users,
          TestTransport.respond(200, { delay: "5 seconds" }),
          TestTransport.fail("ECONNRESET", { delay: "2 seconds" })
        )
        const fiber = yield* Effect.forkChild(status("/users"))
        assert.strictEqual(yield* endsAfter(fiber, "4999 millis", "1 milli"), 200)

        const failing = yield* Effect.forkChild(Effect.flip(HttpClient.get(`${base}/users`)))
        assert.strictEqual(transportCause(yield* endsAfter(failing, "1 second", "1 second")).code, "ECONNRESET")
      })
    ))

  it.effect("Hang never answers, and a timeout around it fires under TestClock", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(users, TestTransport.hang)
        const fiber = yield* Effect.forkChild(
          HttpClient.get(`${base}/users`).pipe(Effect.timeoutOption("30 seconds"))
        )
        const result = yield* endsAfter(fiber, "29 seconds", "1 second")
        assert.strictEqual(result._tag, "None")
        assert.lengthOf(yield* transport.calls, 1)
      })
    ))

  it.effect("chunkDelay spaces the body chunks on the clock", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(users, TestTransport.respond(200, { chunks: ["a", "b", "c"], chunkDelay: "1 second" }))
        const response = yield* HttpClient.get(`${base}/users`)
        const fiber = yield* Effect.forkChild(response.text)
        assert.strictEqual(yield* endsAfter(fiber, "2 seconds", "1 second"), "abc")
      })
    ))

  it.effect("truncateAfter fails the body read after N bytes", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.enqueue(
          users,
          TestTransport.respond(200, { body: "0123456789", truncateAfter: 4 }),
          TestTransport.respond(200, { chunks: ["01", "23", "45"], truncateAfter: 3 })
        )
        const response = yield* HttpClient.get(`${base}/users`)
        assert.strictEqual(response.status, 200)
        const error = yield* Effect.flip(response.text)
        assert.strictEqual(error.reason._tag, "DecodeError")
        assert.strictEqual((error.reason.cause as { readonly code?: string }).code, "ECONNRESET")

        const seen: Array<string> = []
        const streamed = yield* (yield* HttpClient.get(`${base}/users`)).stream.pipe(
          Stream.runForEach((chunk) => Effect.sync(() => seen.push(new TextDecoder().decode(chunk)))),
          Effect.flip
        )
        assert.strictEqual(streamed.reason._tag, "DecodeError")
        assert.strictEqual(seen.join(""), "012")
      })
    ))

  it.effect("reset clears queues, defaults and calls", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        yield* transport.setDefault(users, TestTransport.respond(200))
        assert.strictEqual(yield* status("/users"), 503)
        assert.strictEqual(yield* status("/users"), 200)
        yield* transport.reset
        assert.lengthOf(yield* transport.calls, 0)
        assert.strictEqual(yield* status("/users"), 404)
        assert.lengthOf(yield* transport.calls, 1)
      }), [[users, TestTransport.respond(503)]]))

  it.effect("HttpClient.retryTransient with exponential backoff completes after TestClock.adjust, without real waiting", () =>
    scripted((transport) =>
      Effect.gen(function*() {
        const client = (yield* HttpClient.HttpClient).pipe(
          HttpClient.retryTransient({ schedule: Schedule.exponential("1 second"), times: 5 })
        )
        const started = Date.now()
        const fiber = yield* Effect.forkChild(Effect.flatMap(client.get(`${base}/users`), (response) => response.text))
        // Waits of 1 s, 2 s and 4 s.
        assert.strictEqual(yield* endsAfter(fiber, "6 seconds", "1 second"), "ok")
        assert.isBelow(Date.now() - started, 1_000)
        const calls = yield* transport.calls
        assert.deepStrictEqual(calls.map((call) => call.at), [0, 1_000, 3_000, 7_000])
      }), [[
      users,
      TestTransport.fail("ECONNREFUSED"),
      TestTransport.fail("ECONNRESET"),
      TestTransport.fail("ETIMEDOUT"),
      TestTransport.respond(200, { body: "ok" })
    ]]))

  it("refuses statuses a Response cannot carry", () => {
    assert.throws(() => TestTransport.respond(101), RangeError)
    assert.throws(() => TestTransport.respond(600), RangeError)
  })
})

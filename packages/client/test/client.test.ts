/**
 * `ResilientClient` over real sockets: methods and headers, refusals before
 * sending, decoding, body limits, the bulkhead, HTTP/2 and TLS, configuration
 * and redaction (RELIABILITY 8, 10, 11, 13, 16).
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClientConfig from "@httpkit/client/ClientConfig"
import type {
  BulkheadFullError,
  ConnectionError,
  DecodeError,
  InvalidRequestError,
  ResponseTooLargeError
} from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as DurationInput from "@httpkit/core/DurationInput"
import { TestServer, TlsTest } from "@httpkit/testing"
import { ConfigProvider, Context, Deferred, Duration, Effect, Fiber, Logger, Schema } from "effect"
import { TestClock } from "effect/testing"
import { inspect } from "node:util"
import * as Bulkhead from "../src/internal/bulkhead.ts"
import { fromTransport } from "../src/internal/failure.ts"
import { type Echo, failsWith, noRetry } from "./support.ts"

const echoOf = (response: ResilientClient.ClientResponse) => Effect.map(response.json, (body) => body as Echo)

describe("methods, query, headers and bodies", () => {
  it.live("get, post, put, patch, delete and head send what they are given", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const options = {
        query: { page: 2, tags: ["a", "b"], flag: true, q: "x y&z" },
        headers: { "X-Custom": "one" },
        json: { name: "Ada", n: 1 }
      }

      const get = yield* echoOf(
        yield* client.get(server.urlFor("/echo"), { query: options.query, headers: options.headers })
      )
      assert.strictEqual(get.method, "GET")
      assert.strictEqual(get.headers["x-custom"], "one")
      assert.strictEqual(get.body, "")

      for (const method of ["post", "put", "patch", "delete"] as const) {
        const response = yield* client[method](server.urlFor("/echo?fixed=1"), options)
        assert.strictEqual(response.status, 200)
        const echo = yield* echoOf(response)
        assert.strictEqual(echo.method, method.toUpperCase())
        assert.strictEqual(echo.path, "/echo")
        assert.deepStrictEqual(JSON.parse(echo.body), options.json)
        assert.strictEqual(echo.headers["content-type"], "application/json")
        assert.strictEqual(echo.headers["x-custom"], "one")
        assert.strictEqual(echo.query["fixed"], "1")
        assert.strictEqual(echo.query["q"], "x y&z")
      }

      const head = yield* client.head(server.urlFor("/echo"), { query: { h: 1 } })
      assert.strictEqual(head.status, 200)
      assert.strictEqual(yield* head.text, "")

      const seen = yield* server.requestsTo("/echo")
      assert.deepStrictEqual(seen.map((request) => request.method), ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
      // Query values repeat for arrays and are encoded on the wire.
      assert.strictEqual(new URLSearchParams(seen[0]!.query).getAll("tags").join(","), "a,b")
      assert.strictEqual(new URLSearchParams(seen[0]!.query).get("q"), "x y&z")
      assert.strictEqual(new URLSearchParams(seen[5]!.query).get("h"), "1")
      // Every call has its own request id, returned on the response.
      const ids = new Set(seen.map((request) => request.headers["x-request-id"]))
      assert.strictEqual(ids.size, 6)
    }).pipe(Effect.scoped))

  it.live("default headers and user agent are sent; the caller's headers win; baseUrl resolves relative URLs", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({
        retry: noRetry,
        baseUrl: `${server.url}/`,
        userAgent: "suite/1.0",
        headers: { "X-Tenant": "acme", Accept: "application/json" }
      })
      const plain = yield* echoOf(yield* client.get("/echo"))
      assert.strictEqual(plain.path, "/echo")
      assert.strictEqual(plain.headers["user-agent"], "suite/1.0")
      assert.strictEqual(plain.headers["x-tenant"], "acme")
      assert.strictEqual(plain.headers["accept"], "application/json")

      const own = yield* echoOf(
        yield* client.get("echo", {
          headers: { "x-tenant": "other", "User-Agent": "mine/2", accept: "text/plain" },
          requestId: "req-fixed-1"
        })
      )
      assert.strictEqual(own.headers["x-tenant"], "other")
      assert.strictEqual(own.headers["user-agent"], "mine/2")
      assert.strictEqual(own.headers["accept"], "text/plain")
      assert.strictEqual(own.headers["x-request-id"], "req-fixed-1")

      // The default user agent when none is configured.
      const bare = yield* ResilientClient.make({ retry: noRetry })
      const echo = yield* echoOf(yield* bare.get(server.urlFor("/echo")))
      assert.strictEqual(echo.headers["user-agent"], bare.config.userAgent)
      assert.match(echo.headers["user-agent"]!, /^httpkit\//)
    }).pipe(Effect.scoped))

  it.live("what undici refuses (a method that is no token, control chars, chars above U+00FF, expect/upgrade/transfer-encoding) is InvalidRequestError: 0 requests, not retried, breaker untouched", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({
        retry: { maxAttempts: 3, minDelay: 1, maxDelay: 2 },
        circuitBreaker: { failureThreshold: 1, openDuration: "1 hour" }
      })
      const url = server.urlFor("/echo")
      const refusals = [
        client.request("GET\r\nX-Injected: 1", url),
        client.request("GE T", url),
        client.get(url, { headers: { "x-trace": "v\x01" } }),
        client.get(url, { headers: { "x-trace": "v\x7f" } }),
        client.get(url, { headers: { "x-trace": "\u20ac" } }),
        client.get(url, { requestId: "order-\u20ac-1" }),
        client.get(url, { requestId: "order\x1b-1" }),
        client.post(url, { idempotencyKey: "key\x01" }),
        client.post(url, { headers: { expect: "100-continue" }, json: "x" }),
        client.get(url, { headers: { upgrade: "websocket" } }),
        client.post(url, { headers: { "Transfer-Encoding": "chunked" }, json: "x" }),
        client.get(url, { headers: { connection: "close, a b" } })
      ]
      for (const [index, refusal] of refusals.entries()) {
        const error = (yield* failsWith(refusal, "InvalidRequestError")) as InvalidRequestError
        assert.isFalse(error.retryable, String(index))
        assert.notMatch(error.message, /[^\t\x20-\x7e\x80-\uffff]/, String(index))
        assert.notMatch(`${error.method} ${error.requestId} ${error.detail}`, /[^\x20-\x7e\x80-\uffff]/, String(index))
      }
      assert.deepStrictEqual(yield* server.requests, [], "nothing reached the server, no attempt was retried")
      // A threshold of 1 would have opened the circuit on the first refusal counted as a failure.
      const ok = yield* client.get(url)
      assert.strictEqual(ok.status, 200)
      // Latin-1 and tab are field values: sent as given.
      const echo = yield* echoOf(yield* client.get(url, { headers: { "x-latin": "caf\u00e9\tok" } }))
      assert.strictEqual(Buffer.from(echo.headers["x-latin"]!, "latin1").toString("latin1"), "caf\u00e9\tok")
    }).pipe(Effect.scoped))

  it.live("a json body JSON.stringify cannot serialise (a BigInt, a cycle, a throwing toJSON) is InvalidRequestError, nothing sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: { maxAttempts: 3 } })
      const url = server.urlFor("/echo")
      const cyclic: Record<string, unknown> = { a: 1 }
      cyclic["self"] = cyclic
      for (
        const json of [{ id: 1n }, cyclic, {
          toJSON: () => {
            throw new Error("nope")
          }
        }]
      ) {
        for (const call of [client.post(url, { json }), client.postJson(url, json, Schema.Unknown)]) {
          const error = (yield* failsWith(call, "InvalidRequestError")) as InvalidRequestError
          assert.isFalse(error.retryable)
          assert.include(error.detail, "json body")
        }
      }
      assert.deepStrictEqual(yield* server.requests, [])
      // A serialisable body still goes, as JSON.
      const echo = yield* echoOf(yield* client.post(url, { json: { n: 1 } }))
      assert.strictEqual(echo.headers["content-type"], "application/json")
      assert.strictEqual(echo.body, "{\"n\":1}")
    }).pipe(Effect.scoped))

  it("fromTransport: undici's UND_ERR_INVALID_ARG and UND_ERR_NOT_SUPPORTED are InvalidRequestError, not retryable", () => {
    const context = { method: "GET", url: "http://h.example/", requestId: "r" }
    const deadlines = { connect: 1, headers: 1, idle: 1 }
    for (const code of ["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED"]) {
      const undiciError = Object.assign(new Error("invalid x-evil header\r\nInjected"), { code })
      const error = fromTransport({ cause: undiciError }, context, deadlines)
      assert.strictEqual(error._tag, "InvalidRequestError", code)
      assert.isFalse(error.retryable)
      assert.notInclude(error.message, "\r\n")
    }
  })

  it.live("a header value or name with CR, LF or NUL is refused with InvalidRequestError before anything is sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: { maxAttempts: 3 } })
      const url = server.urlFor("/echo")
      const refusals = [
        client.get(url, { headers: { "x-evil": "a\r\nX-Injected: 1" } }),
        client.get(url, { headers: { "x-evil": "a\nb" } }),
        client.get(url, { headers: { "x-evil": "a\rb" } }),
        client.get(url, { headers: { "x-evil": "a\u0000b" } }),
        client.get(url, { headers: { "x-evil\r\nx-injected": "1" } }),
        client.get(url, { headers: { "bad name": "1" } }),
        client.post(url, { headers: { authorization: "Bearer t\r\nX-Injected: 1" }, json: {} }),
        client.get(url, { requestId: "id\r\nX-Injected: 1" }),
        client.post(url, { idempotencyKey: "key\nX-Injected: 1" })
      ]
      for (const refusal of refusals) {
        const error = (yield* failsWith(refusal, "InvalidRequestError")) as InvalidRequestError
        assert.isFalse(error.retryable)
        assert.isUndefined(error.status)
        assert.notInclude(error.message, "X-Injected")
      }
      assert.deepStrictEqual(yield* server.requests, [])

      // In the client's configuration, the same values fail when it is built.
      const configured = yield* Effect.flip(ResilientClient.make({ headers: { "x-evil": "a\r\nb" } }))
      assert.strictEqual(configured._tag, "ClientConfigError")
      assert.include(configured.message, "headers.x-evil")
      const agent = yield* Effect.flip(ResilientClient.make({ userAgent: "ua\nX-Injected: 1" }))
      assert.include(agent.message, "userAgent")
    }).pipe(Effect.scoped))

  it.live("a relative URL without a baseUrl is refused with InvalidRequestError saying a baseUrl is needed, nothing sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      for (const input of ["/echo", "echo", "//echo"]) {
        const error = (yield* failsWith(client.get(input), "InvalidRequestError")) as InvalidRequestError
        assert.isFalse(error.retryable)
        assert.isUndefined(error.status)
        assert.strictEqual(
          error.detail,
          "the URL is relative and the client has no baseUrl: set baseUrl (HTTPKIT_BASE_URL) or pass an absolute URL"
        )
        assert.strictEqual(error.message, `invalid request: GET ${input}: ${error.detail}`)
      }
      // The same path with a baseUrl reaches the server; without one, nothing did.
      assert.deepStrictEqual(yield* server.requests, [])
      const based = yield* ResilientClient.make({ baseUrl: server.url, retry: noRetry })
      assert.strictEqual((yield* based.get("/echo")).status, 200)
      assert.strictEqual((yield* server.requestsTo("/echo")).length, 1)
    }).pipe(Effect.scoped))

  it.live("a call's own timeout and maxAttempts are checked like the client's options, before anything is sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const url = server.urlFor("/echo")
      const cases = [
        { call: client.get(url, { timeout: { attempt: "soon" as never } }), field: /timeout.*attempt/ },
        { call: client.get(url, { timeout: { total: -1 } }), field: /timeout.*total/ },
        { call: client.get(url, { timeout: { idle: Number.NaN } }), field: /timeout.*idle/ },
        { call: client.get(url, { retry: { maxAttempts: 0 } }), field: /retry.*maxAttempts/ },
        { call: client.get(url, { retry: { maxAttempts: 2.5 } }), field: /retry.*maxAttempts/ },
        { call: client.get(url, { timeout: 5 as never }), field: /timeout/ }
      ]
      for (const { call, field } of cases) {
        const error = (yield* failsWith(call, "InvalidRequestError")) as InvalidRequestError
        assert.isFalse(error.retryable)
        assert.match(error.detail, field)
        assert.match(error.detail, /^invalid request options: /)
      }
      assert.deepStrictEqual(yield* server.requests, [])

      // The same value in the client's options fails with the same field named.
      const configured = yield* Effect.flip(ResilientClient.make({ timeout: { attempt: "soon" } }))
      assert.match(configured.message, /timeout.*attempt/)

      // What the schema takes, and a Duration given in code, are taken per call.
      const fine = [
        client.get(url, { timeout: { attempt: "5 seconds", total: 10_000 } }),
        client.get(url, { timeout: { total: Duration.seconds(10) }, retry: { maxAttempts: 2 } }),
        client.get(url, { retry: false }),
        // `undefined` is "not given", as the options' type allows.
        client.get(url, { timeout: { attempt: undefined }, retry: { maxAttempts: undefined } })
      ]
      for (const call of fine) assert.strictEqual((yield* call).status, 200)
    }).pipe(Effect.scoped))

  it.live("a URL that is not http(s) or not a URL is refused before anything is sent", () =>
    Effect.gen(function*() {
      const client = yield* ResilientClient.make({ retry: noRetry })
      for (const url of ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url", "http://[::1"]) {
        const error = (yield* failsWith(client.get(url), "InvalidRequestError")) as InvalidRequestError
        assert.isFalse(error.retryable)
      }
    }).pipe(Effect.scoped))
})

describe("decoding", () => {
  const Health = Schema.Struct({ status: Schema.Literal("ok") })
  const Wrong = Schema.Struct({ status: Schema.Number, uptime: Schema.Number })

  it.live("getJson and postJson decode with the Schema", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      assert.deepStrictEqual(yield* client.getJson(server.urlFor("/health"), Health), { status: "ok" })
      const Echoed = Schema.Struct({ method: Schema.String, body: Schema.String })
      const echoed = yield* client.postJson(server.urlFor("/echo"), { id: 7 }, Echoed)
      assert.strictEqual(echoed.method, "POST")
      assert.deepStrictEqual(JSON.parse(echoed.body), { id: 7 })
    }).pipe(Effect.scoped))

  it.live("a body that does not match the Schema fails with DecodeError carrying the issue", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: { maxAttempts: 3 } })
      const error = (yield* failsWith(client.getJson(server.urlFor("/health"), Wrong), "DecodeError")) as DecodeError
      assert.strictEqual(error.status, 200)
      assert.isFalse(error.retryable)
      assert.include(error.issue, "status")
      assert.include(error.message, error.issue)
      // Not retried: the answer will not change.
      assert.strictEqual((yield* server.requestsTo("/health")).length, 1)
    }).pipe(Effect.scoped))

  it.live("a body that is not JSON fails with DecodeError", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const error = (yield* failsWith(
        client.getJson(server.urlFor("/files/plain.bin?size=64"), Health),
        "DecodeError"
      )) as DecodeError
      assert.include(error.issue, "not JSON")
      const viaJson = yield* failsWith(
        Effect.flatMap(client.get(server.urlFor("/files/plain.bin?size=64")), (r) => r.json),
        "DecodeError"
      )
      assert.include((viaJson as DecodeError).issue, "not JSON")
    }).pipe(Effect.scoped))

  it.live("a response body is read once", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      const response = yield* client.get(server.urlFor("/health"))
      assert.strictEqual(yield* response.text, `{"status":"ok"}`)
      const second = yield* Effect.exit(response.text)
      assert.strictEqual(second._tag, "Failure")
    }).pipe(Effect.scoped))
})

describe("body limits (RELIABILITY 13)", () => {
  it.live("maxBodyBytes: a larger body fails with ResponseTooLargeError, with or without Content-Length", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, maxBodyBytes: 4096 })
      for (const query of ["size=5000", "size=5000&chunked=1"]) {
        const response = yield* client.get(server.urlFor(`/files/big.bin?${query}`))
        const error = (yield* failsWith(response.bytes, "ResponseTooLargeError")) as ResponseTooLargeError
        assert.strictEqual(error.maxBytes, 4096)
        assert.strictEqual(error.status, 200)
        assert.isFalse(error.retryable)
        yield* failsWith(
          Effect.flatMap(client.get(server.urlFor(`/files/big.bin?${query}`)), (r) => r.text),
          "ResponseTooLargeError"
        )
        yield* failsWith(
          Effect.flatMap(client.get(server.urlFor(`/files/big.bin?${query}`)), (r) => r.json),
          "ResponseTooLargeError"
        )
        yield* failsWith(
          client.getJson(server.urlFor(`/files/big.bin?${query}`), Schema.Unknown),
          "ResponseTooLargeError"
        )
        // At the limit exactly: read whole.
        const exact = yield* client.get(server.urlFor(`/files/exact.bin?${query.replace("5000", "4096")}`))
        assert.strictEqual((yield* exact.bytes).byteLength, 4096)
      }
    }).pipe(Effect.scoped))

  it.live("a huge body stops at the limit promptly, declared or chunked", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry, maxBodyBytes: 64 * 1024 })
      for (const query of ["size=1073741824", "size=1073741824&chunked=1"]) {
        const started = Date.now()
        yield* failsWith(
          Effect.flatMap(client.get(server.urlFor(`/files/huge.bin?${query}`)), (r) => r.bytes),
          "ResponseTooLargeError"
        )
        assert.isBelow(Date.now() - started, 5_000, query)
      }
      // The client stays usable.
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))

  it.live("a gzip bomb is not decompressed: the body arrives as sent (compressed) and the limit applies to it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      // 1 GiB of zeros in about 1 MB of gzip. The client asks for no encoding and decodes none, so buffered
      // reads see the compressed bytes, bounded by maxBodyBytes; nothing inflates into memory.
      const bomb = server.urlFor("/files/bomb.bin?bomb=1073741824")
      const roomy = yield* ResilientClient.make({ retry: noRetry, maxBodyBytes: 2 * 1024 * 1024 })
      const rss = process.memoryUsage().rss
      const response = yield* roomy.get(bomb)
      assert.strictEqual(response.headers["content-encoding"], "gzip")
      const bytes = yield* response.bytes
      assert.strictEqual(bytes.byteLength, Number(response.headers["content-length"]))
      assert.isBelow(bytes.byteLength, 2 * 1024 * 1024)
      assert.deepStrictEqual([bytes[0], bytes[1]], [0x1f, 0x8b])
      assert.isBelow(process.memoryUsage().rss - rss, 256 * 1024 * 1024)
      const [request] = yield* server.requestsTo("/files/bomb.bin")
      assert.isUndefined(request!.headers["accept-encoding"])

      const tight = yield* ResilientClient.make({ retry: noRetry, maxBodyBytes: 512 * 1024 })
      yield* failsWith(Effect.flatMap(tight.get(bomb), (r) => r.bytes), "ResponseTooLargeError")
    }).pipe(Effect.scoped))
})

/** A client with a bulkhead of one slot, per origin or shared. */
const oneSlot = (perHost: boolean) =>
  ResilientClient.make({ retry: noRetry, bulkhead: { maxConcurrency: 1, acquireTimeout: 200, perHost } })

describe("bulkhead (RELIABILITY 13, 16)", () => {
  it.live("maxConcurrency 2: a third concurrent call fails with BulkheadFullError after acquireTimeout, never sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({
        retry: noRetry,
        bulkhead: { maxConcurrency: 2, acquireTimeout: 200 }
      })
      const slow = yield* Effect.forkChild(
        Effect.all([client.get(server.urlFor("/delay/1500")), client.get(server.urlFor("/delay/1500"))], {
          concurrency: "unbounded"
        })
      )
      while ((yield* server.requestsTo("/delay/1500")).length < 2) yield* Effect.sleep(10)
      const started = Date.now()
      const error =
        (yield* failsWith(client.get(server.urlFor("/delay/1500")), "BulkheadFullError")) as BulkheadFullError
      const waited = Date.now() - started
      assert.isAtLeast(waited, 180)
      assert.isBelow(waited, 1_000)
      assert.strictEqual(error.maxConcurrency, 2)
      assert.isAtLeast(error.waitedMillis, 180)
      assert.isTrue(error.retryable)
      assert.strictEqual((yield* server.requestsTo("/delay/1500")).length, 2)
      const done = yield* Fiber.join(slow)
      assert.deepStrictEqual(done.map((response) => response.status), [200, 200])
      // Free again.
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))

  it.live("a waiting call takes a slot as soon as one is released", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({
        retry: noRetry,
        bulkhead: { maxConcurrency: 1, acquireTimeout: 3_000 }
      })
      const both = yield* Effect.all(
        [client.get(server.urlFor("/delay/300")), client.get(server.urlFor("/delay/300"))],
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(both.map((response) => response.status), [200, 200])
      const [first, second] = yield* server.requestsTo("/delay/300")
      // One at a time: the second arrived after the first was answered.
      assert.isAtLeast(second!.arrivedAt - first!.arrivedAt, 250)
    }).pipe(Effect.scoped))

  it.live("an interrupted call releases its slot", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({
        retry: noRetry,
        bulkhead: { maxConcurrency: 1, acquireTimeout: 100 }
      })
      const hanging = yield* Effect.forkChild(client.get(server.urlFor("/delay/10000")))
      while ((yield* server.requestsTo("/delay/10000")).length === 0) yield* Effect.sleep(10)
      yield* failsWith(client.get(server.urlFor("/health")), "BulkheadFullError")
      yield* Fiber.interrupt(hanging)
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }).pipe(Effect.scoped))

  it.live("perHost: each origin has its own bulkhead", () =>
    Effect.gen(function*() {
      const first = yield* TestServer.make()
      const second = yield* TestServer.make()
      const perHost = yield* oneSlot(true)
      const busy = yield* Effect.forkChild(perHost.get(first.urlFor("/delay/800")))
      while ((yield* first.requestsTo("/delay/800")).length === 0) yield* Effect.sleep(10)
      // The other origin is not affected; the same origin is full.
      assert.strictEqual((yield* perHost.get(second.urlFor("/health"))).status, 200)
      yield* failsWith(perHost.get(first.urlFor("/health")), "BulkheadFullError")
      yield* Fiber.join(busy)

      // Without perHost, one bulkhead for the whole client.
      const shared = yield* oneSlot(false)
      const held = yield* Effect.forkChild(shared.get(first.urlFor("/delay/800")))
      while ((yield* first.requestsTo("/delay/800")).length < 2) yield* Effect.sleep(10)
      yield* failsWith(shared.get(second.urlFor("/health")), "BulkheadFullError")
      yield* Fiber.join(held)
      assert.strictEqual((yield* second.requestsTo("/health")).length, 1)
      assert.strictEqual((yield* first.requestsTo("/health")).length, 0)
    }).pipe(Effect.scoped))

  it.live("a full bulkhead says when a slot frees (retryAfterMillis), within 400 ms of the truth, and a retry then gets it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({
        retry: noRetry,
        bulkhead: { maxConcurrency: 1, acquireTimeout: 100 }
      })
      const held = (count: number) =>
        Effect.gen(function*() {
          while ((yield* server.requestsTo("/delay/600")).length < count) yield* Effect.sleep(10)
        })
      // Before any call has ended the bulkhead knows nothing: no retryAfterMillis.
      const first = yield* Effect.forkChild(client.get(server.urlFor("/delay/600")))
      yield* held(1)
      const blind = (yield* failsWith(client.get(server.urlFor("/health")), "BulkheadFullError")) as BulkheadFullError
      assert.isUndefined(blind.retryAfterMillis)
      assert.notInclude(blind.message, "retry after")
      yield* Fiber.join(first)

      // A slot is held about 600 ms; the next holder is refused a waiter 200 ms in, after its 100 ms wait.
      let freedAt = 0
      const second = yield* Effect.forkChild(
        client.get(server.urlFor("/delay/600")).pipe(Effect.tap(() => Effect.sync(() => (freedAt = Date.now()))))
      )
      yield* held(2)
      yield* Effect.sleep(200)
      const refused = (yield* failsWith(client.get(server.urlFor("/health")), "BulkheadFullError")) as BulkheadFullError
      const refusedAt = Date.now()
      const retryAfter = refused.retryAfterMillis
      assert.isDefined(retryAfter)
      assert.include(refused.message, `, retry after ${retryAfter} ms`)
      // Waiting as told (and a margin for a busy machine), the retry gets the slot.
      yield* Effect.sleep(retryAfter! + 200)
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
      yield* Fiber.join(second)
      assert.isBelow(
        Math.abs(retryAfter! - (freedAt - refusedAt)),
        400,
        `told ${retryAfter} ms, freed after ${freedAt - refusedAt} ms`
      )
      // Refused calls were never sent.
      assert.lengthOf(yield* server.requestsTo("/health"), 1)
    }).pipe(Effect.scoped))

  it.effect("retryAfterMillis is the recent hold less how long the oldest call in flight has run, at least 1 ms", () =>
    Effect.gen(function*() {
      const bulkhead = Bulkhead.make(2, 50, false)
      const context = { method: "GET", url: "http://api.test/", requestId: "r" }
      const hold = (millis: number) => bulkhead.run("k", context, Effect.sleep(millis))
      // Two calls held 1,000 ms each: the running average is 1,000.
      const held = yield* Effect.forkChild(Effect.all([hold(1_000), hold(1_000)], { concurrency: "unbounded" }))
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(held)
      // Two long calls, 300 and 500 ms in when a third is refused after its 50 ms wait.
      const older = yield* Effect.forkChild(hold(5_000))
      yield* TestClock.adjust(200)
      const newer = yield* Effect.forkChild(hold(5_000))
      yield* TestClock.adjust(250)
      const refused = yield* Effect.forkChild(Effect.flip(hold(1)))
      yield* TestClock.adjust(50)
      const error = yield* Fiber.join(refused)
      assert.strictEqual(error._tag, "BulkheadFullError")
      assert.strictEqual((error as BulkheadFullError).retryAfterMillis, 1_000 - 500)
      // Calls running longer than slots are usually held: 1 ms, never less.
      yield* TestClock.adjust(600)
      const late = yield* Effect.forkChild(Effect.flip(hold(1)))
      yield* TestClock.adjust(50)
      assert.strictEqual(((yield* Fiber.join(late)) as BulkheadFullError).retryAfterMillis, 1)
      yield* TestClock.adjust(5_000)
      yield* Fiber.join(older)
      yield* Fiber.join(newer)
    }))

  it.effect("perHost keeps a busy origin's limit when many other origins come and go", () =>
    Effect.gen(function*() {
      const bulkhead = Bulkhead.make(1, 50, true)
      const context = { method: "GET", url: "http://busy.test/", requestId: "r" }
      const release = yield* Deferred.make<void>()
      const busy = yield* Effect.forkChild(bulkhead.run("http://busy.test", context, Deferred.await(release)))
      yield* Effect.yieldNow
      // More distinct origins than the bulkhead keeps.
      for (let i = 0; i < 10_050; i++) yield* bulkhead.run(`http://host-${i}.test`, context, Effect.void)
      const again = yield* Effect.forkChild(
        Effect.flip(bulkhead.run("http://busy.test", context, Effect.succeed("ran")))
      )
      yield* TestClock.adjust(100)
      const error = yield* Fiber.join(again)
      assert.strictEqual(error._tag, "BulkheadFullError", "the busy origin got a second slot")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(busy)
    }))
})

describe("HTTP/2 and TLS (RELIABILITY 11)", () => {
  it.live("HTTP/2 is negotiated by ALPN with tls.ca; http2: false gives HTTP/1.1", () =>
    Effect.gen(function*() {
      const certificate = yield* TlsTest.selfSigned()
      const server = yield* TestServer.make({ tls: certificate })
      const h2 = yield* ResilientClient.make({ retry: noRetry, tls: { ca: certificate.cert } })
      const echo = yield* echoOf(yield* h2.post(server.urlFor("/echo"), { json: { over: "h2" } }))
      assert.deepStrictEqual(JSON.parse(echo.body), { over: "h2" })
      assert.strictEqual((yield* h2.get(server.urlFor("/health"))).status, 200)
      assert.deepStrictEqual((yield* server.requests).map((request) => request.httpVersion), ["2.0", "2.0"])

      yield* server.reset
      const h1 = yield* ResilientClient.make({ retry: noRetry, tls: { ca: certificate.cert }, http2: false })
      assert.strictEqual((yield* h1.get(server.urlFor("/health"))).status, 200)
      assert.deepStrictEqual((yield* server.requests).map((request) => request.httpVersion), ["1.1"])
    }).pipe(Effect.scoped), 60_000)

  it.live(
    "an untrusted certificate fails with a ConnectionError that is not retried; dangerouslyDisableVerification reaches it",
    () =>
      Effect.gen(function*() {
        const certificate = yield* TlsTest.selfSigned()
        const other = yield* TlsTest.selfSigned()
        const server = yield* TestServer.make({ tls: certificate })

        const verifying = yield* ResilientClient.make({ retry: { maxAttempts: 3 } })
        const error = (yield* failsWith(verifying.get(server.urlFor("/health")), "ConnectionError")) as ConnectionError
        assert.isFalse(error.retryable)
        assert.isFalse(error.sent)
        // Trusting another certificate does not help.
        const wrongCa = yield* ResilientClient.make({ retry: noRetry, tls: { ca: other.cert } })
        yield* failsWith(wrongCa.get(server.urlFor("/health")), "ConnectionError")
        assert.deepStrictEqual(yield* server.requests, [])

        const reckless = yield* ResilientClient.make({ retry: noRetry, tls: { dangerouslyDisableVerification: true } })
        assert.strictEqual((yield* reckless.get(server.urlFor("/health"))).status, 200)
        assert.strictEqual((yield* server.requests).length, 1)
        // The switch is per client: the verifying one still refuses.
        yield* failsWith(verifying.get(server.urlFor("/health")), "ConnectionError")
        assert.strictEqual((yield* server.requests).length, 1)
      }).pipe(Effect.scoped),
    60_000
  )
})

/** Provides a `ConfigProvider` over the given environment variables. */
const fromEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("configuration", () => {
  const getClient = Effect.gen(function*() {
    return yield* ResilientClient.ResilientClient
  })
  it.effect("with no HTTPKIT_* variable at all, fromConfig gives the defaults instead of failing", () =>
    Effect.gen(function*() {
      const resolved = yield* ClientConfig.fromConfig().pipe(fromEnv({ PATH: "/usr/bin" }))
      assert.deepStrictEqual(resolved, ClientConfig.defaults)
    }))

  it.live("layerConfig reads HTTPKIT_* variables and builds a working client", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      yield* Effect.gen(function*() {
        const client = yield* ResilientClient.ResilientClient
        assert.strictEqual(client.config.baseUrl, server.url)
        assert.strictEqual(client.config.timeout.connect, 5_000)
        assert.strictEqual(client.config.timeout.total, 2_500)
        assert.strictEqual(client.config.retry.maxAttempts, 2)
        assert.strictEqual(client.config.circuitBreaker.failureThreshold, 7)
        assert.strictEqual(client.config.circuitBreaker.keyBy, "host")
        assert.isFalse(client.config.http2)
        // Everything else keeps its default.
        assert.strictEqual(client.config.timeout.headers, 30_000)
        assert.strictEqual(client.config.maxBodyBytes, 10 * 1024 * 1024)

        const echo = yield* echoOf(yield* client.get("/echo"))
        assert.strictEqual(echo.headers["user-agent"], "from-env/1")
        // maxAttempts 2: one retry of a 503.
        yield* failsWith(client.get("/status/503"), "ServiceUnavailableError")
        assert.strictEqual((yield* server.requestsTo("/status/503")).length, 2)
      }).pipe(
        Effect.provide(ResilientClient.layerConfig()),
        fromEnv({
          HTTPKIT_BASE_URL: server.url,
          HTTPKIT_TIMEOUT_CONNECT: "5 seconds",
          HTTPKIT_RETRY_MAX_ATTEMPTS: "2",
          HTTPKIT_USER_AGENT: "from-env/1",
          HTTPKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD: "7",
          HTTPKIT_CIRCUIT_BREAKER_KEY_BY: "host",
          HTTPKIT_HTTP2: "false",
          HTTPKIT_TIMEOUT_TOTAL: "2500"
        })
      )
    }).pipe(Effect.scoped))

  it.effect("an invalid variable fails layer construction with a ClientConfigError naming the variable, the value and what is expected", () =>
    Effect.gen(function*() {
      const build = (env: Record<string, string>) =>
        getClient.pipe(
          Effect.provide(ResilientClient.layerConfig()),
          fromEnv(env),
          Effect.flip
        )
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ HTTPKIT_RETRY_MAX_ATTEMPTS: "0" }, `HTTPKIT_RETRY_MAX_ATTEMPTS is "0", expected an integer of at least 1`],
        [
          { HTTPKIT_RETRY_MAX_ATTEMPTS: "two" },
          `HTTPKIT_RETRY_MAX_ATTEMPTS is "two", expected an integer of at least 1`
        ],
        [{ HTTPKIT_TIMEOUT_TOTAL: "abc" }, `HTTPKIT_TIMEOUT_TOTAL is "abc", expected ${DurationInput.accepted}`],
        [
          { HTTPKIT_BASE_URL: "ftp://user:s3cret@example.test" },
          `HTTPKIT_BASE_URL is "ftp://REDACTED@example.test/", expected an absolute http:// or https:// URL`
        ],
        [
          { HTTPKIT_CIRCUIT_BREAKER_KEY_BY: "path" },
          `HTTPKIT_CIRCUIT_BREAKER_KEY_BY is "path", expected "origin" | "host"`
        ]
      ]
      for (const [env, problem] of cases) {
        const error = yield* build(env)
        assert.strictEqual(error._tag, "ClientConfigError")
        assert.strictEqual(error.message, `invalid client configuration: ${problem}`)
      }
      // Under another prefix.
      const client = yield* getClient.pipe(
        Effect.provide(ResilientClient.layerConfig("billing")),
        fromEnv({ BILLING_RETRY_MAX_ATTEMPTS: "4", HTTPKIT_RETRY_MAX_ATTEMPTS: "0" })
      )
      assert.strictEqual(client.config.retry.maxAttempts, 4)
      const billing = yield* getClient.pipe(
        Effect.provide(ResilientClient.layerConfig("billing")),
        fromEnv({ BILLING_RETRY_MAX_ATTEMPTS: "0" }),
        Effect.flip
      )
      assert.deepStrictEqual(billing.problems, [
        { setting: "BILLING_RETRY_MAX_ATTEMPTS", received: "\"0\"", expected: "an integer of at least 1" }
      ])
    }))

  it.effect("layer fails with a ClientConfigError naming both delays when minDelay > maxDelay", () =>
    Effect.gen(function*() {
      const error = yield* getClient.pipe(
        Effect.provide(ResilientClient.layer({ retry: { minDelay: 5000, maxDelay: 10 } })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ClientConfigError")
      assert.strictEqual(
        error.message,
        "invalid client configuration: retry.minDelay is 5000, expected at most retry.maxDelay (10 ms; this is 5000 ms)"
      )
      const strings = yield* getClient.pipe(
        Effect.provide(ResilientClient.layer({ retry: { minDelay: "5 seconds", maxDelay: "10 millis" } })),
        Effect.flip
      )
      assert.include(strings.message, `retry.minDelay is "5 seconds", expected at most retry.maxDelay`)
      const zero = yield* Effect.flip(ResilientClient.make({ retry: { maxAttempts: 0 } }).pipe(Effect.scoped))
      assert.strictEqual(
        zero.message,
        "invalid client configuration: retry.maxAttempts is 0, expected an integer of at least 1"
      )
    }))

  it.live("several differently configured clients live side by side (layerAs)", () =>
    Effect.gen(function*() {
      class Alpha extends Context.Service<Alpha, ResilientClient.Service>()("test/client/Alpha") {}
      class Beta extends Context.Service<Beta, ResilientClient.Service>()("test/client/Beta") {}
      const first = yield* TestServer.make()
      const second = yield* TestServer.make()
      const program = Effect.gen(function*() {
        const alpha = yield* Alpha
        const beta = yield* Beta
        const a = yield* echoOf(yield* alpha.get("/echo"))
        const b = yield* echoOf(yield* beta.get("/echo"))
        yield* failsWith(alpha.get("/status/503"), "ServiceUnavailableError")
        yield* failsWith(beta.get("/status/503"), "ServiceUnavailableError")
        return { a, b, alpha, beta }
      })
      const { a, alpha, b, beta } = yield* program.pipe(
        Effect.provide(ResilientClient.layerAs(Alpha, { baseUrl: first.url, userAgent: "alpha", retry: noRetry })),
        Effect.provide(
          ResilientClient.layerAs(Beta, {
            baseUrl: second.url,
            userAgent: "beta",
            retry: { maxAttempts: 3, minDelay: 1, maxDelay: 5 }
          })
        )
      )
      assert.strictEqual(a.headers["user-agent"], "alpha")
      assert.strictEqual(b.headers["user-agent"], "beta")
      assert.strictEqual(alpha.config.baseUrl, first.url)
      assert.strictEqual(beta.config.baseUrl, second.url)
      assert.strictEqual((yield* first.requestsTo("/status/503")).length, 1)
      assert.strictEqual((yield* second.requestsTo("/status/503")).length, 3)
      assert.strictEqual((yield* first.requestsTo("/echo")).length, 1)
      assert.strictEqual((yield* second.requestsTo("/echo")).length, 1)
    }).pipe(Effect.scoped))
})

/** Every way an error is shown: message, String, JSON, inspect, stack. */
const shown = (error: unknown): ReadonlyArray<string> => {
  const value = error as { readonly message: string; readonly stack?: string }
  return [value.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 }), value.stack ?? ""]
}

describe("redaction (RELIABILITY 8)", () => {
  const secrets = ["pw", "abc", "s3cr3t", "hunter2"]

  const assertClean = (error: unknown, label: string) => {
    for (const text of shown(error)) {
      for (const secret of secrets) assert.notInclude(text, secret, `${label}: ${text}`)
    }
  }

  it.live("errors never show URL user-info or token-like query values", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const lines: Array<string> = []
      const logger = Logger.map(Logger.formatLogFmt, (line) => {
        lines.push(line)
      })
      const secretUrl = (path: string) =>
        server.url.replace("http://", "http://user:pw@") + path +
        (path.includes("?") ? "&" : "?") + "token=abc&access_token=s3cr3t&api_key=hunter2&q=1"
      const client = yield* ResilientClient.make({
        retry: noRetry,
        maxBodyBytes: 1024,
        circuitBreaker: { failureThreshold: 100 },
        logging: { level: "info" }
      })
      // A fixed request id: a random one could spell "abc" in hex.
      const requestId = "req-redaction"
      const errors: Record<string, Effect.Effect<unknown, { readonly _tag: string }>> = {
        NotFoundError: client.get(secretUrl("/x"), { requestId }),
        ServiceUnavailableError: client.get(secretUrl("/status/503"), { requestId }),
        ConnectionError: client.get("http://user:pw@127.0.0.1:1/x?token=abc&q=1", { requestId }),
        TimeoutError: client.get(secretUrl("/delay/2000"), { requestId, timeout: { headers: 100 } }),
        InvalidRequestError: client.get(secretUrl("/echo"), { requestId, headers: { "x-bad": "a\nb" } }),
        RedirectError: client.get(secretUrl(`/redirect-to?url=${encodeURIComponent("ftp://127.0.0.1/x")}`), {
          requestId
        }),
        DecodeError: client.getJson(secretUrl("/health"), Schema.Struct({ status: Schema.Number }), { requestId }),
        ResponseTooLargeError: Effect.flatMap(client.get(secretUrl("/files/f.bin?size=5000"), { requestId }), (r) =>
          r.bytes)
      }
      for (const [tag, effect] of Object.entries(errors)) {
        const error = yield* failsWith(Effect.provide(effect, Logger.layer([logger])), tag)
        assert.include(String(error), "REDACTED", tag)
        assertClean(error, tag)
      }
      // Invalid URLs are redacted too.
      for (const url of ["ftp://user:pw@127.0.0.1/x?token=abc", "http://user:pw@[bad/x?token=abc"]) {
        assertClean(yield* failsWith(client.get(url, { requestId }), "InvalidRequestError"), url)
      }
      // A redirect refused for its hops shows the redacted target.
      const oneHop = yield* ResilientClient.make({ retry: noRetry, redirects: { maxHops: 0 } })
      const hops = yield* failsWith(
        oneHop.get(secretUrl(`/redirect-to?url=${encodeURIComponent(secretUrl("/echo"))}`), { requestId }),
        "RedirectError"
      )
      // (The request URL carries the target in its `url` parameter, so only the reported location is checked.)
      const location = (hops as { readonly location: string }).location
      assert.include(location, "REDACTED")
      for (const secret of secrets) {
        assert.notInclude(location, secret, location)
      }
      // The log lines of every attempt are clean as well.
      assert.isAbove(lines.length, 0)
      for (const line of lines) {
        for (const secret of secrets) {
          assert.notInclude(line, secret, line)
        }
      }
    }).pipe(Effect.scoped))

  it.live("toolkit refusals (circuit open, bulkhead full) are redacted", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const secretUrl = (path: string) => server.url.replace("http://", "http://user:pw@") + path + "?token=abc&q=1"
      const client = yield* ResilientClient.make({
        retry: noRetry,
        circuitBreaker: { failureThreshold: 1, openDuration: 60_000 },
        bulkhead: { maxConcurrency: 1, acquireTimeout: 50 }
      })
      // A fixed request id: a random one could spell "abc" in hex.
      const requestId = "req-redaction"
      const busy = yield* Effect.forkChild(client.get(secretUrl("/delay/400"), { requestId }))
      while ((yield* server.requestsTo("/delay/400")).length === 0) yield* Effect.sleep(10)
      assertClean(yield* failsWith(client.get(secretUrl("/health"), { requestId }), "BulkheadFullError"), "bulkhead")
      yield* Fiber.join(busy)
      yield* failsWith(client.get(secretUrl("/status/500"), { requestId }), "ServerError")
      assertClean(yield* failsWith(client.get(secretUrl("/health"), { requestId }), "CircuitOpenError"), "circuit")
    }).pipe(Effect.scoped))
})

it.live("a user-agent given in the configured headers wins over the default user agent", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const fromHeaders = yield* ResilientClient.make({
      baseUrl: server.url,
      headers: { "User-Agent": "configured/1.0" }
    })
    const fromOption = yield* ResilientClient.make({ baseUrl: server.url, userAgent: "option/2.0" })
    const echoed = yield* Effect.all([fromHeaders.get("/echo"), fromOption.get("/echo")]).pipe(
      Effect.flatMap((responses) => Effect.all(responses.map(echoOf)))
    )
    assert.deepStrictEqual(echoed.map((echo) => echo.headers["user-agent"]), ["configured/1.0", "option/2.0"])
  }).pipe(Effect.scoped))

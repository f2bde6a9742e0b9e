import { assert, it, layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { HttpClient } from "effect/http"
import * as Net from "node:net"
import * as Ports from "../src/Ports.ts"
import * as ServerControl from "../src/ServerControl.ts"
import * as ServerSuite from "../src/ServerSuite.ts"
import * as TestServer from "../src/TestServer.ts"
import * as TracingTest from "../src/TracingTest.ts"

layer(Layer.provideMerge(ServerControl.layerTestServer, ServerSuite.layerServerAndClient()), {
  excludeTestServices: true
})("ServerControl against a real server", (it) => {
  it.effect("failNext(2, { status: 502, retryAfter: 3 }): the next 2 GET /msg answer 502 with Retry-After: 3", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const control = yield* ServerControl.ServerControl
      const http = yield* HttpClient.HttpClient
      yield* control.reset
      yield* control.failNext(2, { status: 502, retryAfter: 3 })
      const first = yield* http.get(server.urlFor("/msg"))
      const second = yield* http.get(server.urlFor("/msg"))
      const third = yield* http.get(server.urlFor("/msg"))
      assert.deepStrictEqual([first.status, second.status, third.status], [502, 502, 200])
      assert.strictEqual(first.headers["retry-after"], "3")
    }))

  it.effect("failNext with retryAfterMs sends retry-after-ms; the default status is 503", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const control = yield* ServerControl.ServerControl
      const http = yield* HttpClient.HttpClient
      yield* control.failNext(1, { retryAfterMs: 1500 })
      const failed = yield* http.get(server.urlFor("/msg"))
      assert.strictEqual(failed.status, 503)
      assert.strictEqual(failed.headers["retry-after-ms"], "1500")
      assert.strictEqual(failed.headers["retry-after"], undefined)
    }))

  it.effect("clearFailures disarms 5 armed failures: the next GET /msg answers 200", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const control = yield* ServerControl.ServerControl
      const http = yield* HttpClient.HttpClient
      yield* control.failNext(5)
      yield* control.clearFailures
      assert.strictEqual((yield* http.get(server.urlFor("/msg"))).status, 200)
    }))

  it.effect("requests and requestsTo read the log the server keeps; reset empties it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const control = yield* ServerControl.ServerControl
      const http = yield* HttpClient.HttpClient
      yield* control.reset
      yield* http.get(server.urlFor("/echo?a=1"))
      yield* http.post(server.urlFor("/echo"))
      yield* http.get(server.urlFor("/health"))
      const all = yield* control.requests
      assert.deepStrictEqual(all.map((entry) => `${entry.method} ${entry.path}`), [
        "GET /echo",
        "POST /echo",
        "GET /health"
      ])
      assert.deepStrictEqual(all, yield* server.requests)
      assert.strictEqual((yield* control.requestsTo("/echo")).length, 2)
      assert.deepStrictEqual((yield* control.requestsTo("/echo", "post")).map((entry) => entry.method), ["POST"])
      assert.strictEqual((yield* control.requestsTo("/echo", "GET"))[0]!.query, "a=1")
      yield* control.reset
      assert.deepStrictEqual(yield* control.requests, [])
    }))

  it.effect("token, rotateToken() and rotateToken(chosen) follow the server's generations; reset restores token-1", () =>
    Effect.gen(function*() {
      const control = yield* ServerControl.ServerControl
      yield* control.reset
      assert.deepStrictEqual(yield* control.token, { token: "token-1", generation: 1 })
      assert.deepStrictEqual(yield* control.rotateToken(), { token: "token-2", generation: 2 })
      assert.deepStrictEqual(yield* control.rotateToken("chosen"), { token: "chosen", generation: 3 })
      assert.deepStrictEqual(yield* control.token, { token: "chosen", generation: 3 })
      yield* control.reset
      assert.deepStrictEqual(yield* control.token, { token: "token-1", generation: 1 })
    }))

  it.effect("rateLimitStats counts what /ratelimit admitted and refused for one key: 2 allowed, 1 refused", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const control = yield* ServerControl.ServerControl
      const http = yield* HttpClient.HttpClient
      const key = `control-${crypto.randomUUID()}`
      for (let i = 0; i < 3; i++) yield* http.get(server.urlFor(`/ratelimit?limit=2&window=60000&key=${key}`))
      assert.deepStrictEqual(yield* control.rateLimitStats(key), { key, allowed: 2, refused: 1 })
    }))

  it.effect("an error status fails with ServerControlError naming the route and the status", () =>
    Effect.gen(function*() {
      const control = yield* ServerControl.ServerControl
      const error = yield* Effect.flip(control.failNext(1, { status: 99 }))
      assert.strictEqual(error._tag, "ServerControlError")
      assert.strictEqual(error.operation, "POST /fail/count/1")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.message, "POST /fail/count/1 answered 400")
    }))

  it.effect("a control request goes through its own client, not the HttpClient in context, and makes no span", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      let seen = 0
      const counting = HttpClient.make(() => Effect.sync(() => seen++).pipe(Effect.andThen(Effect.die("unused"))))
      const { spans, tracer } = TracingTest.recordingTracer()
      yield* ServerControl.make(server.url).reset.pipe(
        Effect.provideService(HttpClient.HttpClient, counting),
        Effect.withTracer(tracer)
      )
      assert.strictEqual(seen, 0)
      assert.deepStrictEqual(spans.map((span) => span.name), [])
    }))

  it.effect("options.client carries every control request; a trailing slash in the URL is dropped", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const urls: Array<string> = []
      const recording = HttpClient.mapRequest(yield* HttpClient.HttpClient, (request) => {
        urls.push(request.url)
        return request
      })
      const control = ServerControl.make(`${server.url}/`, { client: recording })
      assert.strictEqual(control.url, server.url)
      yield* control.reset
      yield* control.failNext(1, { status: 500, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT" })
      yield* control.clearFailures
      assert.deepStrictEqual(urls, [
        `${server.url}/__reset`,
        `${server.url}/fail/count/1`,
        `${server.url}/fail/reset`
      ])
      const armed = new URLSearchParams((yield* server.requestsTo("/fail/count/1"))[0]!.query)
      assert.deepStrictEqual([...armed], [["status", "500"], ["retry_after", "Wed, 21 Oct 2015 07:28:00 GMT"]])
    }))

  it.effect("an unreachable server fails with ServerControlError without a status", () =>
    Effect.gen(function*() {
      const port = yield* Ports.unused
      const error = yield* Effect.flip(ServerControl.make(`http://127.0.0.1:${port}`).requests)
      assert.strictEqual(error._tag, "ServerControlError")
      assert.strictEqual(error.operation, "GET /__requests")
      assert.strictEqual(error.status, undefined)
      assert.match(error.message, /^GET \/__requests failed: /)
    }))
})

it.live(
  "a server that accepts and never answers fails the call with ServerControlError naming the URL and the timeout",
  () =>
    Effect.gen(function*() {
      const sockets = new Set<Net.Socket>()
      const hole = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Net.Server>((resolve) => {
            const server = Net.createServer((socket) => {
              sockets.add(socket)
              socket.on("error", () => {})
            })
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) =>
          Effect.promise(() =>
            new Promise<void>((resolve) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => resolve())
            })
          )
      )
      const { port } = hole.address() as Net.AddressInfo
      assert.isTrue(Duration.equals(ServerControl.defaultTimeout, Duration.seconds(10)))
      const url = `http://127.0.0.1:${port}`
      const started = Date.now()
      const error = yield* Effect.flip(ServerControl.make(url, { timeout: "300 millis" }).requests)
      const elapsed = Date.now() - started
      assert.strictEqual(error._tag, "ServerControlError")
      assert.strictEqual(error.operation, "GET /__requests")
      assert.strictEqual(error.status, undefined)
      assert.strictEqual(error.url, `http://127.0.0.1:${port}/__requests`)
      assert.match(
        error.message,
        /^GET \/__requests failed: no answer from http:\/\/127\.0\.0\.1:\d+\/__requests within /
      )
      assert.isAtLeast(elapsed, 250)
      assert.isBelow(elapsed, 8_000)
    }).pipe(Effect.scoped),
  20_000
)

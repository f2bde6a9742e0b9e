import { assert, it as plain } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import * as Net from "node:net"
import { maxEchoBody } from "../src/internal/routes/basic.ts"
import { RecordedRequests } from "../src/RecordedRequest.ts"
import * as ServerSuite from "../src/ServerSuite.ts"
import * as TestServer from "../src/TestServer.ts"

const call = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const json = (response: Response) => Effect.promise(() => response.json() as Promise<any>)

const requestsTo = (path: string) => TestServer.TestServer.use((server) => server.requestsTo(path))

/**
 * POSTs a chunked body of up to `total` bytes over a raw socket, 1 MiB a chunk as fast as the server reads, and
 * stops at the status line: the status, and how many body bytes were handed to the socket before it came.
 */
const postChunked = (port: number, path: string, total: number) =>
  Effect.callback<{ readonly status: number; readonly sentBeforeAnswer: number }>((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    const chunk = Buffer.alloc(1024 * 1024, 97)
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])
    let sent = 0
    let received = ""
    let done = false
    const finish = (status: number) => {
      if (done) return
      done = true
      socket.destroy()
      resume(Effect.succeed({ status, sentBeforeAnswer: sent }))
    }
    socket.on("data", (data: Buffer) => {
      received += data.toString("latin1")
      const line = /^HTTP\/1\.1 (\d{3})/.exec(received)
      if (line !== null) finish(Number(line[1]))
    })
    socket.on("error", () => {})
    socket.on("close", () => finish(0))
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`)
    const pump = (): void => {
      while (!socket.destroyed && sent < total) {
        sent += chunk.length
        if (!socket.write(frame)) {
          socket.once("drain", pump)
          return
        }
      }
      if (!socket.destroyed) socket.write("0\r\n\r\n")
    }
    pump()
    return Effect.sync(() => socket.destroy())
  })

ServerSuite.describe("basic endpoints", (it) => {
  it.effect("health, and the effect HttpClient provided beside the server", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const http = yield* HttpClient.HttpClient
      const response = yield* http.get(server.urlFor("/health"))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(yield* response.json, { status: "ok" })
    }))

  it.effect("/msg gives a fresh message_id per request and the same one for a repeated key", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const a = yield* json(yield* call(server.urlFor("/msg")))
      const b = yield* json(yield* call(server.urlFor("/msg")))
      assert.notStrictEqual(a.message_id, b.message_id)

      const keyed = { method: "POST", headers: { "idempotency-key": "key-1" }, body: "{\"n\":1}" }
      const first = yield* json(yield* call(server.urlFor("/msg"), keyed))
      const again = yield* json(yield* call(server.urlFor("/msg"), keyed))
      assert.strictEqual(first.message_id, again.message_id)
      assert.strictEqual(first.deduplicated, false)
      assert.strictEqual(again.deduplicated, true)
      assert.deepStrictEqual(first.body, { n: 1 })

      const byRequestId = { headers: { "x-request-id": "req-7" } }
      const c = yield* json(yield* call(server.urlFor("/msg"), byRequestId))
      const d = yield* json(yield* call(server.urlFor("/msg"), byRequestId))
      assert.strictEqual(c.message_id, d.message_id)

      const put = yield* call(server.urlFor("/msg"), { method: "PUT" })
      assert.strictEqual(put.status, 405)
    }))

  it.effect("/msg?delay waits before answering", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const started = Date.now()
      const response = yield* call(server.urlFor("/msg?delay=200"))
      assert.strictEqual(response.status, 200)
      assert.isAtLeast(Date.now() - started, 190)
      assert.strictEqual((yield* call(server.urlFor("/msg?delay=abc"))).status, 400)
    }))

  it.effect("POST /fail/count/n fails the next n requests to /msg with the chosen status, then recovers", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const armed = yield* call(server.urlFor("/fail/count/2?status=502&retry_after=3"), { method: "POST" })
      assert.deepStrictEqual(yield* json(armed), { failing: 2, status: 502 })
      const first = yield* call(server.urlFor("/msg"))
      const second = yield* call(server.urlFor("/msg"))
      const third = yield* call(server.urlFor("/msg"))
      assert.deepStrictEqual([first.status, second.status, third.status], [502, 502, 200])
      assert.strictEqual(first.headers.get("retry-after"), "3")

      yield* call(server.urlFor("/fail/count/5"), { method: "POST" })
      assert.strictEqual((yield* call(server.urlFor("/msg"))).status, 503)
      yield* call(server.urlFor("/fail/reset"), { method: "POST" })
      assert.strictEqual((yield* call(server.urlFor("/msg"))).status, 200)

      assert.strictEqual((yield* call(server.urlFor("/fail/count/x"), { method: "POST" })).status, 400)
      assert.strictEqual((yield* call(server.urlFor("/fail/count/1?status=99"), { method: "POST" })).status, 400)
      assert.strictEqual((yield* requestsTo("/msg")).length, 5)
    }))

  it.effect("/status/:code answers that status with Retry-After as given, seconds or HTTP-date", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const seconds = yield* call(server.urlFor("/status/429?retry_after=7"))
      assert.strictEqual(seconds.status, 429)
      assert.strictEqual(seconds.headers.get("retry-after"), "7")
      const date = "Wed, 21 Oct 2015 07:28:00 GMT"
      const dated = yield* call(server.urlFor(`/status/503?retry_after=${encodeURIComponent(date)}`), {
        method: "POST"
      })
      assert.strictEqual(dated.status, 503)
      assert.strictEqual(dated.headers.get("retry-after"), date)
      assert.strictEqual((yield* call(server.urlFor("/status/204"))).status, 204)
      assert.strictEqual((yield* call(server.urlFor("/status/500"))).status, 500)
      assert.strictEqual((yield* call(server.urlFor("/status/100"))).status, 400)
      assert.strictEqual((yield* call(server.urlFor("/status/abc"))).status, 400)
    }))

  it.effect("/delay/:ms answers after the delay and refuses out-of-range values", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const started = Date.now()
      const response = yield* call(server.urlFor("/delay/150"))
      assert.deepStrictEqual(yield* json(response), { delayed_ms: 150 })
      assert.isAtLeast(Date.now() - started, 140)
      assert.strictEqual((yield* call(server.urlFor("/delay/999999999"))).status, 400)
    }))

  it.effect("/echo echoes method, path, query, headers and body", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const http = yield* HttpClient.HttpClient
      const response = yield* http.execute(
        HttpClientRequest.patch(server.urlFor("/echo?a=1&b=two")).pipe(
          HttpClientRequest.setHeader("x-custom", "yes"),
          HttpClientRequest.bodyText("hello body")
        )
      )
      const echoed = (yield* response.json) as any
      assert.strictEqual(echoed.method, "PATCH")
      assert.strictEqual(echoed.path, "/echo")
      assert.deepStrictEqual(echoed.query, { a: "1", b: "two" })
      assert.strictEqual(echoed.headers["x-custom"], "yes")
      assert.strictEqual(echoed.body, "hello body")
    }))

  // 64 MiB sent as fast as the server takes it: a server that buffered the whole body would answer only after all 64.
  it.effect(
    "a chunked body over 10 MiB to /echo or /msg gets 413 once past the limit: the rest is never read",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.TestServer
        const total = 64 * 1024 * 1024
        for (const path of ["/echo", "/msg"]) {
          const { sentBeforeAnswer, status } = yield* postChunked(server.port, path, total)
          assert.strictEqual(status, 413, path)
          // The limit, Effect's 256 KiB drain and both sockets' kernel buffers, with room to spare.
          assert.isAtLeast(sentBeforeAnswer, maxEchoBody, path)
          assert.isBelow(sentBeforeAnswer, 40 * 1024 * 1024, path)
        }
        const small = yield* call(server.urlFor("/echo"), { method: "POST", body: "x".repeat(1024 * 1024) })
        assert.strictEqual((yield* json(small)).body.length, 1024 * 1024)
      }),
    60_000
  )

  it.effect("retry_after and retry_after_ms a header cannot carry answer 400 naming them; /fail/count stays disarmed", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      const bad = ["%0D%0AX-Injected%3A%201", "1%0A", "%00", "%C4%80", "%7F", "1".repeat(1025)]
      for (const name of ["retry_after", "retry_after_ms"]) {
        for (const value of bad) {
          for (const [path, method] of [["/status/503", "GET"], ["/fail/count/2", "POST"]] as const) {
            const response = yield* call(server.urlFor(`${path}?${name}=${value}`), { method })
            const body = yield* json(response)
            assert.strictEqual(response.status, 400, `${path} ${name}=${value}`)
            assert.strictEqual(body.error, "bad_request")
            assert.include(body.message, name)
          }
        }
      }
      assert.strictEqual((yield* call(server.urlFor("/msg"))).status, 200)
      // Latin-1 and odd but sendable values still go out verbatim.
      const latin = yield* call(server.urlFor("/status/503?retry_after=%C3%A9t%C3%A9&retry_after_ms=-3%09x"))
      assert.strictEqual(latin.status, 503)
      assert.isNotNull(latin.headers.get("retry-after"))
      assert.strictEqual(latin.headers.get("retry-after-ms"), "-3\tx")
    }))

  it.effect("/fail/count/:n takes n from 0 to 1,000,000; beyond, 400", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.reset
      for (const n of ["99999999999999999999999", "1000001", "1e3", "-1"]) {
        const response = yield* call(server.urlFor(`/fail/count/${n}`), { method: "POST" })
        assert.strictEqual(response.status, 400, n)
        assert.include((yield* json(response)).message, "1000000")
      }
      assert.deepStrictEqual(yield* json(yield* call(server.urlFor("/fail/count/1000000"), { method: "POST" })), {
        failing: 1_000_000,
        status: 503
      })
      yield* server.reset
    }))

  it.effect("/__requests lists what crossed the wire; /__reset clears the log and every switch", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* call(server.urlFor("/__reset"), { method: "POST" })
      const before = Date.now()
      yield* call(server.urlFor("/echo?x=1"), { method: "DELETE", headers: { "x-trace": "abc" } })
      const listed = Schema.decodeUnknownSync(RecordedRequests)(yield* json(yield* call(server.urlFor("/__requests"))))
      assert.strictEqual(listed.length, 1)
      const [entry] = listed
      assert.strictEqual(entry!.method, "DELETE")
      assert.strictEqual(entry!.path, "/echo")
      assert.strictEqual(entry!.query, "x=1")
      assert.strictEqual(entry!.headers["x-trace"], "abc")
      assert.strictEqual(entry!.listener, "http")
      assert.isAtLeast(entry!.arrivedAt, before - 1)

      yield* call(server.urlFor("/fail/count/3"), { method: "POST" })
      yield* call(server.urlFor("/__reset"), { method: "POST" })
      assert.strictEqual((yield* call(server.urlFor("/msg"))).status, 200)
      const after = yield* server.requests
      assert.deepStrictEqual(after.map((r) => r.path), ["/msg"])
    }))
})

plain.effect("two servers are two independent origins", () =>
  Effect.gen(function*() {
    const a = yield* TestServer.make()
    const b = yield* TestServer.make()
    assert.notStrictEqual(a.url, b.url)
    yield* call(a.urlFor("/fail/count/1"), { method: "POST" })
    assert.strictEqual((yield* call(b.urlFor("/msg"))).status, 200)
    assert.strictEqual((yield* call(a.urlFor("/msg"))).status, 503)
    assert.deepStrictEqual((yield* b.requests).map((r) => r.path), ["/msg"])
  }).pipe(Effect.scoped))

plain.effect("a taken port fails with ServeError", () =>
  Effect.gen(function*() {
    const a = yield* TestServer.make()
    const error = yield* Effect.flip(TestServer.make({ port: a.port }))
    assert.strictEqual(error._tag, "ServeError")
  }).pipe(Effect.scoped))

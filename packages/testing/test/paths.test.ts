/**
 * The request log, `/echo` and the 404 report the path as it crossed the
 * wire (`//x`, `/./x`, `/a/../b` kept), sent over raw sockets so that no
 * client normalises it first. Routing collapses `//` and does not resolve
 * dot-segments.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import * as TestServer from "../src/TestServer.ts"

/** Sends `GET <target>` as written and reads the answer to the end. */
const rawGet = (port: number, target: string, headers = "") =>
  Effect.callback<{ readonly status: number; readonly body: string }>((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    let received = ""
    socket.on("data", (data: Buffer) => (received += data.toString("utf8")))
    socket.on("error", () => {})
    socket.on("close", () => {
      const end = received.indexOf("\r\n\r\n")
      resume(Effect.succeed({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0),
        body: end === -1 ? "" : received.slice(end + 4)
      }))
    })
    socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`)
    return Effect.sync(() => socket.destroy())
  })

it.live("the log records //, /./ and /../ paths as sent; // is routed as /, dot-segments are not resolved", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const server = yield* TestServer.make({ log: (line) => lines.push(line) })
    const answers: Record<string, number> = {}
    for (const target of ["//health", "/./health", "/echo/../health", "//evil.com/echo?x=1", "/health"]) {
      answers[target] = (yield* rawGet(server.port, target)).status
    }
    assert.deepStrictEqual(answers, {
      "//health": 200,
      "/./health": 404,
      "/echo/../health": 404,
      "//evil.com/echo?x=1": 404,
      "/health": 200
    })
    assert.deepStrictEqual(
      (yield* server.requests).map((request) => [request.path, request.query]),
      [["//health", ""], ["/./health", ""], ["/echo/../health", ""], ["//evil.com/echo", "x=1"], ["/health", ""]]
    )
    assert.deepStrictEqual((yield* server.requestsTo("//health")).length, 1)
    // A line is written once Node has closed its response.
    const deadline = Date.now() + 10_000
    while (lines.length < 5 && Date.now() < deadline) yield* Effect.sleep("10 millis")
    assert.include(lines.join("\n"), "GET //health -> 200")
    assert.include(lines.join("\n"), "GET //evil.com/echo?x=1 -> 404")
  }).pipe(Effect.scoped))

it.effect("/echo reports the path as sent and still parses its query; the 404 names the path as sent", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const doubled = yield* rawGet(server.port, "//echo?a=1&b=%20two")
    assert.strictEqual(doubled.status, 200)
    assert.deepStrictEqual(
      [JSON.parse(doubled.body).path, JSON.parse(doubled.body).query],
      ["//echo", { a: "1", b: " two" }]
    )
    // An absolute-form target (RFC 9112 3.2.2): its path as sent, without the scheme and authority.
    const absolute = yield* rawGet(server.port, "http://other.test:8080//echo?q=1")
    assert.deepStrictEqual([JSON.parse(absolute.body).path, JSON.parse(absolute.body).query], ["//echo", { q: "1" }])

    const missing = yield* rawGet(server.port, "//evil.com/echo", "Accept: application/json\r\n")
    assert.strictEqual(missing.status, 404)
    assert.strictEqual(JSON.parse(missing.body).message, "no route for GET //evil.com/echo")
    // `//` is the index, as `/` is, and neither is logged; nor is `//__requests`.
    assert.strictEqual((yield* rawGet(server.port, "//")).status, 200)
    assert.strictEqual((yield* rawGet(server.port, "//__requests")).status, 200)
    assert.deepStrictEqual(
      (yield* server.requests).map((request) => request.path),
      ["//echo", "//echo", "//evil.com/echo"]
    )
  }).pipe(Effect.scoped))

it.effect("the raw-socket listener logs the path as sent too, and runs a scenario only on its exact path", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const rawPort = Number(new URL(server.rawUrl).port)
    const statuses = []
    for (const target of ["//health", "/./health", "/health?x=%41"]) {
      statuses.push((yield* rawGet(rawPort, target)).status)
    }
    assert.deepStrictEqual(statuses, [404, 404, 200])
    assert.deepStrictEqual(
      (yield* server.requests).map((request) => [request.listener, request.path, request.query]),
      [["raw", "//health", ""], ["raw", "/./health", ""], ["raw", "/health", "x=%41"]]
    )
  }).pipe(Effect.scoped))

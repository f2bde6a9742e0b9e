/**
 * The request log's `connection` numbers: which TCP connection (or HTTP/2
 * session) carried each request, on both listeners and over TLS, and the
 * `keepAliveTimeout` option that decides what the server announces.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Http from "node:http"
import * as Http2 from "node:http2"
import * as Https from "node:https"
import { RecordedRequests } from "../src/RecordedRequest.ts"
import * as TestServer from "../src/TestServer.ts"
import * as TlsTest from "../src/TlsTest.ts"

interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** A GET through `agent` (an `http` or `https` agent), its body read to the end. */
const get = (url: string, agent: Http.Agent, options: Https.RequestOptions = {}) =>
  Effect.callback<Answer, Error>((resume) => {
    const request = (url.startsWith("https:") ? Https : Http).get(url, { ...options, agent }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on(
        "end",
        () => resume(Effect.succeed({ status: response.statusCode ?? 0, headers: response.headers, body }))
      )
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => request.destroy())
  })

/** A keep-alive agent with one socket, closed with the scope: its requests share one connection. */
const oneConnection = (make: () => Http.Agent = () => new Http.Agent({ keepAlive: true, maxSockets: 1 })) =>
  Effect.acquireRelease(Effect.sync(make), (agent) => Effect.sync(() => agent.destroy()))

/** GETs on one HTTP/2 session, one after the other, then closes it. */
const h2Gets = (url: string, ca: string, paths: ReadonlyArray<string>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => Http2.connect(url, { ca })),
    (session) =>
      Effect.forEach(paths, (path) =>
        Effect.callback<number, Error>((resume) => {
          const stream = session.request({ ":path": path })
          stream.on("response", (headers) => resume(Effect.succeed(Number(headers[":status"]))))
          stream.on("error", (error) => resume(Effect.fail(error)))
          stream.resume()
        })),
    (session) => Effect.sync(() => session.close())
  )

const connectionsOf = (server: TestServer.TestServer["Service"], path: string) =>
  Effect.map(server.requestsTo(path), (requests) => requests.map((request) => request.connection))

it.effect("sequential keep-alive requests share a connection number; separate connections differ", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const first = yield* oneConnection()
    const second = yield* oneConnection()
    for (const agent of [first, first, first, second]) {
      assert.strictEqual((yield* get(server.urlFor("/health"), agent)).status, 200)
    }
    const [a, b, c, d] = yield* connectionsOf(server, "/health")
    assert.isAtLeast(a!, 1)
    assert.strictEqual(b, a)
    assert.strictEqual(c, a)
    assert.notStrictEqual(d, a)

    // `/__requests` carries the number too, and `reset` does not start the numbering again.
    const listed = Schema.decodeUnknownSync(RecordedRequests)(
      JSON.parse((yield* get(server.urlFor("/__requests"), first)).body)
    )
    assert.deepStrictEqual(listed.map((request) => request.connection), [a, a, a, d])
    yield* server.reset
    const third = yield* oneConnection()
    yield* get(server.urlFor("/health"), third)
    const [after] = yield* connectionsOf(server, "/health")
    assert.notInclude([a, d], after)
  }).pipe(Effect.scoped))

it.effect("concurrent requests on separate connections get distinct numbers", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const agents = yield* Effect.forEach([1, 2, 3], () => oneConnection())
    yield* Effect.forEach(agents, (agent) => get(server.urlFor("/delay/100"), agent), { concurrency: "unbounded" })
    const numbers = yield* connectionsOf(server, "/delay/100")
    assert.strictEqual(new Set(numbers).size, 3)
  }).pipe(Effect.scoped))

it.effect("the raw listener numbers each of its connections from the same sequence", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const agent = yield* oneConnection()
    yield* get(server.urlFor("/health"), agent)
    // The raw listener closes every connection after one answer.
    yield* get(`${server.rawUrl}/health`, agent)
    yield* get(`${server.rawUrl}/health`, agent)
    const numbers = (yield* server.requests).map((request) => request.connection)
    assert.strictEqual(numbers.length, 3)
    assert.strictEqual(new Set(numbers).size, 3)
  }).pipe(Effect.scoped))

it.effect(
  "over TLS, HTTP/2 streams share their session's number and HTTP/1.1 keep-alive requests theirs",
  () =>
    Effect.gen(function*() {
      const certificate = yield* TlsTest.selfSigned()
      const server = yield* TestServer.make({ tls: certificate })
      assert.deepStrictEqual(yield* h2Gets(server.url, certificate.cert, ["/health", "/health"]), [200, 200])
      assert.deepStrictEqual(yield* h2Gets(server.url, certificate.cert, ["/health"]), [200])
      const h1 = yield* oneConnection(() =>
        new Https.Agent({ keepAlive: true, maxSockets: 1, ca: certificate.cert, ALPNProtocols: ["http/1.1"] })
      )
      yield* get(server.urlFor("/health"), h1)
      yield* get(server.urlFor("/health"), h1)

      const requests = yield* server.requests
      assert.deepStrictEqual(requests.map((request) => request.httpVersion), ["2.0", "2.0", "2.0", "1.1", "1.1"])
      const [a, b, c, d, e] = requests.map((request) => request.connection)
      assert.strictEqual(b, a)
      assert.strictEqual(e, d)
      assert.strictEqual(new Set([a, c, d]).size, 3)
    }).pipe(Effect.scoped),
  30_000
)

it.effect("keepAliveTimeout: announced as Keep-Alive: timeout=<seconds>; 0 announces nothing and keeps the connection", () =>
  Effect.gen(function*() {
    const announcing = yield* TestServer.make()
    const agent = yield* oneConnection()
    assert.strictEqual((yield* get(announcing.urlFor("/health"), agent)).headers["keep-alive"], "timeout=5")
    const longer = yield* TestServer.make({ keepAliveTimeout: 30_000 })
    assert.strictEqual((yield* get(longer.urlFor("/health"), agent)).headers["keep-alive"], "timeout=30")

    const silent = yield* TestServer.make({ keepAliveTimeout: 0 })
    const answer = yield* get(silent.urlFor("/health"), agent)
    assert.strictEqual(answer.headers["connection"], "keep-alive")
    assert.isUndefined(answer.headers["keep-alive"])
    yield* get(silent.urlFor("/health"), agent)
    const [a, b] = yield* connectionsOf(silent, "/health")
    assert.strictEqual(b, a)
  }).pipe(Effect.scoped))

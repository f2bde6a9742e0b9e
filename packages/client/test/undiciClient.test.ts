/**
 * The undici `HttpClient` under `ResilientClient` (`internal/undiciClient.ts`),
 * on a real undici `Agent` against the fault-injection server: every kind of
 * request body reaches the server, every reader of the response works (and a
 * second read gives the same body), failures come back as Effect's
 * `HttpClientError` with the same reasons as Effect's own undici client, and
 * an interrupted body read closes the connection.
 */
import { assert, layer } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import { Effect, Exit, Fiber, Option, Stream } from "effect"
import { Cookies, HttpClientError, HttpClientRequest, UrlParams } from "effect/http"
import * as Undici from "undici"
import * as UndiciClient from "../src/internal/undiciClient.ts"

/** A client over a fresh agent, destroyed with the test's scope. */
const makeClient = Effect.map(
  Effect.acquireRelease(Effect.sync(() => new Undici.Agent()), (agent) => Effect.promise(() => agent.destroy())),
  (agent) => ({ agent, client: UndiciClient.make(agent) })
)

/** What `/echo` answers. */
interface Echo {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
}

/** A full HTTP/1.1 answer for the raw listener's `/bytes`: the status line, `headers`, then `body`. */
const rawAnswer = (body: string, headers: ReadonlyArray<string> = []) =>
  Buffer.from(
    ["HTTP/1.1 200 OK", `Content-Length: ${Buffer.byteLength(body)}`, ...headers, "", body].join("\r\n")
  ).toString("base64url")

const reasonOf = <A>(exit: Exit.Exit<A, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error
  return error instanceof HttpClientError.HttpClientError ? error.reason._tag : `not an HttpClientError: ${error}`
}

layer(TestServer.layer(), { excludeTestServices: true })("the undici HttpClient", (it) => {
  it.effect("sends empty, byte, stream and form bodies as they are", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { client } = yield* makeClient
      const echo = (request: HttpClientRequest.HttpClientRequest) =>
        Effect.flatMap(client.execute(request), (response) => response.json) as Effect.Effect<
          unknown,
          unknown
        > as Effect.Effect<Echo, unknown>
      const url = server.urlFor("/echo")

      const empty = yield* echo(HttpClientRequest.get(url))
      assert.strictEqual(empty.method, "GET")
      assert.strictEqual(empty.body, "")

      const text = yield* echo(
        HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText("plain bytes", "text/plain"))
      )
      assert.strictEqual(text.body, "plain bytes")
      assert.strictEqual(text.headers["content-type"], "text/plain")

      const streamed = yield* echo(
        HttpClientRequest.put(url).pipe(
          HttpClientRequest.bodyStream(Stream.make("one,", "two,", "three").pipe(Stream.encodeText))
        )
      )
      assert.strictEqual(streamed.method, "PUT")
      assert.strictEqual(streamed.body, "one,two,three")

      const form = new FormData()
      form.append("field", "value")
      form.append("file", new Blob(["file content"], { type: "text/plain" }), "note.txt")
      const multipart = yield* echo(
        HttpClientRequest.post(url).pipe(
          HttpClientRequest.bodyFormData(form),
          // A content type without a boundary would make the body unreadable: undici's own replaces it.
          HttpClientRequest.setHeader("content-type", "multipart/form-data")
        )
      )
      assert.match(multipart.headers["content-type"] ?? "", /^multipart\/form-data; boundary=/)
      assert.include(multipart.body, `name="field"`)
      assert.include(multipart.body, "value")
      assert.include(multipart.body, `filename="note.txt"`)
      assert.include(multipart.body, "file content")
    }))

  it.effect("reads status, headers, cookies and the body; a second read gives the same body", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { client } = yield* makeClient
      const response = yield* client.get(server.urlFor("/cookies/set?session=abc&theme=dark#fragment"))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.url, server.urlFor("/cookies/set?session=abc&theme=dark"))
      assert.strictEqual(response.headers, response.headers, "the headers are copied once")
      assert.deepStrictEqual(Cookies.toRecord(response.cookies), { session: "abc", theme: "dark" })
      assert.isTrue(Option.isNone(response.remoteAddress))
      const text = yield* response.text
      assert.deepStrictEqual(yield* response.json, JSON.parse(text))
      assert.strictEqual(new TextDecoder().decode(yield* response.arrayBuffer), text)

      const streamed = yield* client.get(server.urlFor("/echo")).pipe(
        Effect.flatMap((response) => Stream.mkString(Stream.decodeText(response.stream)))
      )
      assert.strictEqual((JSON.parse(streamed) as Echo).path, "/echo")
      assert.strictEqual(
        (yield* client.get(server.urlFor("/health"))).toJSON() instanceof Object,
        true,
        "a response can be inspected"
      )
    }))

  it.effect("decodes url-encoded and empty bodies; a body that is not JSON is a DecodeError", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { client } = yield* makeClient
      const raw = (body: string, headers?: ReadonlyArray<string>) =>
        client.get(`${server.rawUrl}/bytes?b64=${rawAnswer(body, headers)}`)

      const params = yield* Effect.flatMap(raw("a=1&b=two"), (response) => response.urlParamsBody)
      assert.deepStrictEqual(UrlParams.toRecord(params), { a: "1", b: "two" })
      assert.isNull(yield* Effect.flatMap(raw(""), (response) => response.json))
      assert.strictEqual(reasonOf(yield* Effect.exit(Effect.flatMap(raw("{not json"), (r) => r.json))), "DecodeError")
      const form = yield* Effect.flatMap(
        raw("x=1&y=2", ["Content-Type: application/x-www-form-urlencoded"]),
        (response) => response.formData
      )
      assert.strictEqual(form.get("y"), "2")
      assert.strictEqual(reasonOf(yield* Effect.exit(Effect.flatMap(raw("x=1"), (r) => r.formData))), "DecodeError")
    }))

  it.effect("fails with Effect's reasons: a broken connection, a body cut short, and no upgrade", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { client } = yield* makeClient
      assert.strictEqual(reasonOf(yield* Effect.exit(client.get(`${server.rawUrl}/reset`))), "TransportError")
      const short = yield* client.get(`${server.rawUrl}/short-body?length=100&sent=50`)
      assert.strictEqual(reasonOf(yield* Effect.exit(short.text)), "DecodeError")
      const health = yield* client.get(server.urlFor("/health"))
      assert.strictEqual(reasonOf(yield* Effect.exit(health.upgrade)), "StatusCodeError")
    }))

  it.effect("an interrupted body read closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { agent, client } = yield* makeClient
      const response = yield* client.get(`${server.rawUrl}/headers-then-hang?length=1000&sent=10&hold=30000`)
      const reading = yield* Effect.forkChild(response.text)
      yield* Effect.sleep(50)
      yield* Fiber.interrupt(reading)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(reading)))
      const connected = () => Object.values(agent.stats).reduce((sum, stats) => sum + Number(stats.connected), 0)
      // Poll for up to 5 s: the abort closes the socket within a turn or two of the event loop.
      for (let waited = 0; connected() > 0 && waited < 5_000; waited += 20) yield* Effect.sleep(20)
      assert.strictEqual(connected(), 0, "the socket was closed")
    }))
})

/**
 * Closing a server's scope with connections open: a test server stops at
 * once, destroying every socket (a request in flight, a trickled download, a
 * slow reader, a half-sent request, an idle keep-alive), instead of waiting
 * for Effect's 20-second graceful shutdown. Also: options Node would refuse
 * fail with the typed `ServeError`.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Schedule, Scope } from "effect"
import * as Https from "node:https"
import * as Net from "node:net"
import * as TestServer from "../src/TestServer.ts"
import * as TlsTest from "../src/TlsTest.ts"

/** A raw connection that sends `text` and records when the server closed it. */
const open = (port: number, text: string, options: { readonly paused?: boolean } = {}) => {
  const socket = Net.connect(port, "127.0.0.1")
  const state = { closedAt: undefined as number | undefined, socket }
  socket.on("error", () => {})
  socket.on("close", () => (state.closedAt = performance.now()))
  if (options.paused === true) socket.pause()
  else socket.resume()
  socket.write(text)
  return state
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`

/** Waits (at most 20 s) until the server's log holds `count` requests: they are in flight. */
const recorded = (server: TestServer.TestServer["Service"], count: number) =>
  server.requests.pipe(
    Effect.repeat({ until: (requests) => requests.length >= count, schedule: Schedule.spaced("20 millis") }),
    Effect.timeout("20 seconds")
  )

// Effect's default would hold the scope open for 20 s; 5 s is a generous bound for a loaded machine.
const closeBound = 5_000

it.live(
  "closing the scope with requests in flight takes well under Effect's 20 s and ends every connection",
  () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Scope.provide(TestServer.make(), scope)
      const sockets = [
        open(server.port, get("/delay/60000")),
        open(server.port, get("/msg?delay=60000")),
        open(server.port, get("/files/trickle?size=100000&rate=10")),
        open(server.port, get("/files/huge?size=17179869184"), { paused: true }),
        open(server.port, get("/health"))
      ]
      yield* recorded(server, sockets.length)
      // Half a request: a head without its end, and a body shorter than announced.
      sockets.push(open(server.port, "GET /health HTTP/1.1\r\nHost: x\r\n"))
      sockets.push(open(server.port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"))
      yield* Effect.sleep("200 millis")

      const started = performance.now()
      yield* Scope.close(scope, Exit.void)
      const closeMillis = performance.now() - started
      assert.isBelow(closeMillis, closeBound)
      // The slow reader reads again: what the server sent, then the end of its connection.
      for (const { socket } of sockets) socket.resume()
      const allClosed = yield* Effect.sync(() => sockets.every((socket) => socket.closedAt !== undefined)).pipe(
        Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("5 seconds"),
        Effect.orElseSucceed(() => false)
      )
      for (const { socket } of sockets) socket.destroy()
      assert.isTrue(allClosed, "every client connection was ended by the server")
      assert.deepStrictEqual(
        (yield* server.requests).map((request) => request.path).slice(0, 5).toSorted(),
        ["/delay/60000", "/files/huge", "/files/trickle", "/health", "/msg"]
      )
    }),
  60_000
)

it.live("over TLS too: an HTTPS request in flight ends when the scope closes, at once", () =>
  Effect.gen(function*() {
    const tls = yield* TlsTest.selfSigned()
    const scope = yield* Scope.make()
    const server = yield* Scope.provide(TestServer.make({ tls }), scope)
    const outcome = Effect.runPromise(
      Effect.callback<string>((resume) => {
        const request = Https.get(server.urlFor("/delay/60000"), { ca: tls.cert, agent: false }, (response) => {
          response.resume()
          response.on("end", () => resume(Effect.succeed(`answered ${response.statusCode}`)))
        })
        request.on("error", (error) => resume(Effect.succeed(`error ${error.message}`)))
      })
    )
    yield* recorded(server, 1)
    const started = performance.now()
    yield* Scope.close(scope, Exit.void)
    assert.isBelow(performance.now() - started, closeBound)
    const result = yield* Effect.promise(() => outcome).pipe(Effect.timeout("5 seconds"))
    assert.match(result, /^error /)
  }), 60_000)

it.effect("options Node would refuse fail with ServeError naming them, not with a defect", () =>
  Effect.gen(function*() {
    for (
      const options of [
        { port: -1 },
        { port: 70_000 },
        { port: 1.5 },
        { port: Number.NaN },
        { keepAliveTimeout: -1 },
        { keepAliveTimeout: Number.NaN },
        { keepAliveTimeout: 1e12 },
        { tls: { key: "not a key", cert: "not a certificate" } }
      ]
    ) {
      const exit = yield* Effect.exit(Effect.scoped(TestServer.make(options)))
      assert.isTrue(Exit.isFailure(exit), JSON.stringify(options))
      const error = yield* Effect.flip(Effect.scoped(TestServer.make(options)))
      assert.strictEqual(error._tag, "ServeError", JSON.stringify(options))
      const name = Object.keys(options)[0]!
      if (name !== "tls") assert.include(String((error.cause as Error).message), name)
    }
  }))

import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Result } from "effect"
import { ServeError } from "effect/http/HttpServerError"
import * as Net from "node:net"
import * as Raw from "../src/internal/raw.ts"
import { ServerState } from "../src/internal/state.ts"
import * as TestServer from "../src/TestServer.ts"

// ---------------------------------------------------------------------------
// A tiny raw client: writes bytes, collects everything until the socket closes
// ---------------------------------------------------------------------------

interface Received {
  /** Every byte the server wrote, in order. */
  readonly bytes: Buffer
  /** Each read with its arrival time in milliseconds after connecting. */
  readonly reads: ReadonlyArray<{ readonly at: number; readonly bytes: Buffer }>
  /** The socket error code, for example `ECONNRESET`, or `undefined` for a clean close. */
  readonly error: string | undefined
  /** Milliseconds from connecting to the close. */
  readonly elapsed: number
}

interface RawClient {
  readonly socket: Net.Socket
  /** Resolves when the socket closed; rejects after the timeout (and destroys the socket). */
  readonly closed: Promise<Received>
}

const connect = (baseUrl: string, request: string | Buffer, timeoutMillis = 10_000): RawClient => {
  const url = new URL(baseUrl)
  const socket = Net.connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port) })
  const started = Date.now()
  const reads: Array<{ at: number; bytes: Buffer }> = []
  let error: string | undefined
  const closed = new Promise<Received>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        new Error(
          `no close within ${timeoutMillis} ms; got ${
            JSON.stringify(Buffer.concat(reads.map((read) => read.bytes)).toString("latin1"))
          }`
        )
      )
    }, timeoutMillis)
    socket.on("data", (bytes: Buffer) => reads.push({ at: Date.now() - started, bytes }))
    socket.on("error", (cause: NodeJS.ErrnoException) => {
      error = cause.code ?? cause.message
    })
    socket.on("close", () => {
      clearTimeout(timer)
      resolve({ bytes: Buffer.concat(reads.map((read) => read.bytes)), reads, error, elapsed: Date.now() - started })
    })
  })
  socket.write(request)
  return { socket, closed }
}

/** Sends `request` and collects the answer until the connection closes. */
const exchange = (baseUrl: string, request: string | Buffer, timeoutMillis = 10_000): Effect.Effect<Received> =>
  Effect.callback<Received>((resume) => {
    const client = connect(baseUrl, request, timeoutMillis)
    client.closed.then(
      (received) => resume(Effect.succeed(received)),
      (error) => resume(Effect.die(error))
    )
    return Effect.sync(() => client.socket.destroy())
  })

const get = (path: string, method = "GET"): string =>
  `${method} ${path} HTTP/1.1\r\nHost: raw.test\r\nUser-Agent: raw-test\r\nConnection: close\r\n\r\n`

/** Sends a GET for `path` to the raw listener and collects the answer. */
const rawGet = (baseUrl: string, path: string, timeoutMillis?: number) => exchange(baseUrl, get(path), timeoutMillis)

const text = (received: Received): string => received.bytes.toString("latin1")

/** Real-time sleep (the test clock does not drive Node timers). */
const sleep = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** Polls `check` every 20 ms until it holds; dies after `timeoutMillis`. */
const waitUntil = (check: Effect.Effect<boolean>, what: string, timeoutMillis = 5_000): Effect.Effect<void> =>
  Effect.gen(function*() {
    const started = Date.now()
    while (!(yield* check)) {
      if (Date.now() - started > timeoutMillis) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* sleep(20)
    }
  })

/** `fetch` and read the whole body; a typed failure instead of a rejection. */
const fetchAll = (url: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, { redirect: "manual" })
    return { status: response.status, body: await response.text() }
  })

const wire = (...lines: ReadonlyArray<string>): string => lines.join("\r\n")

/** Starts a bare raw listener (no HTTP server) in the current scope. */
const startRaw = (limits?: Raw.Limits) =>
  Effect.gen(function*() {
    const state = new ServerState()
    const listener = yield* Raw.start(state, "127.0.0.1", limits)
    return { state, listener }
  })

// ---------------------------------------------------------------------------
// Scenarios against the shared server
// ---------------------------------------------------------------------------

layer(TestServer.layer())("raw-socket scenarios", (it) => {
  it.effect("/health answers a well-formed 200 that fetch accepts", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/health")
      assert.strictEqual(
        text(received),
        wire(
          "HTTP/1.1 200 OK",
          "Content-Type: application/json",
          "Content-Length: 15",
          "Connection: close",
          "",
          `{"status":"ok"}`
        )
      )
      assert.strictEqual(received.error, undefined)
      const fetched = yield* fetchAll(`${server.rawUrl}/health`)
      assert.deepStrictEqual(fetched, { status: 200, body: `{"status":"ok"}` })
    }))

  it.effect("/two-content-lengths writes both headers and the longer body", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/two-content-lengths?a=3&b=5")
      assert.strictEqual(
        text(received),
        wire(
          "HTTP/1.1 200 OK",
          "Content-Type: text/plain",
          "Content-Length: 3",
          "Content-Length: 5",
          "Connection: close",
          "",
          "abcde"
        )
      )
      const defaults = yield* rawGet(server.rawUrl, "/two-content-lengths")
      assert.include(text(defaults), "Content-Length: 10\r\nContent-Length: 20\r\n")
      assert.isTrue(text(defaults).endsWith(`\r\n\r\n${"abcdefghijklmnopqrst"}`))
    }))

  it.effect("/short-body promises length and sends fewer bytes, then closes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/short-body?length=10&sent=4")
      assert.strictEqual(
        text(received),
        wire(
          "HTTP/1.1 200 OK",
          "Content-Type: application/octet-stream",
          "Content-Length: 10",
          "Connection: close",
          "",
          "abcd"
        )
      )
      assert.strictEqual(received.error, undefined)
      const defaults = yield* rawGet(server.rawUrl, "/short-body")
      assert.include(text(defaults), "Content-Length: 100\r\n")
      assert.strictEqual(defaults.bytes.length - text(defaults).indexOf("\r\n\r\n") - 4, 50)
    }))

  it.effect("fetch rejects two Content-Lengths, a short body and a chunked body without its end", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (const path of ["/two-content-lengths", "/short-body", "/chunked-no-end?hold=100"]) {
        const result = yield* Effect.result(fetchAll(`${server.rawUrl}${path}`))
        assert.isTrue(Result.isFailure(result), `fetch ${path} must fail`)
      }
    }))

  it.effect("/chunked-no-end sends chunks without the last one and closes after hold", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/chunked-no-end?chunks=2&hold=200")
      assert.strictEqual(
        text(received),
        wire(
          "HTTP/1.1 200 OK",
          "Content-Type: text/plain",
          "Transfer-Encoding: chunked",
          "Connection: close",
          "",
          "8",
          "chunk 1\n",
          "8",
          "chunk 2\n",
          ""
        )
      )
      assert.notInclude(text(received), "0\r\n\r\n")
      assert.isAtLeast(received.elapsed, 190)
    }))

  it.effect("/location-crlf puts a raw CR LF, CR, LF or NUL inside Location", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const forms = { crlf: "\r\n", cr: "\r", lf: "\n", nul: "\0" }
      for (const [form, separator] of Object.entries(forms)) {
        const received = yield* rawGet(server.rawUrl, `/location-crlf?form=${form}`)
        assert.strictEqual(
          text(received),
          wire(
            "HTTP/1.1 302 Found",
            `Location: /health${separator}Set-Cookie: injected=1`,
            "Content-Length: 0",
            "Connection: close",
            "",
            ""
          ),
          form
        )
      }
      const defaults = yield* rawGet(server.rawUrl, "/location-crlf")
      assert.include(text(defaults), "Location: /health\r\nSet-Cookie: injected=1\r\n")
      const custom = yield* rawGet(server.rawUrl, "/location-crlf?form=lf&to=https%3A%2F%2Fevil.test%2F&inject=X-A:+b")
      assert.include(text(custom), "Location: https://evil.test/\nX-A: b\r\n")
      const bad = yield* rawGet(server.rawUrl, "/location-crlf?form=tab")
      assert.isTrue(text(bad).startsWith("HTTP/1.1 400 Bad Request\r\n"))
    }))

  it.effect("/retry-after writes the value verbatim with the given status", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/retry-after?value=-3")
      assert.strictEqual(
        text(received),
        wire("HTTP/1.1 503 Service Unavailable", "Retry-After: -3", "Content-Length: 0", "Connection: close", "", "")
      )
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["120junk", "120junk"],
        ["99999999999999999999999", "99999999999999999999999"],
        ["Fri,+31+Feb+2026+25%3A61%3A00+GMT", "Fri, 31 Feb 2026 25:61:00 GMT"],
        ["%2B5", "+5"],
        ["", ""]
      ]
      for (const [encoded, written] of cases) {
        const answer = yield* rawGet(server.rawUrl, `/retry-after?status=429&value=${encoded}`)
        assert.strictEqual(
          text(answer),
          wire(
            "HTTP/1.1 429 Too Many Requests",
            `Retry-After: ${written}`,
            "Content-Length: 0",
            "Connection: close",
            "",
            ""
          )
        )
      }
      const missing = yield* rawGet(server.rawUrl, "/retry-after")
      assert.isTrue(text(missing).startsWith("HTTP/1.1 400 Bad Request\r\n"))
      assert.include(text(missing), "value (required)")
    }))

  it.effect("/header writes one arbitrary header, bytes as decoded", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/header?name=X-Evil&value=a%0D%0Ab%00c%FF+d")
      assert.deepStrictEqual(
        received.bytes,
        Buffer.concat([
          Buffer.from("HTTP/1.1 200 OK\r\nX-Evil: a\r\nb\0c", "latin1"),
          Buffer.from([0xff]),
          Buffer.from(" d\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n", "latin1")
        ])
      )
      const repeated = yield* rawGet(server.rawUrl, "/header?name=Set-Cookie&value=a%3D1&value=b%3D2&status=201")
      assert.strictEqual(
        text(repeated),
        wire(
          "HTTP/1.1 201 Created",
          "Set-Cookie: a=1",
          "Set-Cookie: b=2",
          "Content-Type: text/plain",
          "Content-Length: 3",
          "Connection: close",
          "",
          "ok\n"
        )
      )
      // A header of the server's own replaces it.
      const replaced = yield* rawGet(server.rawUrl, "/header?name=content-length&value=abc")
      assert.strictEqual(
        text(replaced),
        wire("HTTP/1.1 200 OK", "content-length: abc", "Content-Type: text/plain", "Connection: close", "", "ok\n")
      )
      const missing = yield* rawGet(server.rawUrl, "/header?value=1")
      assert.isTrue(text(missing).startsWith("HTTP/1.1 400 Bad Request\r\n"))
      const badStatus = yield* rawGet(server.rawUrl, "/header?name=X&status=700")
      assert.isTrue(text(badStatus).startsWith("HTTP/1.1 400 Bad Request\r\n"))
    }))

  it.effect("/bytes writes exactly the decoded bytes and closes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const payload = Buffer.from([0x48, 0x54, 0x00, 0xfb, 0xff, 0xbf, 0x0d, 0x0a, 0x7f])
      const b64 = payload.toString("base64")
      assert.include(b64, "+") // an unencoded `+` must stay a `+`
      assert.include(b64, "/")
      const received = yield* rawGet(server.rawUrl, `/bytes?b64=${b64}`)
      assert.deepStrictEqual(received.bytes, payload)
      assert.strictEqual(received.error, undefined)
      const encoded = yield* rawGet(server.rawUrl, `/bytes?b64=${encodeURIComponent(b64)}`)
      assert.deepStrictEqual(encoded.bytes, payload)
      const url = yield* rawGet(server.rawUrl, `/bytes?b64=${payload.toString("base64url")}`)
      assert.deepStrictEqual(url.bytes, payload)
      const empty = yield* rawGet(server.rawUrl, "/bytes")
      assert.strictEqual(empty.bytes.length, 0)
      const held = yield* rawGet(
        server.rawUrl,
        `/bytes?b64=${Buffer.from("HTTP/1.1 200 OK\r\n").toString("base64")}&hold=200`
      )
      assert.strictEqual(text(held), "HTTP/1.1 200 OK\r\n")
      assert.isAtLeast(held.elapsed, 190)
      const bad = yield* rawGet(server.rawUrl, "/bytes?b64=not*base64")
      assert.isTrue(text(bad).startsWith("HTTP/1.1 400 Bad Request\r\n"))
    }))

  it.effect("/hang writes nothing and closes after hold", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/hang?hold=200")
      assert.strictEqual(received.bytes.length, 0)
      assert.strictEqual(received.error, undefined)
      assert.isAtLeast(received.elapsed, 190)
    }))

  it.effect("/headers-then-hang sends the head and some body, then nothing until hold ends", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/headers-then-hang?hold=200&length=20&sent=5")
      assert.strictEqual(
        text(received),
        wire(
          "HTTP/1.1 200 OK",
          "Content-Type: application/octet-stream",
          "Content-Length: 20",
          "Connection: close",
          "",
          "abcde"
        )
      )
      assert.isAtLeast(received.elapsed, 190)
      const defaults = yield* rawGet(server.rawUrl, "/headers-then-hang?hold=100")
      assert.isTrue(text(defaults).endsWith("Content-Length: 100\r\nConnection: close\r\n\r\n"))
    }))

  it.effect("/close closes without a byte; /reset aborts with a TCP RST", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const closed = yield* rawGet(server.rawUrl, "/close")
      assert.strictEqual(closed.bytes.length, 0)
      assert.strictEqual(closed.error, undefined)
      const reset = yield* rawGet(server.rawUrl, "/reset")
      assert.strictEqual(reset.bytes.length, 0)
      assert.strictEqual(reset.error, "ECONNRESET")
      const fetched = yield* Effect.result(fetchAll(`${server.rawUrl}/reset`))
      assert.isTrue(Result.isFailure(fetched))
    }))

  it.effect("/slow-headers sends the status line, waits, then the rest", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/slow-headers?delay=300")
      assert.strictEqual(
        text(received),
        wire("HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 3", "Connection: close", "", "ok\n")
      )
      const first = received.reads[0]!
      assert.strictEqual(first.bytes.toString("latin1"), "HTTP/1.1 200 OK\r\n")
      const second = received.reads[1]!
      assert.isAtLeast(second.at - first.at, 250)
    }))

  it.effect("unknown paths answer 404 listing the scenarios", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* rawGet(server.rawUrl, "/nope")
      const answer = text(received)
      assert.isTrue(answer.startsWith("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"))
      const body = answer.slice(answer.indexOf("\r\n\r\n") + 4)
      assert.include(answer, `Content-Length: ${Buffer.byteLength(body)}\r\n`)
      for (
        const path of [
          "/two-content-lengths",
          "/chunked-no-end",
          "/short-body",
          "/location-crlf",
          "/retry-after",
          "/header",
          "/bytes",
          "/hang",
          "/headers-then-hang",
          "/close",
          "/reset",
          "/slow-headers"
        ]
      ) {
        assert.include(body, `\n${path}`)
      }
    }))

  it.effect("invalid parameters answer 400 naming the parameter", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (const path of ["/short-body?length=abc", "/hang?hold=120001", "/chunked-no-end?chunks=-1"]) {
        const received = yield* rawGet(server.rawUrl, path)
        assert.isTrue(text(received).startsWith("HTTP/1.1 400 Bad Request\r\n"), path)
        assert.include(text(received), "invalid parameter")
      }
    }))

  it.effect("requests are recorded with listener raw", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* rawGet(server.rawUrl, "/hang?hold=10&marker=recorded-1")
      const recorded = (yield* server.requests).filter((request) => request.query.includes("marker=recorded-1"))
      assert.strictEqual(recorded.length, 1)
      const request = recorded[0]!
      assert.strictEqual(request.listener, "raw")
      assert.strictEqual(request.method, "GET")
      assert.strictEqual(request.path, "/hang")
      assert.strictEqual(request.query, "hold=10&marker=recorded-1")
      assert.strictEqual(request.headers["host"], "raw.test")
      assert.strictEqual(request.headers["user-agent"], "raw-test")
      assert.isAtMost(request.arrivedAt, Date.now())
    }))

  it.effect("a request body is drained before answering", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = connect(
        server.rawUrl,
        "POST /health?marker=posted HTTP/1.1\r\nHost: raw.test\r\nContent-Length: 11\r\n\r\nhello"
      )
      yield* waitUntil(
        Effect.map(server.requests, (requests) => requests.some((request) => request.query === "marker=posted")),
        "the POST to be recorded"
      )
      yield* sleep(100)
      client.socket.write(" world")
      const received = yield* Effect.promise(() => client.closed)
      const answer = received.bytes.toString("latin1")
      assert.isTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"))
      assert.strictEqual(received.reads.length > 0 && received.reads[0]!.at >= 100, true)
      const recorded = (yield* server.requests).find((request) => request.query === "marker=posted")!
      assert.strictEqual(recorded.method, "POST")
      assert.strictEqual(recorded.headers["content-length"], "11")
    }))

  it.effect("an oversized request head is refused with 431 and not recorded", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const big = `GET /health?marker=too-big HTTP/1.1\r\nHost: raw.test\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`
      const received = yield* exchange(server.rawUrl, big)
      assert.isTrue(text(received).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
      // No terminator at all: refused as soon as 64 KiB arrived.
      const endless = yield* exchange(server.rawUrl, `GET /health HTTP/1.1\r\nX-Big: ${"a".repeat(80_000)}`)
      assert.isTrue(text(endless).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
      const recorded = (yield* server.requests).filter((request) => request.query.includes("too-big"))
      assert.strictEqual(recorded.length, 0)
      // Just under the limit is fine.
      const fits = `GET /health HTTP/1.1\r\nX-Big: ${"a".repeat(60_000)}\r\n\r\n`
      assert.isTrue(text(yield* exchange(server.rawUrl, fits)).startsWith("HTTP/1.1 200 OK\r\n"))
    }))

  it.effect("a malformed request line answers 400", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const received = yield* exchange(server.rawUrl, "HELLO\r\n\r\n")
      assert.isTrue(text(received).startsWith("HTTP/1.1 400 Bad Request\r\n"))
    }))

  it.effect("a client that resets mid-answer does not disturb the listener", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = connect(server.rawUrl, get("/chunked-no-end?hold=5000&marker=reset-client"))
      yield* waitUntil(
        Effect.map(server.requests, (requests) => requests.some((request) => request.query.endsWith("reset-client"))),
        "the request to be recorded"
      )
      client.socket.resetAndDestroy()
      yield* Effect.promise(() => client.closed)
      const after = yield* rawGet(server.rawUrl, "/health")
      assert.isTrue(text(after).startsWith("HTTP/1.1 200 OK\r\n"))
    }))
})

// ---------------------------------------------------------------------------
// Lifecycle: bounds, the client leaving, the scope closing
// ---------------------------------------------------------------------------

describe("raw-socket lifecycle", () => {
  it.effect("/hang and /chunked-no-end end as soon as the client closes", () =>
    Effect.gen(function*() {
      const { listener, state } = yield* startRaw()
      for (const path of ["/hang", "/chunked-no-end", "/headers-then-hang"]) {
        const client = connect(listener.url, get(path))
        yield* waitUntil(Effect.sync(() => state.requests.some((request) => request.path === path)), `${path} recorded`)
        assert.strictEqual(listener.stats().connections, 1)
        assert.isAtLeast(listener.stats().timers, 1)
        client.socket.destroy()
        yield* waitUntil(
          Effect.sync(() => listener.stats().connections === 0 && listener.stats().timers === 0),
          `${path} closed on the server`
        )
      }
    }))

  it.effect("closing the TestServer scope closes a hanging connection promptly", () =>
    Effect.gen(function*() {
      const clients = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* TestServer.make()
        const clients = ["/hang", "/chunked-no-end", "/headers-then-hang", "/slow-headers?delay=60000"].map((path) =>
          connect(server.rawUrl, get(path), 20_000)
        )
        yield* waitUntil(
          Effect.map(server.requests, (requests) => requests.length === clients.length),
          "the requests to be recorded"
        )
        return clients
      }))
      const closedAt = Date.now()
      for (const client of clients) {
        const received = yield* Effect.promise(() => client.closed)
        assert.isBelow(Date.now() - closedAt, 2_000)
        assert.isBelow(received.elapsed, 10_000)
      }
    }))

  it.effect("closing the scope leaves no socket and no timer behind", () =>
    Effect.gen(function*() {
      const { clients, listener } = yield* Effect.scoped(Effect.gen(function*() {
        const { listener, state } = yield* startRaw()
        const clients = [
          connect(listener.url, get("/hang")),
          connect(listener.url, get("/chunked-no-end")),
          connect(listener.url, "GET /partial-head HTTP/1.1\r\n")
        ]
        yield* waitUntil(Effect.sync(() => state.requests.length === 2), "the requests to be recorded")
        yield* waitUntil(Effect.sync(() => listener.stats().connections === 3), "three connections")
        return { clients, listener }
      }))
      assert.deepStrictEqual(listener.stats(), { connections: 0, timers: 0 })
      for (const client of clients) yield* Effect.promise(() => client.closed)
      const refused = yield* Effect.promise(() =>
        new Promise<string | undefined>((resolve) => {
          const socket = Net.connect({ host: "127.0.0.1", port: listener.port })
          socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code))
          socket.on("connect", () => {
            socket.destroy()
            resolve(undefined)
          })
        })
      )
      assert.strictEqual(refused, "ECONNREFUSED")
    }))

  it.effect("a head not received in time answers 408 and closes", () =>
    Effect.gen(function*() {
      const { listener, state } = yield* startRaw({ ...Raw.defaultLimits, headTimeoutMillis: 200 })
      const partial = yield* exchange(listener.url, "GET /health HTTP/1.1\r\nHost: x\r\n")
      assert.isTrue(text(partial).startsWith("HTTP/1.1 408 Request Timeout\r\n"))
      assert.isAtLeast(partial.elapsed, 190)
      const silent = yield* exchange(listener.url, "")
      assert.isTrue(text(silent).startsWith("HTTP/1.1 408 Request Timeout\r\n"))
      // A body that never fully arrives is bounded by the same deadline.
      const body = yield* exchange(listener.url, "POST /health HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
      assert.isTrue(text(body).startsWith("HTTP/1.1 408 Request Timeout\r\n"))
      assert.strictEqual(state.requests.length, 1)
      // The deadline does not apply once the answer started.
      const held = yield* rawGet(listener.url, "/hang?hold=400")
      assert.isAtLeast(held.elapsed, 390)
      assert.strictEqual(held.bytes.length, 0)
    }))

  it.effect("a host that cannot be bound fails with a ServeError instead of hanging", () =>
    Effect.gen(function*() {
      const result = yield* Effect.result(Raw.start(new ServerState(), "203.0.113.7"))
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.instanceOf(result.failure, ServeError)
    }))

  it.effect("binds an IPv6 loopback with a bracketed URL", () =>
    Effect.gen(function*() {
      const state = new ServerState()
      const result = yield* Effect.result(Raw.start(state, "::1"))
      // Skip quietly where the machine has no IPv6 loopback.
      if (Result.isFailure(result)) return
      const listener = result.success
      assert.isTrue(listener.url.startsWith("http://[::1]:"))
      const received = yield* rawGet(listener.url, "/health")
      assert.isTrue(text(received).startsWith("HTTP/1.1 200 OK\r\n"))
    }))
})

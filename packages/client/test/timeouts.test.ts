/**
 * ResilientClient's deadlines (connect, headers, idle, attempt, total), bodies
 * that end early, and interruption, over real sockets: the fault-injection
 * server (its raw-socket listener for the protocol violations) and, where the
 * far side must be watched closing, a plain `node:http` server.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { CustomServer, TestServer } from "@httpkit/testing"
import * as TestTransport from "@httpkit/testing/TestTransport"
import { Context, Effect, Fiber, Layer, Ref, Schedule, Schema, Stream } from "effect"
import { HttpBody, HttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import { spawn, spawnSync } from "node:child_process"
import * as Net from "node:net"
import * as Auth from "../src/Auth.ts"
import * as ClientConfig from "../src/ClientConfig.ts"
import type { ClientError } from "../src/ClientError.ts"
import * as Transport from "../src/internal/transport.ts"
import type * as RequestOptions from "../src/RequestOptions.ts"
import * as ResilientClient from "../src/ResilientClient.ts"
import { base, onTestTransport, scripted } from "./transportSupport.ts"

/** A client on real sockets with short retry delays (options merged one level deep). */
const makeClient = (options: ResilientClient.Options = {}) =>
  ResilientClient.make({
    ...options,
    retry: { minDelay: 10, maxDelay: 50, jitter: false, ...options.retry },
    circuitBreaker: { enabled: false, ...options.circuitBreaker }
  })

/** The file's server, its log cleared. */
const freshServer = Effect.tap(TestServer.TestServer, (server) => server.reset)

/** Waits (polling, bounded) until the server logged a request on `path`. */
const arrived = (server: TestServer.TestServer["Service"], path: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if ((yield* server.requestsTo(path)).length > 0) return
      yield* Effect.sleep("10 millis")
    }
    assert.fail(`no request reached ${path}`)
  })

/** Runs `effect`, returning its result and how long it took on the wall clock. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const value = yield* effect
    return { value, elapsed: Date.now() - started }
  })

const assertTimeout = (error: ClientError, phase: string, timeoutMillis?: number) => {
  assert.strictEqual(error._tag, "TimeoutError", `expected a TimeoutError, got ${error._tag}: ${error.message}`)
  if (error._tag !== "TimeoutError") return
  assert.strictEqual(error.phase, phase)
  if (timeoutMillis !== undefined) assert.strictEqual(error.timeoutMillis, timeoutMillis)
}

/**
 * Runs a call that must fail with a TimeoutError of `phase` (and `timeoutMillis`): its error, and how long it took.
 * With `neverEnded`, a call still running after 20 s fails the test with that message (without its deadline, it
 * would run far longer).
 */
const timesOut = <A, R>(
  call: Effect.Effect<A, ClientError, R>,
  phase: string,
  timeoutMillis?: number,
  neverEnded?: string
) => {
  const flipped = Effect.flip(call)
  const bounded = neverEnded === undefined ? flipped : flipped.pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error(neverEnded)) })
  )
  return Effect.map(timed(bounded), ({ elapsed, value: error }) => {
    assertTimeout(error, phase, timeoutMillis)
    return { error, elapsed }
  })
}

/** A deadline of 500 ms on the attempt or on the whole call, with the phase it fails with. */
const attemptOrTotal = [[{ attempt: 500 }, "attempt"], [{ total: 500 }, "total"]] as const

/** A body that ended early: a ConnectionError on a request that was sent, never a success. */
const assertCut = (error: ClientError) => {
  assert.strictEqual(error._tag, "ConnectionError", `expected a ConnectionError, got ${error._tag}: ${error.message}`)
  if (error._tag !== "ConnectionError") return
  assert.isTrue(error.sent)
  assert.isTrue(error.retryable)
}

const Message = Schema.Struct({ message_id: Schema.String })

/**
 * A plain HTTP server that answers `/head-then-hold` with headers and one body
 * chunk, answers nothing else, and resolves `closed` when a request's
 * connection goes away: to watch the far side of an interrupted call.
 */
const watchedServer = Effect.suspend(() => {
  let onReceived!: () => void
  let onClosed!: (at: number) => void
  const received = new Promise<void>((resolve) => (onReceived = resolve))
  const closed = new Promise<number>((resolve) => (onClosed = resolve))
  return Effect.map(
    CustomServer.make((request, response) => {
      onReceived()
      response.on("close", () => onClosed(Date.now()))
      if (request.url === "/head-then-hold") {
        response.writeHead(200, { "content-type": "application/octet-stream", "content-length": "100000" })
        response.write(Buffer.alloc(1_000, 97))
      }
    }),
    ({ url }) => ({ url, received, closed })
  )
})

/** Resolves to the time `promise` settled, or fails the test after `millis`. */
const within = <A>(promise: Promise<A>, millis: number, what: string) =>
  Effect.promise(() =>
    Promise.race([
      promise.then((value) => ({ value })),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), millis))
    ])
  ).pipe(Effect.map((result) => {
    if (result === undefined) assert.fail(`${what} did not happen within ${millis} ms`)
    return result!.value
  }))

/** The full-backlog trick needs Linux's accept-queue behaviour and a python3 to hold the listener. */
const canFillBacklog = process.platform === "linux" && spawnSync("python3", ["--version"]).status === 0

/**
 * A loopback listener whose accept queue is full: a helper process listens
 * with a backlog of 0 and never accepts, and one connection of ours fills the
 * queue, so further SYNs are dropped and a connect waits until its deadline.
 */
const fullBacklog = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly port: number; readonly release: () => void }>((resolve, reject) => {
      const child = spawn("python3", [
        "-c",
        "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"
      ], { stdio: ["pipe", "pipe", "inherit"] })
      child.once("error", reject)
      child.stdout.once("data", (data) => {
        const port = Number(String(data).trim())
        const filler = Net.connect({ port, host: "127.0.0.1" })
        filler.once("connect", () =>
          resolve({
            port,
            release: () => {
              filler.destroy()
              child.stdin.end()
              child.kill()
            }
          }))
        filler.once("error", reject)
      })
    })
  ),
  ({ release }) => Effect.sync(release)
)

/**
 * A loopback listener that accepts connections, reads what comes and never sends a byte: spoken to over https,
 * the TLS handshake never finishes. Counts the connections accepted and those the client closed.
 */
const silentListener = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{
      readonly url: string
      readonly accepted: () => number
      readonly closed: () => number
      readonly close: () => Promise<void>
    }>((resolve) => {
      let accepted = 0
      let closed = 0
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        accepted += 1
        sockets.add(socket)
        // Read (and drop) what comes, so the client's close is seen.
        socket.resume()
        socket.on("error", () => {})
        socket.on("close", () => {
          closed += 1
          sockets.delete(socket)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resolve({
          url: `https://127.0.0.1:${port}`,
          accepted: () => accepted,
          closed: () => closed,
          close: () =>
            new Promise<void>((done) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
        })
      })
    })
  ),
  ({ close }) => Effect.promise(close)
)

/**
 * A plain HTTP server that reads each request's body to its end, notes when it ended, and never answers: to
 * see when a headers deadline starts.
 */
const readsThenHangs = Effect.suspend(() => {
  let bodyEndedAt: number | undefined
  return Effect.map(
    CustomServer.make((request) => {
      request.on("data", () => {})
      request.on("end", () => (bodyEndedAt = Date.now()))
    }),
    ({ url }) => ({ url, bodyEndedAt: () => bodyEndedAt })
  )
})

/**
 * A plain HTTP server answering 200 to everything, without a `Keep-Alive: timeout=` hint (its keep-alive timeout
 * is 0: it keeps idle connections), counting the connections it accepted.
 */
const hintlessServer = Effect.suspend(() => {
  let connections = 0
  return Effect.map(
    CustomServer.make((_request, response) => response.end("ok"), (server) => {
      server.keepAliveTimeout = 0
      server.on("connection", () => (connections += 1))
    }),
    ({ url }) => ({ url, connections: () => connections })
  )
})

/** Waits (polling, bounded) until `condition` holds, or fails the test after `millis`. */
const eventually = (condition: () => boolean, millis: number, what: string) =>
  Effect.gen(function*() {
    const until = Date.now() + millis
    while (!condition()) {
      if (Date.now() > until) return assert.fail(`${what} did not happen within ${millis} ms`)
      yield* Effect.sleep("20 millis")
    }
  })

/** Runs `effect`, returning its value and the names of the process warnings emitted meanwhile. */
const warningsDuring = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const names: Array<string> = []
      const listener = (warning: Error) => names.push(warning.name)
      process.on("warning", listener)
      return { names, listener }
    }),
    ({ names }) => Effect.map(effect, (value) => ({ value, warnings: names })),
    ({ listener }) => Effect.sync(() => process.off("warning", listener))
  )

/** How many connects the process has in flight (Node's `ConnectWrap` resources). */
const connectsInFlight = () => process.getActiveResourcesInfo().filter((name) => name === "ConnectWrap").length

/** A request body of `chunks` chunks of 1,000 bytes, one every 300 ms, its length declared. */
const slowBody = (chunks: number) =>
  HttpBody.stream(
    Stream.fromIterable(Array.from({ length: chunks }, () => new Uint8Array(1_000).fill(97))).pipe(
      Stream.schedule(Schedule.spaced("300 millis"))
    ),
    "application/octet-stream",
    chunks * 1_000
  )

layer(TestServer.layer(), { excludeTestServices: true })(
  "ResilientClient timeouts over sockets",
  (it) => {
    it.effect("headers timeout: raw /hang fails with phase headers, retried per config", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { headers: 300 }, retry: { maxAttempts: 2 } })
        const { elapsed, error } = yield* timesOut(client.get(`${server.rawUrl}/hang`), "headers", 300)
        assert.isTrue(error.retryable)
        assert.isBelow(elapsed, 5_000)
        const attempts = yield* server.requestsTo("/hang")
        assert.lengthOf(attempts, 2)
        assert.strictEqual(new Set(attempts.map((request) => request.headers["x-request-id"])).size, 1)
      }))

    it.effect("headers timeout: raw /slow-headers (status line, then a pause) fails with phase headers", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { headers: 300 }, retry: { maxAttempts: 1 } })
        const { elapsed } = yield* timesOut(client.get(`${server.rawUrl}/slow-headers?delay=3000`), "headers", 300)
        assert.isBelow(elapsed, 2_500)
        assert.lengthOf(yield* server.requestsTo("/slow-headers"), 1)
      }))

    it.effect("attempt timeout: /delay/3000 fails with phase attempt, each attempt bounded", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { attempt: 300 }, retry: { maxAttempts: 2 } })
        const { elapsed, error } = yield* timesOut(client.get(server.urlFor("/delay/3000")), "attempt", 300)
        assert.isTrue(error.retryable)
        assert.isBelow(elapsed, 2_500)
        assert.lengthOf(yield* server.requestsTo("/delay/3000"), 2)
      }))

    it.effect("a call's own timeout.attempt \"300ms\" (no cast) bounds /delay/3000 as 300 does", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ retry: { maxAttempts: 1 } })
        const { elapsed } = yield* timesOut(
          client.get(server.urlFor("/delay/3000"), { timeout: { attempt: "300ms", total: "20s" } }),
          "attempt",
          300
        )
        assert.isBelow(elapsed, 2_500)
        assert.lengthOf(yield* server.requestsTo("/delay/3000"), 1)
        // @ts-expect-error a boolean is no deadline
        const wrong: RequestOptions.RequestOptions = { timeout: { total: true } }
        // @ts-expect-error a word is no deadline
        const word: RequestOptions.RequestOptions = { timeout: { idle: "soon" } }
        assert.isDefined(wrong.timeout)
        assert.isDefined(word.timeout)
      }))

    it.effect("attempt timeout covers a buffered body: getJson on headers-then-hang fails with phase attempt", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { attempt: 300, idle: 10_000 }, retry: { maxAttempts: 1 } })
        yield* timesOut(
          client.getJson(`${server.rawUrl}/headers-then-hang?length=1000&sent=10`, Message),
          "attempt",
          300
        )
      }))

    it.effect(
      "a buffered read after the call (text, json, bytes) of a body trickled a byte every 50 ms fails with phase attempt",
      () =>
        Effect.gen(function*() {
          const server = yield* freshServer
          // Never idle for 300 ms, so only the attempt's deadline (800 ms) can end it; the whole body takes 100 s.
          const client = yield* makeClient({ timeout: { attempt: 800, idle: 300 }, retry: { maxAttempts: 1 } })
          const url = server.urlFor("/files/trickle?size=2000&rate=20")
          const readers = {
            text: (response: ResilientClient.ClientResponse) => response.text,
            json: (response: ResilientClient.ClientResponse) => response.json,
            bytes: (response: ResilientClient.ClientResponse) => response.bytes
          }
          for (const [name, read] of Object.entries(readers)) {
            // Without the deadline the read runs for 100 s: fail the test well before.
            const { elapsed } = yield* timesOut(
              client.get(url).pipe(Effect.flatMap((response) => read(response) as Effect.Effect<unknown, ClientError>)),
              "attempt",
              800,
              `response.${name} on a trickled body never ended`
            )
            assert.isBelow(elapsed, 15_000, name)
          }
          assert.lengthOf(yield* server.requestsTo("/files/trickle"), 3)
        })
    )

    it.effect("a buffered read after the call, over another transport, is bounded by the attempt's deadline too", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* ResilientClient.makeWith(
          yield* ClientConfig.resolve({
            timeout: { attempt: 800, idle: 5_000 },
            retry: { maxAttempts: 1 },
            circuitBreaker: { enabled: false }
          }),
          // Effect's own undici transport, built in the test's scope (provided around one effect, it closes at once).
          Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
        )
        yield* timesOut(
          client.get(server.urlFor("/files/trickle?size=2000&rate=20")).pipe(
            Effect.flatMap((response) => response.text)
          ),
          "attempt",
          800,
          "response.text on a trickled body never ended"
        )
      }))

    it.effect("a stream of the same trickled body is bounded by the idle deadline only: it outlives the attempt's", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { attempt: 300, idle: 1_000 }, retry: { maxAttempts: 1 } })
        // 40 bytes at 20 a second: about 2 s, well past the attempt's 300 ms, never idle for 1 s.
        const response = yield* client.get(server.urlFor("/files/trickle?size=40&rate=20"))
        const chunks = yield* Stream.runCollect(response.stream)
        assert.strictEqual(chunks.reduce((n, chunk) => n + chunk.byteLength, 0), 40)
      }))

    it.effect("total timeout: covers every attempt and wait, fails with phase total, not retryable", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { attempt: 200, total: 500 }, retry: { maxAttempts: 100 } })
        const { elapsed, error } = yield* timesOut(client.get(server.urlFor("/delay/5000")), "total", 500)
        assert.isFalse(error.retryable)
        assert.isBelow(elapsed, 2_500)
        const attempts = (yield* server.requestsTo("/delay/5000")).length
        assert.isAtLeast(attempts, 2)
        assert.isAtMost(attempts, 3)
      }))

    it.effect("total timeout holds over a token refresh that hangs: phase total, not the refresh's own 30 s bound", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        // The server refuses this token; the refresh hook never answers (its own bound is the default 30 s).
        const auth = yield* Auth.bearer("wrong-token", { onUnauthorized: Effect.never })
        const client = yield* makeClient({ timeout: { total: 1_000 } }).pipe(
          Effect.provideService(Auth.ClientAuth, auth)
        )
        const { elapsed } = yield* timesOut(
          client.get(server.urlFor("/auth/bearer")),
          "total",
          1_000,
          "the call outlived its total deadline by far"
        )
        assert.isBelow(elapsed, 15_000)
        assert.lengthOf(yield* server.requestsTo("/auth/bearer"), 1)
      }))

    it.effect("idle timeout on a stream: headers-then-hang yields its bytes, then fails with phase idle", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { idle: 300 } })
        let received = 0
        const { elapsed } = yield* timesOut(
          client.stream(`${server.rawUrl}/headers-then-hang?length=1000&sent=10`).pipe(
            Stream.runForEach((chunk) => Effect.sync(() => (received += chunk.byteLength)))
          ),
          "idle",
          300
        )
        assert.strictEqual(received, 10)
        assert.isBelow(elapsed, 5_000)

        // The buffered readers of a response keep the same deadline.
        const response = yield* client.get(`${server.rawUrl}/headers-then-hang?length=1000&sent=10`)
        yield* timesOut(response.bytes, "idle", 300)
      }))

    it.effect("idle timeout does not fire on a slow but steady body", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { idle: 300 } })
        // About 20 slices a second: gaps of ~50 ms, well within 300 ms, for ~1 s in all (over 3 idle deadlines).
        const { value: chunks, elapsed } = yield* timed(
          client.stream(server.urlFor("/files/steady?size=8000&rate=8000")).pipe(Stream.runCollect)
        )
        assert.strictEqual(chunks.reduce((n, chunk) => n + chunk.byteLength, 0), 8_000)
        assert.isAbove(elapsed, 600)
      }))

    it.effect.skipIf(!canFillBacklog)(
      "connect timeout on loopback (full accept queue): phase connect, a POST is retried",
      () =>
        Effect.gen(function*() {
          const { port } = yield* fullBacklog
          const attempts = yield* Ref.make(0)
          const resolved = yield* ClientConfig.resolve({
            timeout: { connect: 300 },
            retry: { maxAttempts: 2, minDelay: 10, jitter: false },
            circuitBreaker: { enabled: false }
          })
          const transport = (yield* Transport.makeUndici(resolved)).pipe(
            HttpClient.tapRequest(() => Ref.update(attempts, (n) => n + 1))
          )
          const client = yield* ResilientClient.makeWith(resolved, transport)
          const { elapsed, error } = yield* timesOut(
            client.post(`http://127.0.0.1:${port}/msg`, { json: { a: 1 } }),
            "connect",
            300
          )
          assert.isTrue(error.retryable)
          // A POST that never connected is retried: two attempts, two connect deadlines.
          assert.strictEqual(yield* Ref.get(attempts), 2)
          assert.isAtLeast(elapsed, 550)
          assert.isBelow(elapsed, 5_000)
        })
    )

    it.effect("a body shorter than its Content-Length (/files short_by) is an error, never a success", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { idle: 2_000 } })
        const response = yield* client.get(server.urlFor("/files/short?size=100000&short_by=10"))
        assert.strictEqual(response.status, 200)
        const error = yield* Effect.flip(response.bytes)
        assertCut(error)

        const streamed = yield* Effect.flip(
          client.stream(server.urlFor("/files/short-stream?size=100000&short_by=10")).pipe(Stream.runDrain)
        )
        assertCut(streamed)
      }))

    it.effect("raw /short-body is an error, never a success", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { idle: 2_000 } })
        const response = yield* client.get(`${server.rawUrl}/short-body?length=100&sent=50`)
        const error = yield* Effect.flip(response.text)
        assertCut(error)
        const streamed = yield* Effect.flip(
          client.stream(`${server.rawUrl}/short-body?length=100&sent=50`).pipe(Stream.runDrain)
        )
        assertCut(streamed)
      }))

    it.effect("raw /chunked-no-end: the idle deadline fails the body, never a quiet end", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ timeout: { idle: 300 } })
        yield* timesOut(
          client.stream(`${server.rawUrl}/chunked-no-end?chunks=3&hold=2000`).pipe(Stream.runDrain),
          "idle",
          300
        )

        // Held for 200 ms only, then closed without the final chunk: still an error.
        const closed = yield* client.get(`${server.rawUrl}/chunked-no-end?chunks=3&hold=200`)
        const cut = yield* Effect.flip(closed.text)
        assertCut(cut)
      }))

    it.effect("a body cut mid-way: getJson retries it inside the attempt, request + bytes does not", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient({ retry: { maxAttempts: 3 } })
        // The first GET drops after 500 bytes, the second completes (binary, so not JSON).
        const error = yield* Effect.flip(
          client.getJson(server.urlFor("/files/cut-json?size=1000&drop_after=500&drop_times=1"), Message)
        )
        assert.strictEqual(error._tag, "DecodeError", "the retry got the whole body; only then did decoding fail")
        assert.lengthOf(yield* server.requestsTo("/files/cut-json"), 2)

        const response = yield* client.get(server.urlFor("/files/cut-bytes?size=1000&drop_after=500&drop_times=1"))
        const cut = yield* Effect.flip(response.bytes)
        assert.strictEqual(cut._tag, "ConnectionError")
        assert.lengthOf(yield* server.requestsTo("/files/cut-bytes"), 1, "a body read after the call is not retried")
      }))

    it.effect("interrupting a call to /delay/5000 returns promptly", () =>
      Effect.gen(function*() {
        const server = yield* freshServer
        const client = yield* makeClient()
        const fiber = yield* Effect.forkChild(client.get(server.urlFor("/delay/5000")))
        yield* arrived(server, "/delay/5000")
        const { elapsed } = yield* timed(Fiber.interrupt(fiber))
        assert.isBelow(elapsed, 1_000)
        assert.isTrue(fiber.pollUnsafe() !== undefined)
      }))

    it.effect("interrupting a call closes its connection: the server sees the request go away", () =>
      Effect.gen(function*() {
        const watched = yield* watchedServer
        const client = yield* makeClient()
        const fiber = yield* Effect.forkChild(client.get(`${watched.url}/never`))
        yield* within(watched.received, 2_000, "the request reaching the server")
        const interruptedAt = Date.now()
        yield* Fiber.interrupt(fiber)
        const closedAt = yield* within(watched.closed, 1_000, "the server-side close")
        assert.isBelow(closedAt - interruptedAt, 1_000)
      }))

    it.effect("a stream abandoned mid-body closes its connection", () =>
      Effect.gen(function*() {
        const watched = yield* watchedServer
        const client = yield* makeClient()
        const first = yield* client.stream(`${watched.url}/head-then-hold`).pipe(Stream.take(1), Stream.runCollect)
        assert.lengthOf(first, 1)
        yield* within(watched.closed, 1_000, "the server-side close")
      }))
  }
)

layer(TestServer.layer(), { excludeTestServices: true })(
  "ResilientClient deadlines before a connection, during an upload, and past the longest timer",
  (it) => {
    it.effect(
      "a TLS handshake that never finishes ends at timeout.attempt or timeout.total (500 ms, connect 10 s) with that phase, and the half-open connection is closed",
      () =>
        Effect.gen(function*() {
          const listener = yield* silentListener
          for (const [timeout, phase] of attemptOrTotal) {
            const client = yield* makeClient({ timeout: { connect: "10s", ...timeout }, retry: { maxAttempts: 1 } })
            const { elapsed } = yield* timesOut(client.get(`${listener.url}/never`), phase, 500)
            assert.isAtLeast(elapsed, 400)
            // The connect timeout (10 s) would end it only then.
            assert.isBelow(elapsed, 5_000)
          }
          assert.strictEqual(listener.accepted(), 2)
          yield* eventually(() => listener.closed() === 2, 3_000, "the client closing both half-open connections")
        })
    )

    it.effect.skipIf(!canFillBacklog)(
      "a TCP connect that never completes (full accept queue) ends at timeout.attempt or timeout.total (500 ms, connect 10 s), and the connect is abandoned",
      () =>
        Effect.gen(function*() {
          const { port } = yield* fullBacklog
          const before = connectsInFlight()
          for (const [timeout, phase] of attemptOrTotal) {
            const client = yield* makeClient({ timeout: { connect: "10s", ...timeout }, retry: { maxAttempts: 1 } })
            const { elapsed } = yield* timesOut(client.get(`http://127.0.0.1:${port}/`), phase, 500)
            assert.isAtLeast(elapsed, 400)
            assert.isBelow(elapsed, 5_000)
            yield* eventually(() => connectsInFlight() === before, 3_000, "the pending connect being abandoned")
          }
        })
    )

    it.effect(
      "a request queued behind a slow one (pool.connectionsPerOrigin 1) ends at its attempt or total deadline (500 ms) and is never sent",
      () =>
        Effect.gen(function*() {
          const server = yield* freshServer
          const client = yield* makeClient({
            pool: { connectionsPerOrigin: 1 },
            http2: false,
            retry: { maxAttempts: 1 }
          })
          for (const [timeout, phase] of attemptOrTotal) {
            const slow = yield* Effect.forkChild(client.get(server.urlFor("/delay/4000")))
            yield* arrived(server, "/delay/4000")
            const { elapsed } = yield* timesOut(client.get(server.urlFor("/health"), { timeout }), phase, 500)
            // The slow request holds the connection for 4 s.
            assert.isBelow(elapsed, 3_500)
            assert.strictEqual((yield* Fiber.join(slow)).status, 200)
            yield* server.reset
          }
          // The connection was free for a while: a queued request still in undici's queue would have been sent.
          yield* Effect.sleep("300 millis")
          assert.lengthOf(yield* server.requestsTo("/health"), 0)
          // And the connection serves the next request.
          assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
        })
    )

    it.effect(
      "timeout.headers counts from when the request was sent: a PUT whose body streams for 2 s succeeds with headers 1 s",
      () =>
        Effect.gen(function*() {
          const server = yield* freshServer
          const client = yield* makeClient({
            timeout: { headers: "1s", idle: "1s", attempt: "20s" },
            retry: { maxAttempts: 1 }
          })
          const { value: echoed, elapsed } = yield* timed(
            client.put(server.urlFor("/echo"), { body: slowBody(8) }).pipe(Effect.flatMap((response) => response.json))
          )
          assert.strictEqual((echoed as { readonly body: string }).body.length, 8_000)
          // Eight chunks 300 ms apart: the upload itself outlasted the headers deadline.
          assert.isAtLeast(elapsed, 1_500)
        })
    )

    it.effect(
      "the headers deadline starts once the body is sent: a server that reads a 1.5 s upload and never answers fails with phase headers 1 s after the body's end",
      () =>
        Effect.gen(function*() {
          const hanging = yield* readsThenHangs
          const client = yield* makeClient({ timeout: { headers: 1_000, attempt: "20s" }, retry: { maxAttempts: 1 } })
          const error = yield* Effect.flip(client.put(`${hanging.url}/upload`, { body: slowBody(5) }))
          const failedAt = Date.now()
          assertTimeout(error, "headers", 1_000)
          const bodyEndedAt = hanging.bodyEndedAt()
          assert.isDefined(bodyEndedAt, "the whole body reached the server before the deadline")
          // Counted from the start of the request, it would have passed before the body's end.
          assert.isAtLeast(failedAt - bodyEndedAt!, 500)
          assert.isBelow(failedAt - bodyEndedAt!, 6_000)
        })
    )

    it.effect(
      "a connect timeout past the longest Node timer (\"25d\", 2 ** 31 ms) does not fire at once: the attempt's 500 ms ends a handshake that never finishes, no TimeoutOverflowWarning",
      () =>
        Effect.gen(function*() {
          const listener = yield* silentListener
          const { warnings } = yield* warningsDuring(Effect.gen(function*() {
            for (const connect of ["25d", 2 ** 31] as const) {
              const client = yield* makeClient({ timeout: { connect, attempt: 500 }, retry: { maxAttempts: 1 } })
              const { elapsed } = yield* timesOut(client.get(`${listener.url}/never`), "attempt", 500)
              assert.isAtLeast(elapsed, 400)
            }
          }))
          assert.notInclude(warnings, "TimeoutOverflowWarning")
        })
    )

    it.effect(
      "pool.keepAliveTimeout past the longest Node timer (\"25d\") keeps the connection: two GETs 200 ms apart share it, no TimeoutOverflowWarning",
      () =>
        Effect.gen(function*() {
          // No `Keep-Alive: timeout=` hint from this server: undici times the idle connection by ours alone.
          const server = yield* hintlessServer
          const { warnings } = yield* warningsDuring(Effect.gen(function*() {
            const client = yield* makeClient({ pool: { keepAliveTimeout: "25d" }, http2: false })
            assert.strictEqual((yield* client.get(`${server.url}/a`)).status, 200)
            yield* Effect.sleep("200 millis")
            assert.strictEqual((yield* client.get(`${server.url}/b`)).status, 200)
          }))
          assert.strictEqual(server.connections(), 1)
          assert.notInclude(warnings, "TimeoutOverflowWarning")
        })
    )
  }
)

describe("ResilientClient connect timeouts on TestTransport", () => {
  it.effect("UND_ERR_CONNECT_TIMEOUT is a TimeoutError with phase connect, and a POST with it is retried", () =>
    Effect.gen(function*() {
      const orders = { method: "POST", path: "/orders" } as const
      const { client, transport } = yield* scripted(
        orders,
        TestTransport.fail("UND_ERR_CONNECT_TIMEOUT"),
        TestTransport.respond(201)
      )
      const fiber = yield* Effect.forkChild(client.post(`${base}/orders`, { json: { id: 1 } }))
      yield* TestClock.adjust("100 millis")
      const created = yield* Fiber.join(fiber)
      assert.strictEqual(created.status, 201)
      assert.strictEqual(created.attempt, 2)
      assert.lengthOf(yield* transport.calls, 2)

      yield* transport.enqueue(orders, TestTransport.fail("UND_ERR_CONNECT_TIMEOUT"))
      yield* timesOut(client.post(`${base}/orders`, { json: { id: 2 }, retry: false }), "connect", 1_234)
    }).pipe(onTestTransport({ timeout: { connect: 1_234 }, retry: { jitter: false, minDelay: 100, maxAttempts: 3 } })))

  it.effect("a body cut mid-way is retried by getJson, which then succeeds", () =>
    Effect.gen(function*() {
      const { client, transport } = yield* scripted(
        { path: "/m" },
        TestTransport.respond(200, { body: `{"message_id":"m-1"}`, truncateAfter: 8 }),
        TestTransport.json(200, { message_id: "m-1" })
      )
      const fiber = yield* Effect.forkChild(client.getJson(`${base}/m`, Message))
      // A Web stream fails on a promise tick, not on the fiber's: let it fail before moving the clock.
      for (let i = 0; i < 20 && fiber.pollUnsafe() === undefined; i++) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
        yield* TestClock.adjust("100 millis")
      }
      assert.deepStrictEqual(yield* Fiber.join(fiber), { message_id: "m-1" })
      assert.lengthOf(yield* transport.calls, 2)
    }).pipe(onTestTransport({ retry: { jitter: false, minDelay: 100, maxAttempts: 3 } })))
})

/**
 * RELIABILITY 21 for the client's deadlines: a stalled event loop in the
 * client's process (synchronous work in the user's program) is not a silent
 * server. The servers run in a child process (`lag-server-child.ts`), so they
 * answer while this process is stalled; the stall is a synchronous busy-wait
 * started by a plain timer 20 ms after a call began, on a connection already
 * open, so the request is on the wire and its answer waits in the socket.
 * Each case asserts that the call succeeds and that the server saw one
 * request (no retry), and that the request arrived while this process was
 * stalled (so the stall did cross the deadline). The controls: a server that
 * really is silent still times out, with the right phase, and a stall longer
 * than the call's total ends with `TimeoutError` phase `total`, not retried.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, layer } from "@effect/vitest"
import { NodeChild, ServerControl } from "@httpkit/testing"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import { HttpClient } from "effect/http"
import { join } from "node:path"
import * as ClientConfig from "../src/ClientConfig.ts"
import type { ClientError } from "../src/ClientError.ts"
import * as Transport from "../src/internal/transport.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

/** The line `lag-server-child.ts` prints. */
interface ServersLine {
  readonly url: string
  readonly rawUrl: string
  readonly tlsUrl: string
  readonly cert: string
}

/** The child's servers, and a control client for each (the TLS one trusts the child's certificate). */
class LagServers extends Context.Service<LagServers, {
  readonly line: ServersLine
  readonly plain: ServerControl.ServerControl["Service"]
  readonly tls: ServerControl.ServerControl["Service"]
}>()("test/LagServers") {
  static readonly layer = Layer.effect(
    LagServers,
    Effect.gen(function*() {
      const child = yield* NodeChild.start<Partial<ServersLine>>([join(import.meta.dirname, "lag-server-child.ts")], {
        timeoutMillis: 60_000
      })
      const line = (yield* child.until("the servers' URLs", (candidate) =>
        typeof candidate.url === "string")) as ServersLine
      // Control requests over TLS go through a transport of their own (HTTP/1.1), never the clients under test.
      const control = yield* Transport.makeUndici(yield* ClientConfig.resolve({ tls: { ca: line.cert }, http2: false }))
      return {
        line,
        plain: ServerControl.make(line.url),
        tls: ServerControl.make(line.tlsUrl, { client: control })
      }
    }).pipe(Effect.orDie)
  )
}

/** One way to reach the servers: plain HTTP/1.1, or HTTP/2 over TLS. */
interface Protocol {
  readonly name: string
  readonly base: (servers: LagServers["Service"]) => string
  readonly control: (servers: LagServers["Service"]) => ServerControl.ServerControl["Service"]
  readonly options: (servers: LagServers["Service"]) => ResilientClient.Options
  /** The HTTP version the server records. */
  readonly version: string
}

const http1: Protocol = {
  name: "HTTP/1.1",
  base: (servers) => servers.line.url,
  control: (servers) => servers.plain,
  options: () => ({ http2: false }),
  version: "1.1"
}

const http2: Protocol = {
  name: "HTTP/2",
  base: (servers) => servers.line.tlsUrl,
  control: (servers) => servers.tls,
  options: (servers) => ({ http2: true, tls: { ca: servers.line.cert } }),
  version: "2.0"
}

/**
 * A client for `protocol` with `options`: two attempts (so a false timeout shows as a second request) after a
 * short delay, no breaker; its connection opened by a first call, so a request goes on the wire at once.
 */
const warmClient = (servers: LagServers["Service"], protocol: Protocol, options: ResilientClient.Options = {}) =>
  Effect.gen(function*() {
    const client = yield* ResilientClient.make({
      ...protocol.options(servers),
      ...options,
      retry: { maxAttempts: 2, minDelay: 10, maxDelay: 20, jitter: false, ...options.retry },
      circuitBreaker: { enabled: false }
    })
    yield* Effect.flatMap(client.get(`${protocol.base(servers)}/health`), (response) => response.text)
    return client
  })

/** When a stall began and ended (wall clock, as the server records arrivals); zero until it has. */
interface Stall {
  started: number
  ended: number
}

/**
 * Stalls this process's event loop for `millis` (a synchronous busy-wait, as a user's program might), starting
 * `afterMillis` from now: nothing of the client's runs meanwhile, neither timers nor sockets. The busy-wait
 * runs in the loop's check phase (`setImmediate`), as a fiber's work does, so the next turn runs the timers
 * that fell due during the stall before it reads the sockets. (From a timer callback, Node would read the
 * sockets first: it looks at the clock for further timers only on the next turn.)
 */
const stallSoon = (afterMillis: number, millis: number): Stall => {
  const stall: Stall = { started: 0, ended: 0 }
  setTimeout(() =>
    setImmediate(() => {
      stall.started = Date.now()
      const end = performance.now() + millis
      while (performance.now() < end) {
        // busy: the event loop is blocked
      }
      stall.ended = Date.now()
    }), afterMillis)
  return stall
}

/** Runs `effect`, returning its result and how long it took on the wall clock. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const value = yield* effect
    return { value, elapsed: Date.now() - started }
  })

/** The server saw `path` once, over `protocol`, and it arrived while this process was stalled. */
const assertOnceDuring = (
  control: ServerControl.ServerControl["Service"],
  path: string,
  protocol: Protocol,
  stall: Stall
) =>
  Effect.gen(function*() {
    assert.isAbove(stall.ended, 0, "the stall did not happen during the call")
    const requests = yield* control.requestsTo(path)
    assert.lengthOf(requests, 1, `the server saw ${requests.length} requests to ${path}`)
    assert.strictEqual(requests[0]!.httpVersion, protocol.version)
    assert.isAtMost(requests[0]!.arrivedAt, stall.ended, "the request arrived after the stall: nothing was proved")
  })

const assertTimeout = (error: ClientError, phase: string, timeoutMillis: number) => {
  assert.strictEqual(error._tag, "TimeoutError", `expected a TimeoutError, got ${error._tag}: ${error.message}`)
  if (error._tag !== "TimeoutError") return
  assert.strictEqual(error.phase, phase)
  assert.strictEqual(error.timeoutMillis, timeoutMillis)
}

layer(LagServers.layer, { excludeTestServices: true })("deadlines under event-loop stalls (RELIABILITY 21)", (it) => {
  for (const protocol of [http1, http2]) {
    it.effect(`${protocol.name}: a 1.5 s stall over a 1 s attempt deadline: the answer that came meanwhile wins, one request`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { attempt: 1_000 } })
        const stall = stallSoon(20, 1_500)
        const text = yield* Effect.flatMap(client.get(`${protocol.base(servers)}/delay/100`), (r) => r.text)
        assert.include(text, "delayed_ms")
        yield* assertOnceDuring(control, "/delay/100", protocol, stall)
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: an answer read in the turn the 1 s attempt deadline's timer fires (40 ms late) wins`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { attempt: 1_000 }, retry: { maxAttempts: 1 } })
        // The answer comes at 850 ms, during a stall from 800 to 1,040 ms that holds it in the socket until the
        // deadline's timer fires, late by less than a stall counts: that turn of the loop reads it before the abort.
        const stall = stallSoon(800, 240)
        const text = yield* Effect.flatMap(client.get(`${protocol.base(servers)}/delay/850`), (r) => r.text)
        assert.include(text, "delayed_ms")
        yield* assertOnceDuring(control, "/delay/850", protocol, stall)
      }).pipe(Effect.scoped))

    // The answer comes 1,550 ms after the request, 30 ms after a stall from 20 to 1,520 ms: of a 1 s deadline the
    // stall is not counted (only the part of it up to the timer's due less its lateness), and the wait goes on.
    for (const phase of ["attempt", "headers"] as const) {
      it.effect(`${protocol.name}: an answer held back until 30 ms after a 1.5 s stall beats a 1 s ${phase} deadline`, () =>
        Effect.gen(function*() {
          const servers = yield* LagServers
          const control = protocol.control(servers)
          yield* control.reset
          const client = yield* warmClient(servers, protocol, { timeout: { [phase]: 1_000 } })
          const stall = stallSoon(20, 1_500)
          const text = yield* Effect.flatMap(client.get(`${protocol.base(servers)}/delay/1550`), (r) => r.text)
          assert.include(text, "delayed_ms")
          yield* assertOnceDuring(control, "/delay/1550", protocol, stall)
        }).pipe(Effect.scoped))
    }

    it.effect(`${protocol.name}: a chunk held back until 50 ms after a stall that crossed the 700 ms idle deadline wins`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { idle: 700 } })
        // A byte at once and one a second later; a stall from the first to 950 ms crosses the idle deadline.
        let stall: Stall | undefined
        let received = 0
        yield* client.stream(`${protocol.base(servers)}/files/lag-gap?size=2&rate=1`).pipe(
          Stream.runForEach((chunk) =>
            Effect.sync(() => {
              received += chunk.byteLength
              stall ??= stallSoon(0, 950)
            })
          )
        )
        assert.strictEqual(received, 2)
        yield* assertOnceDuring(control, "/files/lag-gap", protocol, stall!)
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: a 1.5 s stall over a 1 s total deadline (attempt's, and the outer one of a bulkhead's call): the answer wins`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        // Without a bulkhead the attempt's own timer stands for the total; with one, an outer timer runs too.
        for (const bulkhead of [undefined, { maxConcurrency: 4 }]) {
          yield* control.reset
          const client = yield* warmClient(servers, protocol, {
            timeout: { total: 1_000 },
            ...(bulkhead === undefined ? {} : { bulkhead })
          })
          const stall = stallSoon(20, 1_500)
          const text = yield* Effect.flatMap(client.get(`${protocol.base(servers)}/delay/100`), (r) => r.text)
          assert.include(text, "delayed_ms")
          yield* assertOnceDuring(control, "/delay/100", protocol, stall)
        }
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: a 1.5 s stall over a 1 s headers timeout: the head that came meanwhile wins, one request`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { headers: 1_000 } })
        const stall = stallSoon(20, 1_500)
        const response = yield* client.get(`${protocol.base(servers)}/delay/100`)
        assert.strictEqual(response.status, 200)
        yield* response.text
        yield* assertOnceDuring(control, "/delay/100", protocol, stall)
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: a 1.5 s stall mid-body over a 1 s idle timeout: the bytes that came meanwhile win, one request`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { idle: 1_000 } })
        // 4,000 bytes at 2,000 a second (a slice every 50 ms): the stall starts with the first chunk, mid-body.
        let stall: Stall | undefined
        let received = 0
        yield* client.stream(`${protocol.base(servers)}/files/lag-idle?size=4000&rate=2000`).pipe(
          Stream.runForEach((chunk) =>
            Effect.sync(() => {
              received += chunk.byteLength
              stall ??= stallSoon(0, 1_500)
            })
          )
        )
        assert.strictEqual(received, 4_000)
        yield* assertOnceDuring(control, "/files/lag-idle", protocol, stall!)
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: a reader that pauses 1.5 s mid-body (the server sent it all) gets no 500 ms idle timeout`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { idle: 500 } })
        // 4 MiB: more than the body's buffer, so the transport stops reading while the reader pauses.
        const size = 4 * 1024 * 1024
        let received = 0
        let paused = false
        yield* client.stream(`${protocol.base(servers)}/files/lag-pause?size=${size}`).pipe(
          Stream.runForEach((chunk) => {
            received += chunk.byteLength
            if (paused) return Effect.void
            paused = true
            // Not a stall: the event loop is free, the reader (a slow disk, say) does not read for 1.5 s.
            return Effect.sleep(1_500)
          })
        )
        assert.strictEqual(received, size)
        assert.lengthOf(yield* control.requestsTo("/files/lag-pause"), 1)
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: a silent server still times out: headers, idle, attempt and total, each with its phase`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const base = protocol.base(servers)
        const single = { retry: { maxAttempts: 1 } }
        const cases = [
          { phase: "headers", millis: 300, options: { timeout: { headers: 300 } }, url: `${base}/delay/10000` },
          // A byte a second: never a chunk within 300 ms after the first.
          {
            phase: "idle",
            millis: 300,
            options: { timeout: { idle: 300 } },
            url: `${base}/files/lag-silent?size=100&rate=1`
          },
          { phase: "attempt", millis: 300, options: { timeout: { attempt: 300 } }, url: `${base}/delay/10000` },
          { phase: "total", millis: 500, options: { timeout: { total: 500 } }, url: `${base}/delay/10000` }
        ] as const
        for (const { phase, millis, options, url } of cases) {
          const client = yield* warmClient(servers, protocol, { ...options, ...single })
          const { value: error, elapsed } = yield* timed(
            client.stream(url).pipe(Stream.runDrain, Effect.flip)
          )
          assertTimeout(error, phase, millis)
          assert.isAtLeast(elapsed, millis - 20, phase)
          assert.isBelow(elapsed, 5_000, phase)
        }
      }).pipe(Effect.scoped))

    it.effect(`${protocol.name}: a 2.5 s stall past a 1 s total (attempt 600 ms, silent server) ends with TimeoutError total, not retried`, () =>
      Effect.gen(function*() {
        const servers = yield* LagServers
        const control = protocol.control(servers)
        yield* control.reset
        const client = yield* warmClient(servers, protocol, { timeout: { attempt: 600, total: 1_000 } })
        const stall = stallSoon(20, 2_500)
        const { value: error, elapsed } = yield* timed(
          Effect.flip(client.get(`${protocol.base(servers)}/delay/10000`))
        )
        assertTimeout(error, "total", 1_000)
        assert.isFalse(error.retryable)
        // Bounded: at most the attempt's ceiling (2 * 600 + 1000 ms) and a little.
        assert.isBelow(elapsed, 6_000)
        yield* assertOnceDuring(control, "/delay/10000", protocol, stall)
      }).pipe(Effect.scoped))
  }

  it.effect("over Effect's own undici transport: a 1.5 s stall over 1 s headers and attempt deadlines (Effect timers), one request", () =>
    Effect.gen(function*() {
      const servers = yield* LagServers
      yield* servers.plain.reset
      const client = yield* ResilientClient.makeWith(
        yield* ClientConfig.resolve({
          timeout: { headers: 1_000, attempt: 1_000 },
          retry: { maxAttempts: 2, minDelay: 10, jitter: false },
          circuitBreaker: { enabled: false }
        }),
        Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
      )
      yield* Effect.flatMap(client.get(`${servers.line.url}/health`), (r) => r.text)
      const stall = stallSoon(20, 1_500)
      const text = yield* Effect.flatMap(client.get(`${servers.line.url}/delay/100`), (r) => r.text)
      assert.include(text, "delayed_ms")
      yield* assertOnceDuring(servers.plain, "/delay/100", http1, stall)
    }).pipe(Effect.scoped))

  it.effect("the bulkhead's wait: bulkhead 1, acquireTimeout 1 s, the first call ends during a 1.5 s stall: the second gets the slot", () =>
    Effect.gen(function*() {
      const servers = yield* LagServers
      yield* servers.plain.reset
      const client = yield* warmClient(servers, http1, { bulkhead: { maxConcurrency: 1, acquireTimeout: 1_000 } })
      // The first call holds the slot until its answer, 300 ms on, comes during the stall.
      const first = yield* Effect.forkChild(client.get(`${servers.line.url}/delay/300`))
      yield* Effect.sleep(50)
      const stall = stallSoon(20, 1_500)
      const second = yield* Effect.flatMap(client.get(`${servers.line.url}/health`), (r) => r.text)
      assert.include(second, "ok")
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
      yield* assertOnceDuring(servers.plain, "/delay/300", http1, stall)
      // The warm-up call and the second.
      assert.lengthOf(yield* servers.plain.requestsTo("/health"), 2)
    }).pipe(Effect.scoped))
})

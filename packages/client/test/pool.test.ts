/**
 * `ResilientClient`'s connection pool over real sockets: keep-alive reuse,
 * `pool.connectionsPerOrigin`, `pool.keepAliveTimeout` and their environment
 * variables. Every assertion is on the connection numbers the test server
 * recorded, not on what the client believes it did.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { ConfigProvider, Effect } from "effect"
import { noRetry } from "./support.ts"

/** Calls in flight at once in the concurrency tests: well above the limit of 2. */
const concurrentCalls = 8
/** Long enough that the calls overlap however late they are scheduled. */
const slowPath = "/delay/300"

/** The distinct connections that carried the requests to `path`. */
const connectionsTo = (server: TestServer.TestServer["Service"], path: string) =>
  Effect.map(server.requestsTo(path), (requests) => new Set(requests.map((request) => request.connection)))

/** `concurrentCalls` GETs to the slow path at once, each body read; their statuses. */
const slowCalls = (client: ResilientClient.Service, server: TestServer.TestServer["Service"]) =>
  Effect.forEach(
    Array.from({ length: concurrentCalls }),
    () => Effect.flatMap(client.get(server.urlFor(slowPath)), (response) => Effect.as(response.json, response.status)),
    { concurrency: "unbounded" }
  )

/** `count` calls to `url`, one after the other, each body read, with `gap` ms between them. */
const sequentialCalls = (client: ResilientClient.Service, url: string, count: number, gap = 0) =>
  Effect.forEach(
    Array.from({ length: count }),
    (_, i) =>
      Effect.flatMap(client.get(url), (response) => response.json).pipe(
        Effect.andThen(gap > 0 && i < count - 1 ? Effect.sleep(gap) : Effect.void)
      ),
    { discard: true }
  )

describe("keep-alive", () => {
  it.live("sequential calls on one client, a moment apart, reuse one connection", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      yield* sequentialCalls(client, server.urlFor("/health?paced"), 6, 10)
      assert.strictEqual((yield* server.requestsTo("/health")).length, 6)
      assert.strictEqual((yield* connectionsTo(server, "/health")).size, 1)

      // Another client has its own pool, so its own connection.
      const other = yield* ResilientClient.make({ retry: noRetry })
      yield* sequentialCalls(other, server.urlFor("/health?other"), 1)
      assert.strictEqual((yield* connectionsTo(server, "/health")).size, 2)
    }).pipe(Effect.scoped))

  it.live("back-to-back calls take at most two pooled connections; connectionsPerOrigin: 1 keeps them on one", () =>
    Effect.gen(function*() {
      // undici's pool frees a connection one event-loop turn after its body ended,
      // so a call sent at once goes on a second connection, and the two alternate.
      const server = yield* TestServer.make()
      const pooled = yield* ResilientClient.make({ retry: noRetry })
      yield* sequentialCalls(pooled, server.urlFor("/health"), 8)
      assert.isAtMost((yield* connectionsTo(server, "/health")).size, 2)

      const single = yield* ResilientClient.make({ retry: noRetry, pool: { connectionsPerOrigin: 1 } })
      yield* sequentialCalls(single, server.urlFor("/msg"), 8)
      assert.strictEqual((yield* server.requestsTo("/msg")).length, 8)
      assert.strictEqual((yield* connectionsTo(server, "/msg")).size, 1)
    }).pipe(Effect.scoped))
})

describe("pool.connectionsPerOrigin", () => {
  it.live(
    "limits the connections to one origin; the calls beyond it wait for one and all succeed",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = yield* ResilientClient.make({ retry: noRetry, pool: { connectionsPerOrigin: 2 } })
        assert.strictEqual(client.config.pool.connectionsPerOrigin, 2)
        const statuses = yield* slowCalls(client, server)
        assert.deepStrictEqual(statuses, Array.from({ length: concurrentCalls }, () => 200))
        assert.strictEqual((yield* server.requestsTo(slowPath)).length, concurrentCalls)
        const connections = yield* connectionsTo(server, slowPath)
        assert.isAtLeast(connections.size, 1)
        assert.isAtMost(connections.size, 2)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("without it, concurrent calls open more connections than that", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      assert.isUndefined(client.config.pool.connectionsPerOrigin)
      const statuses = yield* slowCalls(client, server)
      assert.deepStrictEqual(statuses, Array.from({ length: concurrentCalls }, () => 200))
      assert.isAbove((yield* connectionsTo(server, slowPath)).size, 2)
    }).pipe(Effect.scoped), 30_000)
})

/** One call, its body read; then `gap` ms of idleness. */
const callThenIdle = (client: ResilientClient.Service, url: string, gap: number) =>
  Effect.flatMap(client.get(url), (response) => response.text).pipe(Effect.andThen(Effect.sleep(gap)))

describe("pool.keepAliveTimeout", () => {
  // undici prefers the server's `Keep-Alive: timeout=N` hint (minus 2 s) to its
  // own keepAliveTimeout, and the test server sends `timeout=5` by default. A
  // server that announces nothing and never closes idle connections itself
  // (`keepAliveTimeout: 0`) leaves the client's option as the only timer.
  const idleTimeout = 400
  /** Well inside the idle timeout: the connection is still pooled. */
  const shortGap = 50
  /** Well beyond it, even if undici's timer fires late; well inside the 4 s default. */
  const longGap = 1_500

  it.live("an idle connection is closed after it, and kept before it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ keepAliveTimeout: 0 })
      const short = yield* ResilientClient.make({ retry: noRetry, pool: { keepAliveTimeout: idleTimeout } })
      assert.strictEqual(short.config.pool.keepAliveTimeout, idleTimeout)
      // The default (4 s) client idles just as long beside it: the control.
      const control = yield* ResilientClient.make({ retry: noRetry })

      const shortUrl = server.urlFor("/health?client=short")
      const controlUrl = server.urlFor("/health?client=control")
      yield* Effect.all([
        Effect.gen(function*() {
          yield* callThenIdle(short, shortUrl, shortGap)
          yield* callThenIdle(short, shortUrl, longGap)
          yield* callThenIdle(short, shortUrl, 0)
        }),
        Effect.gen(function*() {
          yield* callThenIdle(control, controlUrl, longGap)
          yield* callThenIdle(control, controlUrl, 0)
        })
      ], { concurrency: "unbounded", discard: true })

      const requests = yield* server.requestsTo("/health")
      const connectionsOf = (name: string) =>
        requests.filter((request) => request.query === `client=${name}`).map((request) => request.connection)
      const [first, afterShortGap, afterLongGap] = connectionsOf("short")
      assert.strictEqual(afterShortGap, first, "a call after a short gap reuses the connection")
      assert.notStrictEqual(afterLongGap, first, "a call after a gap beyond keepAliveTimeout opens a new one")
      const [controlFirst, controlSecond] = connectionsOf("control")
      assert.strictEqual(controlSecond, controlFirst, "the server kept the idle connection open")
    }).pipe(Effect.scoped), 30_000)

  it.live("it bounds a server's longer Keep-Alive hint (timeout=5 leaves undici 3 s)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const short = yield* ResilientClient.make({ retry: noRetry, pool: { keepAliveTimeout: idleTimeout } })
      const url = server.urlFor("/health")
      yield* callThenIdle(short, url, shortGap)
      yield* callThenIdle(short, url, longGap)
      yield* callThenIdle(short, url, 0)
      const [first, afterShortGap, afterLongGap] = (yield* server.requestsTo("/health")).map((request) =>
        request.connection
      )
      assert.strictEqual(afterShortGap, first, "a call after a short gap reuses the connection")
      assert.notStrictEqual(afterLongGap, first, "our keepAliveTimeout, not the server's hint, closed it")
    }).pipe(Effect.scoped), 30_000)
})

/** Provides a `ConfigProvider` over the given environment variables. */
const fromEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("configuration", () => {
  it.live("layerConfig reads HTTPKIT_POOL_CONNECTIONS_PER_ORIGIN and the limit applies", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      yield* Effect.gen(function*() {
        const client = yield* ResilientClient.ResilientClient
        assert.strictEqual(client.config.pool.connectionsPerOrigin, 2)
        assert.strictEqual(client.config.pool.keepAliveTimeout, 1_500)
        const statuses = yield* slowCalls(client, server)
        assert.deepStrictEqual(statuses, Array.from({ length: concurrentCalls }, () => 200))
        assert.isAtMost((yield* connectionsTo(server, slowPath)).size, 2)
      }).pipe(
        Effect.provide(ResilientClient.layerConfig()),
        fromEnv({
          HTTPKIT_POOL_CONNECTIONS_PER_ORIGIN: "2",
          HTTPKIT_POOL_KEEP_ALIVE_TIMEOUT: "1500 millis",
          HTTPKIT_RETRY_MAX_ATTEMPTS: "1"
        })
      )
    }).pipe(Effect.scoped), 30_000)

  it.effect("an invalid pool variable fails layer construction with a ClientConfigError naming the variable and value", () =>
    Effect.gen(function*() {
      for (const value of ["0", "two", "1.5"]) {
        const error = yield* Effect.gen(function*() {
          return yield* ResilientClient.ResilientClient
        }).pipe(
          Effect.provide(ResilientClient.layerConfig()),
          fromEnv({ HTTPKIT_POOL_CONNECTIONS_PER_ORIGIN: value }),
          Effect.flip
        )
        assert.strictEqual(error._tag, "ClientConfigError")
        assert.strictEqual(
          error.message,
          `invalid client configuration: HTTPKIT_POOL_CONNECTIONS_PER_ORIGIN is "${value}", expected an integer${
            value === "1.5" ? "" : " of at least 1"
          }`
        )
      }
    }))
})

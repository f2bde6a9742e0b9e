/**
 * The circuit breaker on Effect's Redis store, against a real Redis: state
 * shared between processes, and the policy when the store fails (RELIABILITY
 * 12, 16, 17, 21). Redis refusing, hanging (connection accepted, no reply
 * ever) and answering garbage sit behind a TCP proxy. Bounds are generous:
 * the machine may be loaded, so assertions say "well before the hang would
 * end", never "within N ms" of a tight figure.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, it } from "@effect/vitest"
import * as LoggingTest from "@httpkit/testing/LoggingTest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Fiber, Layer, type Scope } from "effect"
import { CircuitBreaker } from "effect/persistence"
import * as ResilientClient from "../src/ResilientClient.ts"

/** One Redis connection and breaker store, as one process of several would have. */
const redisStore = (prefix: string) =>
  CircuitBreaker.layerStoreRedis({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url: RedisTest.url })))

/** A breaker store on a connection through the proxy, with NodeRedis's default options. */
const proxiedStore = (url: string, prefix: string) =>
  CircuitBreaker.layerStoreRedis({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url })))

/** The same, on a connection that is made again after 800 ms of silence, as the README suggests. */
const selfHealingStore = (url: string, prefix: string) =>
  CircuitBreaker.layerStoreRedis({ prefix }).pipe(
    Layer.provide(
      NodeRedis.layer({
        url,
        socket: { socketTimeout: 800, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) }
      })
    )
  )

const totalMillis = 2_000

const options = (base: string) => ({
  baseUrl: base,
  retry: { maxAttempts: 1 },
  timeout: { total: totalMillis },
  circuitBreaker: { failureThreshold: 3, openDuration: "1 minute" }
})

/** A client with a Redis connection of its own (from `store`): what two clients share then lives only in Redis. */
const clientWith = <E>(url: string, store: Layer.Layer<CircuitBreaker.CircuitBreakerStore, E>) =>
  Effect.flatMap(
    Layer.build(store),
    (context) => ResilientClient.make(options(url)).pipe(Effect.provideContext(context))
  )

/** Runs `effect` and says how long it took in real milliseconds. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const result = yield* effect
    return [performance.now() - start, result] as const
  })

type Client = Effect.Success<ReturnType<typeof ResilientClient.make>>

/**
 * A fresh server and two clients sharing a breaker prefix: `first` reaches Redis through a started proxy, on the
 * store `through` makes, `second` directly. Whatever happens, the proxy's connections are dropped before the
 * connection closes, which would otherwise wait for replies a hanging proxy never sends.
 */
const proxiedPair = <E>(through: (url: string, prefix: string) => Layer.Layer<CircuitBreaker.CircuitBreakerStore, E>) =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const proxy = yield* RedisProxy.make()
    yield* proxy.start
    const prefix = yield* RedisPrefix.make("breaker")
    const first = yield* clientWith(server.url, through(proxy.url, prefix))
    yield* Effect.addFinalizer(() => proxy.stop)
    const second = yield* clientWith(server.url, redisStore(prefix))
    return { server, proxy, first, second }
  })

/** A test's body, given the lines logged while it runs; its scope closes at its end. */
const logged = <E>(body: (logs: ReadonlyArray<string>) => Effect.Effect<void, E, Scope.Scope>) => () =>
  LoggingTest.withLines((logs) => Effect.scoped(body(logs)))

/** Whether a line says the store became unavailable. */
const unavailable = (line: string) => line.includes("circuit breaker store unavailable")

/**
 * Whether a circuit `first` opens is seen by `second`, which shares nothing
 * with it but Redis: on a fresh server (a fresh origin, so no earlier state
 * counts), `first` fails `failureThreshold` times, then `second`, which never
 * called that server, must be refused without sending anything.
 */
const sharedThroughRedis = (first: Client, second: Client) =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    for (let call = 0; call < 3; call++) {
      const error = yield* Effect.flip(first.get(`${server.url}/status/503`))
      if (error._tag !== "ServiceUnavailableError") return false
    }
    const before = (yield* server.requests).length
    const error = yield* Effect.flip(second.get(`${server.url}/status/503`))
    if (error._tag !== "CircuitOpenError") return false
    assert.strictEqual((yield* server.requests).length, before, "the refused call sent nothing")
    return true
  })

/** Tries `sharedThroughRedis` until it holds (the store is probed once a second), for at most 15 s. */
const eventuallyShared = (first: Client, second: Client) =>
  Effect.gen(function*() {
    const start = performance.now()
    while (performance.now() - start < 15_000) {
      if (yield* sharedThroughRedis(first, second)) return
      yield* Effect.sleep(250)
    }
    assert.fail("the circuit opened by the first client never reached the second through Redis")
  })

// node-redis never recovers a connection whose replies were swallowed or garbled: it matches later replies to
// the lost commands. Redis answering again is then also the connection being made again (the proxy drops it).
const reconnected = (proxy: RedisProxy.RedisProxy) =>
  Effect.andThen(proxy.restore, Effect.andThen(proxy.stop, proxy.start))
const faults = [
  {
    name: "refusing (proxy stopped)",
    inject: (proxy: RedisProxy.RedisProxy) => proxy.stop,
    recover: (proxy: RedisProxy.RedisProxy) => proxy.start
  },
  {
    name: "hanging (connection accepted, no reply ever)",
    inject: (proxy: RedisProxy.RedisProxy) => proxy.hang,
    recover: reconnected
  },
  {
    name: "answering garbage",
    inject: (proxy: RedisProxy.RedisProxy) => proxy.garbage,
    recover: reconnected
  }
] as const

await RedisTest.describeWithRedis("the circuit breaker on Effect's Redis store", () => {
  it.live(
    "a circuit opened by one client refuses another client's calls, which share nothing but Redis",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const prefix = yield* RedisPrefix.make("breaker")
        // Two clients with their own Redis connections: the state they share lives only in Redis.
        const first = yield* clientWith(server.url, redisStore(prefix))
        const second = yield* clientWith(server.url, redisStore(prefix))

        for (let call = 0; call < 3; call++) {
          const error = yield* Effect.flip(first.get("/status/503"))
          assert.strictEqual(error._tag, "ServiceUnavailableError")
        }
        const before = (yield* server.requests).length
        const refused = yield* Effect.flip(second.get("/status/503"))
        assert.strictEqual(refused._tag, "CircuitOpenError")
        if (refused._tag === "CircuitOpenError") assert.isAbove(refused.retryAfterMillis ?? 0, 0)
        assert.strictEqual((yield* server.requests).length, before, "the refused call sent nothing")

        // Another prefix is another breaker: unaffected.
        const other = yield* clientWith(server.url, redisStore(`${prefix}other:`))
        assert.strictEqual((yield* other.get("/health")).status, 200)
      }).pipe(Effect.scoped),
    30_000
  )

  for (const fault of faults) {
    it.live(
      `Redis ${fault.name}: calls go on within timeout.total, a failing service trips the local breaker, ` +
        `and circuits are shared through Redis again once it answers`,
      logged((logs) =>
        Effect.gen(function*() {
          const { first, proxy, second, server } = yield* proxiedPair(proxiedStore)
          assert.strictEqual((yield* first.get("/health")).status, 200, "Redis answers before the fault")

          yield* fault.inject(proxy)

          // A healthy service: answered within the call's total deadline, where a store call waiting on this
          // Redis would never end (measured without the bound: still waiting after 20 s).
          for (let call = 0; call < 3; call++) {
            const healthBefore = (yield* server.requestsTo("/health")).length
            const [elapsed, response] = yield* timed(first.get("/health"))
            assert.strictEqual(response.status, 200)
            assert.strictEqual((yield* server.requestsTo("/health")).length, healthBefore + 1)
            assert.isBelow(elapsed, totalMillis, `call ${call} took ${Math.round(elapsed)} ms`)
          }

          // A failing service still trips, on the local breaker: refused without a request.
          for (let call = 0; call < 3; call++) {
            const [elapsed, error] = yield* timed(Effect.flip(first.get("/status/503")))
            assert.strictEqual(error._tag, "ServiceUnavailableError")
            assert.isBelow(elapsed, totalMillis, `failing call ${call} took ${Math.round(elapsed)} ms`)
          }
          const before = (yield* server.requests).length
          const [elapsed, refused] = yield* timed(Effect.flip(first.get("/status/503")))
          assert.strictEqual(refused._tag, "CircuitOpenError")
          assert.isBelow(elapsed, totalMillis)
          assert.strictEqual((yield* server.requests).length, before, "the refused call sent nothing")

          // Redis answers again: the store is probed, and circuits are shared through it again.
          yield* fault.recover(proxy)
          yield* eventuallyShared(first, second)
          assert.ok(logs.some(unavailable), `a warning says the store is unavailable: ${JSON.stringify(logs)}`)
          assert.ok(
            logs.some((line) => line.includes("circuit breaker store answers again")),
            `a line says the store is back: ${JSON.stringify(logs)}`
          )
        })
      ),
      30_000
    )
  }

  it.live(
    "Redis hanging, then answering again: on a connection remade after a silence, the client returns by itself",
    logged((logs) =>
      Effect.gen(function*() {
        const { first, proxy, second } = yield* proxiedPair(selfHealingStore)
        yield* proxy.hang
        assert.strictEqual((yield* first.get("/health")).status, 200)
        assert.ok(logs.some(unavailable), JSON.stringify(logs))
        // Only the proxy is restored: the lost replies' connection is dropped and made again by the client.
        yield* proxy.restore
        yield* eventuallyShared(first, second)
      })
    ),
    30_000
  )

  it.live(
    "a slow but healthy Redis (100 ms each way) keeps circuits shared: no fallback, no warning",
    logged((logs) =>
      Effect.gen(function*() {
        const { first, proxy, second } = yield* proxiedPair(proxiedStore)
        yield* proxy.slow(100)
        assert.isTrue(yield* sharedThroughRedis(first, second), "the circuit is shared through the slow Redis")
        assert.notOk(logs.some(unavailable), JSON.stringify(logs))
      })
    ),
    30_000
  )

  it.live(
    "an event loop stalled past the store's bound while a store call is in flight is not a Redis failure",
    logged((logs) =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const prefix = yield* RedisPrefix.make("breaker")
        const first = yield* clientWith(server.url, redisStore(prefix))
        const second = yield* clientWith(server.url, redisStore(prefix))
        assert.strictEqual((yield* first.get("/health")).status, 200)
        // The call runs until it waits for Redis; then the process is busy for longer than the store's
        // bound (a quarter of timeout.total, 500 ms) before anything can read Redis's answer.
        const call = yield* Effect.forkChild(first.get("/health"), { startImmediately: true })
        yield* Effect.sync(() => {
          const until = performance.now() + 700
          while (performance.now() < until) {
            // busy
          }
        })
        assert.strictEqual((yield* Fiber.join(call)).status, 200)
        assert.notOk(logs.some(unavailable), JSON.stringify(logs))
        assert.isTrue(yield* sharedThroughRedis(first, second), "circuits are still shared")
      })
    ),
    30_000
  )
})

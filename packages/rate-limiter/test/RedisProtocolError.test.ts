/**
 * RELIABILITY 17 and 19: a server that answers in something other than
 * Redis's protocol (RESP) is a connection known lost, not a silent Redis.
 * Against a real Redis behind `RedisProxy.garbage` (every command answered
 * with bytes that are not RESP) and a tiny server that greets with an SSH
 * banner: calls fail at once with `RateLimiterUnavailableError` saying so and
 * naming the URL (credentials redacted), or go to the local fallback at once;
 * nothing waits for the 2 s watchdog or `maxTimeout`; the store is back once
 * Redis answers again.
 *
 * The bound asserted, 1 s, is half of what every call waited before (the 2 s
 * of `maxTimeout` and of the connection's watchdog), so a loaded machine has
 * room and a regression does not.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Redact from "@httpkit/core/Redact"
import { RateLimiterUnavailableError } from "@httpkit/rate-limiter"
import * as LoggingTest from "@httpkit/testing/LoggingTest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Context, Effect, Layer } from "effect"
import * as Net from "node:net"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { eventually, timed } from "./support/items.ts"

/** Well under the 2 s that calls waited before (`maxTimeout`, the watchdog), with room for a loaded machine. */
const promptly = 1_000

/** What the store says of a server whose replies are not RESP. */
const notRedis = /answered in something other than Redis's protocol \(RESP\)/

/** A window of one a minute on `id`. */
const once = (id: string): LimiterStore.Item => ({
  id,
  kind: "window",
  limit: 1,
  windowMillis: 60_000,
  burst: 1,
  cost: 1
})

/**
 * One reservation of `once(id)` by a caller who can wait 10 s: without an answer it waits `maxTimeout` (2 s),
 * so failing sooner means the store knew the connection was unusable.
 */
const reserve = (store: LimiterStore.Store, id: string) =>
  store.reserve({ items: [once(id)], blockKey: undefined, maxWaitMillis: 10_000 })

/** The store's own lines about its connection. */
const connectionLines = (lines: ReadonlyArray<string>) =>
  lines.filter((line) => /lost|restored|cannot reach|no Redis/.test(line))

/** A failed call: the typed error, at once, saying the server's replies are not RESP and naming `url`. */
const failsAtOnce = (effect: Effect.Effect<unknown, unknown>, url: string) =>
  Effect.gen(function*() {
    const [elapsed, error] = yield* timed(Effect.flip(effect))
    assert.ok(error instanceof RateLimiterUnavailableError, String(error))
    assert.strictEqual(error.backend, "redis")
    assert.strictEqual(error.retryable, true)
    assert.match(error.detail, notRedis)
    assert.include(error.detail, url)
    assert.notMatch(error.detail, /no answer/)
    assert.isBelow(elapsed, promptly, `failed after ${elapsed} ms: ${error.detail}`)
    return error
  })

/** A limiter of a global window of 1,000 a second on `store`. */
const limiterOn = (store: LimiterStore.Store, options: Omit<RateLimiter.Options, "policies"> = {}) =>
  RateLimiter.make({
    policies: [Policy.window({ limit: 1_000, window: "1 second", keyBy: "global" })],
    ...options
  }).pipe(Effect.provideService(LimiterStore.LimiterStore, store))

/** What one acquisition came to (`ok` or the error's tag), and how long it took in real ms. */
const acquired = (limiter: RateLimiter.Service) =>
  timed(
    Effect.scoped(limiter.acquire()).pipe(
      Effect.as("ok"),
      Effect.catch((error) => Effect.succeed(error._tag))
    )
  )

/**
 * A TCP server on loopback that greets every connection with an SSH banner and reads what it is sent without
 * answering (a REDIS_URL pointing at the wrong port); closed with the scope.
 */
const bannerServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly port: number }>(
      (resolve) => {
        const sockets = new Set<Net.Socket>()
        const server = Net.createServer((socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => socket.destroy())
          socket.write("SSH-2.0-OpenSSH_9.6\r\n")
          socket.resume()
        })
        server.listen(
          0,
          "127.0.0.1",
          () => resolve({ server, sockets, port: (server.address() as Net.AddressInfo).port })
        )
      }
    )
  ),
  ({ server, sockets }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
    )
)

await RedisTest.describeWithRedis("RedisStore: replies that are not RESP (RELIABILITY 17, 19)", () => {
  it.live(
    "Redis answering garbage mid-run: the call that meets it and every call after fail at once (under 1 s, not the 2 s maxTimeout) with RateLimiterUnavailableError naming the URL and the protocol, run nothing, and the store is back once Redis answers",
    () =>
      Effect.gen(function*() {
        const logs = LoggingTest.recordingLogger()
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        const store = yield* RedisStore.make({ url: proxy.url, prefix: RedisPrefix.fresh("rl") }).pipe(
          Effect.provide(logs.layer)
        )
        assert.strictEqual((yield* reserve(store, "before"))._tag, "Granted")

        yield* proxy.garbage
        // The first call meets the garbage on the open connection; the next find it gone (and each new
        // connection's handshake answered with garbage too).
        const first = yield* failsAtOnce(reserve(store, "during"), proxy.url)
        assert.match(first.detail, /not connected to Redis/)
        for (let i = 0; i < 5; i++) {
          yield* failsAtOnce(reserve(store, "during"), proxy.url)
          yield* Effect.sleep(100)
        }
        // The other calls of the store likewise, not only reservations.
        yield* failsAtOnce(store.block("held", 1_000), proxy.url)
        yield* failsAtOnce(
          store.lease({ id: "lease", max: 1, token: "a", leaseMillis: 60_000, maxWaitMillis: 10_000 }),
          proxy.url
        )

        yield* proxy.restore
        assert.strictEqual((yield* eventually(reserve(store, "probe"), 10_000))._tag, "Granted")
        // Nothing that failed ran on Redis: "during" is fresh, and the state from before is still there.
        assert.strictEqual((yield* reserve(store, "during"))._tag, "Granted")
        assert.strictEqual((yield* reserve(store, "during"))._tag, "Refused")
        assert.strictEqual((yield* reserve(store, "before"))._tag, "Refused")
        // One line when the replies went bad, saying why, and one when Redis was back: none per failed attempt.
        assert.deepStrictEqual(connectionLines(logs.lines), [
          `RedisStore: lost the connection to ${proxy.url}, reconnecting: the server there answered in something other than Redis's protocol (RESP): Error: Unknown RESP type 167 "\u00a7"`,
          `RedisStore: connection to ${proxy.url} restored`
        ])
      }),
    30_000
  )

  it.live(
    "Redis answering garbage mid-run with onStoreFailure \"local\": the local fallback admits at once (under 1 s), and a limiter failing closed refuses at once",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        const store = yield* RedisStore.make({ url: proxy.url, prefix: RedisPrefix.fresh("rl") })
        const open = yield* limiterOn(store, { onStoreFailure: "local" })
        const closed = yield* limiterOn(store)
        assert.strictEqual((yield* acquired(open))[1], "ok")

        yield* proxy.garbage
        for (const limiter of [open, closed, open, closed]) {
          const [millis, outcome] = yield* acquired(limiter)
          assert.strictEqual(outcome, limiter === open ? "ok" : "RateLimiterUnavailableError")
          assert.isBelow(millis, promptly, `${outcome} after ${millis} ms`)
        }
        const error = yield* Effect.flip(Effect.scoped(closed.acquire()))
        assert.strictEqual(error._tag, "RateLimiterUnavailableError")
        assert.match(error.message, notRedis)

        yield* proxy.restore
        yield* eventually(Effect.scoped(closed.acquire()), 10_000)
      }),
    30_000
  )
})

describe("RedisStore: a server that is not Redis (RELIABILITY 17, 19)", () => {
  it.live(
    "REDIS_URL at a server that greets with an SSH banner: the layer builds at once (under 1 s, not the 2 s connectTimeout), and every call fails at once saying the server there is not speaking RESP, the URL's password redacted",
    () =>
      Effect.gen(function*() {
        const { port } = yield* bannerServer
        const url = `redis://someone:s3cret-pa55@127.0.0.1:${port}`
        const logs = LoggingTest.recordingLogger()
        const [building, context] = yield* timed(
          Layer.build(
            RateLimiter.layer({ policies: [Policy.rate({ limit: 10, window: "1 second" })] }).pipe(
              Layer.provide(RedisStore.layer({ url }))
            )
          ).pipe(Effect.provide(logs.layer))
        )
        assert.isBelow(building, promptly, `the layer took ${building} ms`)
        const limiter = Context.get(context, RateLimiter.RateLimiter)
        for (let i = 0; i < 3; i++) {
          const error = yield* failsAtOnce(Effect.scoped(limiter.acquire({ key: "x" })), Redact.url(url))
          assert.match(error.detail, /Unknown RESP type 83 "S"/)
          for (const text of [error.detail, error.message, JSON.stringify(error), String(error)]) {
            assert.notInclude(text, "s3cret-pa55")
          }
        }
        // One line (logged by the store's connecting fiber, maybe after the calls above), saying it is no Redis,
        // not that it cannot be reached; no password.
        yield* eventually(
          Effect.suspend(() => connectionLines(logs.lines).length > 0 ? Effect.void : Effect.fail("no line yet")),
          5_000
        )
        yield* Effect.sleep(500)
        const lines = connectionLines(logs.lines)
        assert.strictEqual(lines.length, 1, lines.join("\n"))
        assert.match(lines[0]!, /^RedisStore: no Redis at redis:\/\/.*127\.0\.0\.1:\d+, retrying: /)
        assert.match(lines[0]!, notRedis)
        assert.notInclude(lines[0]!, "s3cret-pa55")
      }),
    30_000
  )

  it.live(
    "a server that is not Redis with onStoreFailure \"local\": the store is ready and every acquisition goes to the local fallback at once (under 1 s each)",
    () =>
      Effect.gen(function*() {
        const { port } = yield* bannerServer
        // The layer waits for the first connection attempt: at once here, so the first request is not held up.
        const [building, store] = yield* timed(RedisStore.make({ url: `redis://127.0.0.1:${port}` }))
        assert.isBelow(building, promptly, `the store took ${building} ms`)
        const limiter = yield* limiterOn(store, { onStoreFailure: "local", retryStoreAfter: "100 millis" })
        for (let i = 0; i < 5; i++) {
          const [millis, outcome] = yield* acquired(limiter)
          assert.strictEqual(outcome, "ok")
          assert.isBelow(millis, promptly, `after ${millis} ms`)
          yield* Effect.sleep(150)
        }
      }),
    30_000
  )
})

/**
 * The limiter's policy when Redis fails (RELIABILITY 17), against a real
 * Redis behind a TCP proxy: fail closed with a typed error, or fail open to
 * a local limit with a warning, and back to the shared limit when Redis
 * returns. Two limiters on one Redis show whether the limit is shared.
 */
import { assert, it } from "@effect/vitest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect, Logger } from "effect"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"

/** One request per minute for everyone: a second limiter is refused only if the limit is shared. */
const policies = [Policy.window({ limit: 1, window: "1 minute", keyBy: "global" })]

/** A limiter on Redis at `url`, failing fast on a limit, with `onStoreFailure`. */
const limiterOn = (url: string, prefix: string, onStoreFailure: "fail" | "local") =>
  Effect.gen(function*() {
    const store = yield* RedisStore.make({ url, prefix, timeout: 250 })
    return yield* RateLimiter.make({
      policies,
      onLimit: "fail",
      onStoreFailure,
      retryStoreAfter: "200 millis"
    }).pipe(Effect.provideService(LimiterStore.LimiterStore, store))
  })

/** What one acquisition came to: `ok` or the error's tag, and how long it took. */
const outcome = (limiter: RateLimiter.Service) =>
  Effect.gen(function*() {
    const started = performance.now()
    const tag = yield* Effect.scoped(limiter.acquire()).pipe(
      Effect.as("ok"),
      Effect.catch((error) => Effect.succeed(error._tag))
    )
    return { tag, millis: performance.now() - started }
  })

/** Collects warning lines logged while `effect` runs. */
const withLogs = <A, E, R>(logs: Array<string>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provide(
      Logger.layer([
        Logger.make<unknown, void>(({ message }) => {
          logs.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
      ])
    )
  )

await RedisTest.describeWithRedis("RateLimiter when Redis fails", () => {
  it.live(
    "fail closed: down at start gives RateLimiterUnavailableError at once, then the shared limit",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        const prefix = yield* RedisPrefix.make("rl")
        const limiter = yield* limiterOn(proxy.url, prefix, "fail")
        const down = yield* outcome(limiter)
        assert.strictEqual(down.tag, "RateLimiterUnavailableError")
        assert.isBelow(down.millis, 2_000)
        yield* proxy.start
        // Recovered: one admission, then the shared limit refuses, here and in another limiter on the same Redis.
        let first = yield* outcome(limiter)
        for (let i = 0; i < 50 && first.tag !== "ok"; i++) {
          yield* Effect.sleep(100)
          first = yield* outcome(limiter)
        }
        assert.strictEqual(first.tag, "ok")
        const other = yield* limiterOn(RedisTest.url, prefix, "fail")
        assert.strictEqual((yield* outcome(other)).tag, "RateLimitExceededError")
      }),
    30_000
  )

  it.live(
    "fail open: a local limit with one warning while Redis is away, the shared one when it is back",
    () =>
      Effect.gen(function*() {
        const logs: Array<string> = []
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        const prefix = yield* RedisPrefix.make("rl")
        const limiter = yield* limiterOn(proxy.url, prefix, "local")
        const other = yield* limiterOn(RedisTest.url, prefix, "fail")
        // Lost mid-run: this limiter goes on under its own limit (one a minute), with a warning.
        yield* proxy.stop
        const whileDown = yield* withLogs(logs, Effect.all([outcome(limiter), outcome(limiter), outcome(limiter)]))
        assert.deepStrictEqual(whileDown.map((o) => o.tag), ["ok", "RateLimitExceededError", "RateLimitExceededError"])
        assert.ok(whileDown.every((o) => o.millis < 2_000), JSON.stringify(whileDown))
        assert.strictEqual(logs.filter((line) => line.includes("unavailable")).length, 1, logs.join("\n"))
        // Redis never saw those: the other limiter still gets the shared slot.
        assert.strictEqual((yield* outcome(other)).tag, "ok")
        // Back: after retryStoreAfter, this limiter is refused by the shared limit the other one spent.
        yield* proxy.start
        let back = yield* withLogs(logs, outcome(limiter))
        for (let i = 0; i < 50 && !logs.some((line) => line.includes("is back")); i++) {
          yield* Effect.sleep(100)
          back = yield* withLogs(logs, outcome(limiter))
        }
        assert.ok(logs.some((line) => line.includes("is back")), logs.join("\n"))
        assert.strictEqual(back.tag, "RateLimitExceededError")
      }),
    30_000
  )

  it.live(
    "a slow Redis: fail closed answers within the timeout, fail open goes on locally; nothing hangs",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        const closed = yield* limiterOn(proxy.url, RedisPrefix.fresh("rl"), "fail")
        const open = yield* limiterOn(proxy.url, RedisPrefix.fresh("rl"), "local")
        // Connected first, then slowed down.
        assert.strictEqual((yield* outcome(closed)).tag, "ok")
        assert.strictEqual((yield* outcome(open)).tag, "ok")
        yield* proxy.slow(1_500)
        const slowClosed = yield* outcome(closed)
        assert.strictEqual(slowClosed.tag, "RateLimiterUnavailableError")
        assert.isBelow(slowClosed.millis, 1_400)
        const slowOpen = yield* withLogs([], outcome(open))
        // The fallback has its own fresh limit of one.
        assert.strictEqual(slowOpen.tag, "ok")
        assert.isBelow(slowOpen.millis, 1_400)
        yield* proxy.restore
      }),
    30_000
  )
})

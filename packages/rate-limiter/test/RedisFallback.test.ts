/**
 * The limiter's policy when Redis fails (RELIABILITY 17), against a real
 * Redis behind a TCP proxy: fail closed with a typed error, or fail open to
 * a local limit with a warning, and back to the shared limit when Redis
 * returns. Two limiters on one Redis show whether the limit is shared.
 */
import { assert, it } from "@effect/vitest"
import * as LagTimer from "@httpkit/core/LagTimer"
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

/**
 * A limiter on Redis at `url`, failing fast on a limit, with `onStoreFailure`. Its store waits 250 ms for an
 * answer, or up to `maxTimeout` (default 2 s) when Redis was lately slow.
 */
const limiterOn = (
  url: string,
  prefix: string,
  onStoreFailure: "fail" | "local",
  maxTimeout?: RedisStore.Options["maxTimeout"]
) =>
  Effect.gen(function*() {
    const store = yield* RedisStore.make({
      url,
      prefix,
      timeout: 250,
      ...(maxTimeout === undefined ? {} : { maxTimeout })
    })
    return yield* RateLimiter.make({
      policies,
      onLimit: "fail",
      onStoreFailure,
      retryStoreAfter: "200 millis"
    }).pipe(Effect.provideService(LimiterStore.LimiterStore, store))
  })

/**
 * The longest a call may take: the store waits at most `maxTimeout` (2 s by default, when Redis was lately slow)
 * of time this process was free, which stalls stretch to `LagTimer.ceilingMillis` at most, plus room for a loaded
 * machine to run the rest (6.5 s). The calls below take milliseconds (250 ms when Redis is slow) on a quiet
 * machine; the bound tells "answered on the store's own deadline" from "waited for Redis's answer" (10 s in the
 * slow test) or "hung", not a fast machine from a slow one.
 */
const boundMillis = LagTimer.ceilingMillis(2_000) + 1_500

/** What one acquisition came to: `ok` or the error's tag, its detail when the store failed, and how long it took. */
const outcome = (limiter: RateLimiter.Service) =>
  Effect.gen(function*() {
    const started = performance.now()
    const [tag, detail] = yield* Effect.scoped(limiter.acquire()).pipe(
      Effect.as(["ok", ""] as const),
      Effect.catch((error) =>
        Effect.succeed([error._tag, error._tag === "RateLimiterUnavailableError" ? error.detail : ""] as const)
      )
    )
    return { tag, detail, millis: performance.now() - started }
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
        // Nothing waits on the lost connection: each call answers within the store's own bound.
        assert.ok(whileDown.every((o) => o.millis < boundMillis), JSON.stringify(whileDown))
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
    "a slow Redis (answers 10 s after each command): fail closed gives up at the store's timeout (250 ms), fail open goes on locally; neither waits for the answer",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        // maxTimeout = timeout: the store waits 250 ms, never three recent round trips (which a loaded machine
        // can make slow at the connection's first PING), so the deadline the test expects is the one it gets.
        const closed = yield* limiterOn(proxy.url, RedisPrefix.fresh("rl"), "fail", 250)
        const open = yield* limiterOn(proxy.url, RedisPrefix.fresh("rl"), "local", 250)
        // Connected first, each spending its one slot a minute on Redis, then slowed down: every chunk is held
        // 5 s each way, so no answer to a command sent from here on comes within 10 s of it.
        assert.strictEqual((yield* outcome(closed)).tag, "ok")
        assert.strictEqual((yield* outcome(open)).tag, "ok")
        const answerMillis = 2 * 5_000
        yield* proxy.slow(answerMillis / 2)

        const logs: Array<string> = []
        const [slowClosed, slowOpen] = yield* Effect.all([outcome(closed), withLogs(logs, outcome(open))], {
          concurrency: "unbounded"
        })
        // Redis's answer would be a refusal (the slot is spent): the typed error is the store's deadline, 250 ms
        // of time this process was free, which stalls stretch to LagTimer.ceilingMillis(250) at most.
        assert.strictEqual(slowClosed.tag, "RateLimiterUnavailableError", JSON.stringify(slowClosed))
        assert.match(slowClosed.detail, /no answer from Redis within 250 ms/)
        // Well before any answer could come (10 s); on a quiet machine about 250 ms.
        assert.isBelow(slowClosed.millis, boundMillis, JSON.stringify(slowClosed))
        // Redis's answer would be a refusal too: the fallback's fresh limit of one admits, with one warning.
        assert.strictEqual(slowOpen.tag, "ok", JSON.stringify(slowOpen))
        assert.strictEqual(logs.filter((line) => line.includes("unavailable")).length, 1, logs.join("\n"))
        assert.isBelow(slowOpen.millis, boundMillis, JSON.stringify(slowOpen))
        yield* proxy.restore
      }),
    30_000
  )
})

/**
 * RELIABILITY 17 against a real Redis behind a TCP proxy: down at start, lost
 * mid-run, slow, scripts flushed, and nothing hangs. Every wait is bounded;
 * assertions are on outcomes and generous bounds, never on tight timings.
 */
import { assert, it } from "@effect/vitest"
import { RateLimiterUnavailableError } from "@httpkit/client/ClientError"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect, Exit, Scope } from "effect"
import { createHash } from "node:crypto"
import { createClient } from "redis"
import * as Script from "../src/internal/redisScript.ts"
import type * as LimiterStore from "../src/LimiterStore.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { freshPrefix, take, windowItem } from "./support/items.ts"

const timeoutMillis = 250
/** Room for a loaded machine on top of the store's own timeout. */
const margin = 1_500

/** Runs `effect` and says how long it took in real milliseconds. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const result = yield* effect
    return [performance.now() - start, result] as const
  })

/** Fails with the typed error, within the store's timeout plus a margin. */
const failsFast = (store: LimiterStore.Store, item: LimiterStore.Item) =>
  Effect.gen(function*() {
    const [elapsed, error] = yield* timed(Effect.flip(take(store, item)))
    assert.ok(error instanceof RateLimiterUnavailableError)
    assert.strictEqual(error.backend, "redis")
    assert.strictEqual(error.retryable, true)
    assert.ok(elapsed < timeoutMillis + margin, `failed after ${elapsed} ms`)
    return error
  })

/** Retries `effect` every 100 ms until it succeeds, for at most `withinMillis`; returns how long it took. */
const eventually = <A, E>(effect: Effect.Effect<A, E>, withinMillis: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    let last: unknown
    while (performance.now() - start < withinMillis) {
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit)) return performance.now() - start
      last = exit.cause
      yield* Effect.sleep(100)
    }
    return assert.fail(`still failing after ${withinMillis} ms: ${String(last)}`)
  })

await RedisTest.describeWithRedis("RedisStore under faults", () => {
  it.live(
    "Redis down at start: the layer builds, calls fail fast, then work once Redis is reachable",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        const store = yield* RedisStore.make({ url: proxy.url, prefix: freshPrefix(), timeout: timeoutMillis })
        for (let i = 0; i < 3; i++) {
          const error = yield* failsFast(store, windowItem("down", 1, 60_000))
          assert.match(error.detail, /not connected/)
        }
        yield* proxy.start
        const waited = yield* eventually(take(store, windowItem("probe", 1, 60_000)), 10_000)
        assert.ok(waited < 10_000)
        // The refused calls were never sent: the item is still fresh.
        assert.strictEqual((yield* take(store, windowItem("down", 1, 60_000)))._tag, "Granted")
        assert.strictEqual((yield* take(store, windowItem("down", 1, 60_000)))._tag, "Refused")
      }),
    30_000
  )

  it.live("an error never shows the URL's password", () =>
    Effect.gen(function*() {
      const proxy = yield* RedisProxy.make()
      const url = proxy.url.replace("redis://", "redis://someone:s3cret-pa55@")
      const store = yield* RedisStore.make({ url, timeout: timeoutMillis })
      const error = yield* failsFast(store, windowItem("secret", 1, 60_000))
      for (const text of [error.detail, error.message, JSON.stringify(error), String(error)]) {
        assert.notInclude(text, "s3cret-pa55")
      }
    }), 30_000)

  it.live(
    "lost mid-run: calls fail fast instead of queueing, and the store reconnects by itself",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        const store = yield* RedisStore.make({ url: proxy.url, prefix: freshPrefix(), timeout: timeoutMillis })
        assert.strictEqual((yield* take(store, windowItem("before", 1, 60_000)))._tag, "Granted")
        const acceptedBefore = proxy.accepted()

        yield* proxy.stop
        for (let i = 0; i < 5; i++) yield* failsFast(store, windowItem("during", 1, 60_000))
        // Still down a while later (reconnect attempts are failing): still fast.
        yield* Effect.sleep(1_000)
        yield* failsFast(store, windowItem("during", 1, 60_000))

        yield* proxy.start
        yield* eventually(take(store, windowItem("probe", 1, 60_000)), 10_000)
        assert.ok(proxy.accepted() > acceptedBefore, "the store made a new connection")
        // Nothing that failed was queued and sent later: "during" is untouched.
        assert.strictEqual((yield* take(store, windowItem("during", 1, 60_000)))._tag, "Granted")
        assert.strictEqual((yield* take(store, windowItem("during", 1, 60_000)))._tag, "Refused")
        // State from before the outage is still there.
        assert.strictEqual((yield* take(store, windowItem("before", 1, 60_000)))._tag, "Refused")
      }),
    30_000
  )

  it.live(
    "slow Redis: a call fails at the timeout, and calls work again when Redis is fast",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        const store = yield* RedisStore.make({ url: proxy.url, prefix: freshPrefix(), timeout: timeoutMillis })
        assert.strictEqual((yield* take(store, windowItem("warm", 1, 60_000)))._tag, "Granted")

        yield* proxy.slow(1_000)
        const [elapsed, error] = yield* timed(Effect.flip(take(store, windowItem("slow", 1, 60_000))))
        assert.ok(error instanceof RateLimiterUnavailableError)
        assert.match(error.detail, /within 250 ms/)
        assert.ok(elapsed >= timeoutMillis - 20 && elapsed < timeoutMillis + margin, `failed after ${elapsed} ms`)

        yield* proxy.restore
        yield* eventually(take(store, windowItem("probe", 1, 60_000)), 10_000)
      }),
    30_000
  )

  it.live("SCRIPT FLUSH: the store loads its scripts again and carries on", () =>
    Effect.gen(function*() {
      const client = yield* Effect.acquireRelease(
        Effect.promise(() => createClient({ url: RedisTest.url }).connect()),
        (c) => Effect.sync(() => c.destroy())
      )
      const sha = createHash("sha1").update(Script.reserve.lua).digest("hex")
      const store = yield* RedisStore.make({ url: RedisTest.url, prefix: freshPrefix(), timeout: "5 seconds" })
      assert.strictEqual((yield* take(store, windowItem("a", 1, 60_000)))._tag, "Granted")
      yield* Effect.promise(() => client.scriptFlush())
      assert.deepStrictEqual(yield* Effect.promise(() => client.scriptExists(sha)), [0])
      assert.strictEqual((yield* take(store, windowItem("a", 1, 60_000)))._tag, "Refused")
      assert.strictEqual((yield* take(store, windowItem("b", 1, 60_000)))._tag, "Granted")
      assert.deepStrictEqual(yield* Effect.promise(() => client.scriptExists(sha)), [1])
    }), 30_000)

  it.live(
    "nothing hangs: a store closes promptly while Redis is silent, and a silent Redis at start is bounded",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start

        // Closing while a call waits on a silent Redis.
        const scope = yield* Scope.make()
        const store = yield* RedisStore.make({ url: proxy.url, prefix: freshPrefix(), timeout: timeoutMillis }).pipe(
          Scope.provide(scope)
        )
        assert.strictEqual((yield* take(store, windowItem("warm", 1, 60_000)))._tag, "Granted")
        yield* proxy.slow(20_000)
        yield* failsFast(store, windowItem("silent", 1, 60_000))
        const [closing] = yield* timed(Scope.close(scope, Exit.void))
        assert.ok(closing < margin, `closing took ${closing} ms`)

        // A server that accepts but never answers: the layer still builds, within the connect timeout.
        const [building, silent] = yield* timed(
          RedisStore.make({ url: proxy.url, timeout: timeoutMillis, connectTimeout: "500 millis" })
        )
        assert.ok(building < 500 + margin, `building took ${building} ms`)
        yield* failsFast(silent, windowItem("silent", 1, 60_000))
      }),
    30_000
  )
})

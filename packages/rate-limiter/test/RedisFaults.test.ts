/**
 * RELIABILITY 17 against a real Redis behind a TCP proxy: down at start, lost
 * mid-run, slow, scripts flushed, and nothing hangs. Every wait is bounded;
 * assertions are on outcomes and generous bounds, never on tight timings.
 *
 * RELIABILITY 21 too: a slow but healthy Redis, and a stalled event loop, slow
 * requests down without failing them, while a hung Redis still fails closed
 * within a bound.
 */
import { assert, it } from "@effect/vitest"
import * as LagTimer from "@httpkit/core/LagTimer"
import { RateLimiterUnavailableError } from "@httpkit/rate-limiter"
import * as LoggingTest from "@httpkit/testing/LoggingTest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { createHash } from "node:crypto"
import * as Script from "../src/internal/redisScript.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { eventually, limiterOn, take, timed, windowItem } from "./support/items.ts"
import { proxiedStore } from "./support/proxied.ts"
import { rawRedis } from "./support/rawRedis.ts"
import { blockEventLoop } from "./support/stall.ts"

const timeoutMillis = 250
/** Room for a loaded machine on top of the store's own timeout. */
const margin = 1_500

/** A window of one a minute on `id`: granted once, then refused. */
const once = (id: string) => windowItem(id, 1, 60_000)

/** What one fail-fast reservation of `once(id)` came to: `Granted` or `Refused`. */
const taken = (store: LimiterStore.Store, id: string) =>
  Effect.map(take(store, once(id)), (reservation) => reservation._tag)

/** A store behind a started proxy, with the store's short timeout unless `options` say otherwise. */
const faultyStore = (options: Parameters<typeof proxiedStore>[0] = {}) =>
  proxiedStore({ timeout: timeoutMillis, ...options })

/**
 * Fails with the typed error on the store's own deadline: at once when it is not connected, or after the wait
 * its detail names (`no answer from Redis within 250 ms`). A call with no wait budget waits `timeout`, or three
 * recent round trips when those were slow (a loaded machine's can be), never more than `maxTimeoutMillis`; a
 * stalled process stretches that wait to `LagTimer.ceilingMillis` at most, and `margin` is room for the rest.
 */
const failsFast = (store: LimiterStore.Store, item: LimiterStore.Item, maxTimeoutMillis = 2_000) =>
  Effect.gen(function*() {
    const [elapsed, error] = yield* timed(Effect.flip(take(store, item)))
    assert.ok(error instanceof RateLimiterUnavailableError)
    assert.strictEqual(error.backend, "redis")
    assert.strictEqual(error.retryable, true)
    const named = /no answer from Redis within (\d+) ms/.exec(error.detail)
    const waited = named === null ? 0 : Number(named[1])
    assert.ok(waited === 0 || (waited >= timeoutMillis && waited <= maxTimeoutMillis), error.detail)
    assert.ok(elapsed < LagTimer.ceilingMillis(waited) + margin, `failed after ${elapsed} ms: ${error.detail}`)
    return error
  })

await RedisTest.describeWithRedis("RedisStore under faults", () => {
  it.live(
    "Redis down at start: the layer builds, calls fail fast, then work once Redis is reachable",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore({ started: false })
        for (let i = 0; i < 3; i++) {
          const error = yield* failsFast(store, once("down"))
          assert.match(error.detail, /not connected/)
        }
        yield* proxy.start
        yield* eventually(take(store, once("probe")), 10_000)
        // The refused calls were never sent: the item is still fresh.
        assert.strictEqual(yield* taken(store, "down"), "Granted")
        assert.strictEqual(yield* taken(store, "down"), "Refused")
      }),
    30_000
  )

  it.live("an error never shows the URL's password", () =>
    Effect.gen(function*() {
      const proxy = yield* RedisProxy.make()
      const url = proxy.url.replace("redis://", "redis://someone:s3cret-pa55@")
      const store = yield* RedisStore.make({ url, timeout: timeoutMillis })
      const error = yield* failsFast(store, once("secret"))
      for (const text of [error.detail, error.message, JSON.stringify(error), String(error)]) {
        assert.notInclude(text, "s3cret-pa55")
      }
    }), 30_000)

  it.live(
    "lost mid-run: calls fail fast instead of queueing, and the store reconnects by itself",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore()
        assert.strictEqual(yield* taken(store, "before"), "Granted")
        const acceptedBefore = proxy.accepted()

        yield* proxy.stop
        for (let i = 0; i < 5; i++) yield* failsFast(store, once("during"))
        // Still down a while later (reconnect attempts are failing): still fast.
        yield* Effect.sleep(1_000)
        yield* failsFast(store, once("during"))

        yield* proxy.start
        yield* eventually(take(store, once("probe")), 10_000)
        assert.ok(proxy.accepted() > acceptedBefore, "the store made a new connection")
        // Nothing that failed was queued and sent later: "during" is untouched.
        assert.strictEqual(yield* taken(store, "during"), "Granted")
        assert.strictEqual(yield* taken(store, "during"), "Refused")
        // State from before the outage is still there.
        assert.strictEqual(yield* taken(store, "before"), "Refused")
      }),
    30_000
  )

  it.live(
    "slow Redis: a call fails at the timeout, and calls work again when Redis is fast",
    () =>
      Effect.gen(function*() {
        // maxTimeout = timeout: the wait is the timeout, never three recent round trips (which a loaded machine
        // can make slow); waiting for a slow Redis is the next describe's.
        const { proxy, store } = yield* faultyStore({ maxTimeout: timeoutMillis })
        assert.strictEqual(yield* taken(store, "warm"), "Granted")

        yield* proxy.slow(1_000)
        const [elapsed, error] = yield* timed(Effect.flip(take(store, once("slow"))))
        assert.ok(error instanceof RateLimiterUnavailableError)
        assert.match(error.detail, /within 250 ms/)
        // Not before the timeout; after it by no more than a stalled process and a loaded machine stretch it (the
        // answer would take 2 s).
        assert.ok(
          elapsed >= timeoutMillis - 20 && elapsed < LagTimer.ceilingMillis(timeoutMillis) + margin,
          `failed after ${elapsed} ms`
        )

        yield* proxy.restore
        yield* eventually(take(store, once("probe")), 10_000)
      }),
    30_000
  )

  it.live(
    "silent mid-run (commands swallowed): pings unanswered for connectTimeout (500 ms) drop the connection, and a new one serves, in step, once Redis answers",
    () =>
      Effect.gen(function*() {
        const { layer: logger, lines: logs } = LoggingTest.recordingLogger()
        const { proxy, store } = yield* faultyStore({ connectTimeout: "500 millis" }).pipe(Effect.provide(logger))
        assert.strictEqual(yield* taken(store, "before"), "Granted")
        yield* proxy.hang
        yield* failsFast(store, once("silent"))
        // Long enough for the pings to go unanswered for 500 ms, however loaded the machine.
        yield* Effect.sleep(2_000)
        const error = yield* failsFast(store, once("silent"))
        assert.match(error.detail, /not connected/)
        yield* proxy.restore
        yield* eventually(take(store, once("probe")), 10_000)
        assert.isAtLeast(proxy.accepted(), 2, "the store made a new connection")
        // One line when it went silent, one when it was back: not one per failed attempt.
        assert.deepStrictEqual(logs.filter((line) => /lost|restored|cannot reach/.test(line)), [
          `RedisStore: lost the connection to ${proxy.url}, reconnecting: no answer from Redis within 500 ms`,
          `RedisStore: connection to ${proxy.url} restored`
        ])
        // Answers match their commands: the swallowed ones left nothing behind on the new connection.
        assert.strictEqual(yield* taken(store, "before"), "Refused")
        assert.strictEqual(yield* taken(store, "after"), "Granted")
        assert.strictEqual(yield* taken(store, "after"), "Refused")
      }),
    30_000
  )

  it.live("SCRIPT FLUSH: the store loads its scripts again and carries on", () =>
    Effect.gen(function*() {
      const client = yield* rawRedis
      const sha = createHash("sha1").update(Script.reserve.lua).digest("hex")
      const store = yield* RedisStore.make({
        url: RedisTest.url,
        prefix: RedisPrefix.fresh("rl"),
        timeout: "5 seconds"
      })
      assert.strictEqual(yield* taken(store, "a"), "Granted")
      yield* Effect.promise(() => client.scriptFlush())
      assert.deepStrictEqual(yield* Effect.promise(() => client.scriptExists(sha)), [0])
      assert.strictEqual(yield* taken(store, "a"), "Refused")
      assert.strictEqual(yield* taken(store, "b"), "Granted")
      assert.deepStrictEqual(yield* Effect.promise(() => client.scriptExists(sha)), [1])
    }), 30_000)

  it.live(
    "nothing hangs: a store closes promptly while Redis is silent, and a silent Redis at start is bounded",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start

        // Closing while a call waits on a silent Redis (the proxy outlives that store's scope).
        const scope = yield* Scope.make()
        const store = yield* RedisStore.make({
          url: proxy.url,
          prefix: RedisPrefix.fresh("rl"),
          timeout: timeoutMillis
        })
          .pipe(Scope.provide(scope))
        assert.strictEqual(yield* taken(store, "warm"), "Granted")
        yield* proxy.slow(20_000)
        yield* failsFast(store, once("silent"))
        const [closing] = yield* timed(Scope.close(scope, Exit.void))
        assert.ok(closing < margin, `closing took ${closing} ms`)

        // A server that accepts but never answers: the layer still builds, within the connect timeout.
        const [building, silent] = yield* timed(
          RedisStore.make({ url: proxy.url, timeout: timeoutMillis, connectTimeout: "500 millis" })
        )
        assert.ok(building < LagTimer.ceilingMillis(500) + margin, `building took ${building} ms`)
        yield* failsFast(silent, once("silent"))
      }),
    30_000
  )
})

/** A limiter of a global window of `limit` a minute on `store`, failing closed. */
const windowOn = (store: LimiterStore.Store, options: Omit<RateLimiter.Options, "policies">, limit = 1) =>
  limiterOn(store, { policies: [Policy.window({ limit, window: "1 minute", keyBy: "global" })], ...options })

/** What one acquisition came to: `ok` or the error's tag, and how long it took in real ms. */
const acquired = (limiter: RateLimiter.Service) =>
  timed(
    Effect.scoped(limiter.acquire()).pipe(
      Effect.as("ok"),
      Effect.catch((error) => Effect.succeed(error._tag))
    )
  )

await RedisTest.describeWithRedis("RedisStore on a busy machine: slow is not down (RELIABILITY 21)", () => {
  it.live(
    "a slow but healthy Redis (800 ms round trips, above the 250 ms timeout) answers within the wait budget",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore()
        assert.strictEqual(yield* taken(store, "warm"), "Granted")

        yield* proxy.slow(400)
        const item = once("slow")
        const [elapsed, reservation] = yield* timed(
          store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 10_000 })
        )
        assert.strictEqual(reservation._tag, "Granted")
        assert.isAtLeast(elapsed, 700, "the answer really was slow")
        const lease = yield* store.lease({ id: "slow", max: 1, token: "a", leaseMillis: 60_000, maxWaitMillis: 10_000 })
        assert.strictEqual(lease._tag, "Granted")

        // Booked once: the store waited for its answer instead of sending the script again.
        yield* proxy.restore
        assert.strictEqual((yield* take(store, item))._tag, "Refused")
        const other = yield* store.lease({ id: "slow", max: 1, token: "b", leaseMillis: 60_000 })
        assert.strictEqual(other._tag, "Full")
      }),
    30_000
  )

  it.live(
    "through the limiter: a slow Redis delays acquisitions within maxWait, wastes no slot, and the limit holds",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore()
        const limiter = yield* windowOn(store, { maxWait: "10 seconds" }, 2)
        yield* proxy.slow(400)
        const first = yield* acquired(limiter)
        const second = yield* acquired(limiter)
        const third = yield* acquired(limiter)
        assert.deepStrictEqual([first[1], second[1], third[1]], ["ok", "ok", "RateLimitExceededError"])
        assert.isAtLeast(first[0], 700, "the answer really was slow")
      }),
    30_000
  )

  it.live(
    "a Redis 300 ms away (150 ms each way, above the 250 ms timeout): 5 fail-fast acquisitions, hold() and a 429 seen by observe() all reach it, and both holds refuse the next request",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore({ prepare: (proxy) => proxy.slow(150) })
        const limiter = yield* limiterOn(store, {
          policies: [Policy.rate({ limit: 1_000, window: "1 second" })],
          onLimit: "fail"
        })
        const outcome = (key: string) =>
          Effect.scoped(limiter.acquire({ key })).pipe(
            Effect.as("ok"),
            Effect.catch((error) => Effect.succeed(error._tag === "RateLimitExceededError" ? error.policy : error._tag))
          )
        const [elapsed, acquisitions] = yield* timed(Effect.forEach(["a", "b", "c", "d", "e"], outcome))
        assert.deepStrictEqual(acquisitions, ["ok", "ok", "ok", "ok", "ok"])
        assert.isAtLeast(elapsed, 5 * 300 - 50, "the answers really were slow")
        yield* limiter.hold("held", "30 seconds")
        const logs = yield* LoggingTest.withLines((lines) =>
          Effect.as(limiter.observe({ key: "observed", status: 429, headers: { "retry-after": "30" } }), lines)
        )
        assert.deepStrictEqual(logs, [])
        yield* proxy.restore
        assert.strictEqual(yield* outcome("held"), "server hold")
        assert.strictEqual(yield* outcome("observed"), "server hold")
      }),
    30_000
  )

  it.live(
    "a hung Redis still fails closed, within maxTimeout, or goes to the local fallback",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore({ maxTimeout: "1 second" })
        const closed = yield* windowOn(store, { maxWait: "30 seconds" })
        const open = yield* windowOn(store, { maxWait: "30 seconds", onStoreFailure: "local" })
        assert.strictEqual(yield* taken(store, "warm"), "Granted")

        yield* proxy.hang
        const [closedMillis, closedTag] = yield* acquired(closed)
        assert.strictEqual(closedTag, "RateLimiterUnavailableError")
        // Bounded by maxTimeout (1 s), stalls aside; never the 30 s the caller would wait for a slot.
        assert.isBelow(closedMillis, LagTimer.ceilingMillis(1_000) + margin)
        const [openMillis, openTag] = yield* acquired(open)
        assert.strictEqual(openTag, "ok")
        assert.isBelow(openMillis, LagTimer.ceilingMillis(1_000) + margin)
        // A store call with no wait budget gives up at `timeout` (or recent round trips, within maxTimeout).
        yield* failsFast(store, once("hung"), 1_000)
      }),
    30_000
  )

  it.live(
    "a 400 ms stall of the event loop while a call is in flight does not fail it, 250 ms timeout or not",
    () =>
      Effect.gen(function*() {
        const store = yield* RedisStore.make({
          url: RedisTest.url,
          prefix: RedisPrefix.fresh("rl"),
          timeout: timeoutMillis
        })
        assert.strictEqual(yield* taken(store, "warm"), "Granted")
        // No wait budget (`take` asks with maxWaitMillis 0): only the 250 ms timeout bounds these calls.
        for (let i = 0; i < 5; i++) {
          const call = yield* Effect.forkChild(Effect.exit(take(store, once(`stall-${i}`))))
          // Let the call reach node-redis, then stall: the command goes out, or waits in its write queue.
          yield* Effect.yieldNow
          blockEventLoop(400)
          const exit = yield* Fiber.join(call)
          assert.ok(Exit.isSuccess(exit), `call ${i}: ${String(exit)}`)
          assert.strictEqual(exit._tag === "Success" && exit.value._tag, "Granted")
        }
        // Through the limiter, failing fast on the limit (no wait budget either).
        const limiter = yield* windowOn(store, { onLimit: "fail" })
        const acquisition = yield* Effect.forkChild(acquired(limiter))
        yield* Effect.yieldNow
        blockEventLoop(400)
        assert.strictEqual((yield* Fiber.join(acquisition))[1], "ok")
      }),
    30_000
  )

  it.live(
    "a 2.5 s stall inside a permit while 9 acquisitions wait for Redis's answer (past the 2 s connectTimeout) drops no connection: all 10 and the next 20 are granted on the one connection",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* proxiedStore()
        const limiter = yield* limiterOn(store, {
          policies: [Policy.rate({ limit: 1_000, window: "1 second", keyBy: "global" })]
        })
        const outcome = (effect: Effect.Effect<void, unknown>) =>
          limiter.withPermit(effect).pipe(
            Effect.as("ok"),
            Effect.catch((error) => Effect.succeed(String(error)))
          )
        assert.strictEqual(yield* outcome(Effect.void), "ok")
        // The first permit granted stalls the loop while the others' answers arrive unread.
        let stalled = false
        const stalledRound = yield* Effect.forEach(
          Array.from({ length: 10 }),
          () =>
            outcome(Effect.sync(() => {
              if (stalled) return
              stalled = true
              blockEventLoop(2_500)
            })),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(stalledRound, Array.from({ length: 10 }, () => "ok"))
        const next = yield* Effect.forEach(Array.from({ length: 20 }), () => outcome(Effect.void), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(next, Array.from({ length: 20 }, () => "ok"))
        assert.strictEqual(proxy.accepted(), 1, "the store kept its one connection")
      }),
    30_000
  )

  it.live(
    "a lease call interrupted after it reached Redis, or timed out, leaves no slot taken: the next acquirer goes",
    () =>
      Effect.gen(function*() {
        const { proxy, store } = yield* faultyStore()
        const limiter = yield* limiterOn(store, { policies: [Policy.concurrency({ max: 1, lease: "30 seconds" })] })
        yield* limiter.withPermit(Effect.void, { key: "k" })
        const next = () => Effect.result(limiter.withPermit(Effect.succeed("went"), { key: "k", maxWait: "3 seconds" }))
        // Interrupted: every chunk held 100 ms each way, so at 150 ms the script has run and its answer is on
        // the way back.
        yield* proxy.slow(100)
        const fiber = yield* Effect.forkChild(limiter.withPermit(Effect.never, { key: "k" }))
        yield* Effect.sleep(150)
        yield* Fiber.interrupt(fiber)
        yield* proxy.restore
        const afterInterrupt = yield* next()
        assert.ok(afterInterrupt._tag === "Success", String(afterInterrupt))
        // Timed out: 400 ms each way, past the 250 ms a call with no wait budget waits.
        yield* proxy.slow(400)
        const timedOut = yield* Effect.flip(limiter.withPermit(Effect.void, { key: "k", maxWait: 0 }))
        assert.strictEqual(timedOut._tag, "RateLimiterUnavailableError")
        yield* proxy.restore
        const afterTimeout = yield* next()
        assert.ok(afterTimeout._tag === "Success", String(afterTimeout))
      }),
    30_000
  )

  it.live(
    "40 waiters on a Redis window of 10 per 2 s interrupted give their bookings back: the next goes at once when the first 10 leave",
    () =>
      Effect.gen(function*() {
        const prefix = RedisPrefix.fresh("rl")
        const store = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "10 seconds" })
        const limiter = yield* limiterOn(store, {
          policies: [Policy.window({ limit: 10, window: "2 seconds" })],
          maxWait: "1 minute"
        })
        const fibers = yield* Effect.forEach(
          Array.from({ length: 50 }),
          () => Effect.forkChild(limiter.withPermit(Effect.void, { key: "k" }))
        )
        // Ten went at once; forty booked slots paced from 2 s to 9.8 s and sleep until them.
        yield* Effect.sleep(500)
        yield* Effect.forEach(fibers, Fiber.interrupt, { concurrency: "unbounded" })
        const client = yield* rawRedis
        const keys = yield* Effect.promise(() => client.keys(`${prefix}w:*`))
        assert.strictEqual(keys.length, 1)
        // Only the ten that went are left.
        assert.strictEqual(yield* Effect.promise(() => client.zCard(keys[0]!)), 10)
        // Once those ten leave the window, the next goes without waiting (it would wait behind forty otherwise).
        yield* Effect.sleep(2_000)
        const next = yield* Effect.result(limiter.withPermit(Effect.succeed("went"), { key: "k", maxWait: 0 }))
        assert.ok(next._tag === "Success", String(next))
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a refused connection is the reason the first calls give, not \"no connection attempt yet\"",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        const limiter = yield* RateLimiter.make({ policies: [Policy.window({ limit: 5, window: "1 second" })] }).pipe(
          Effect.provide(RedisStore.layer({ url: proxy.url, timeout: timeoutMillis }))
        )
        const error = yield* Effect.flip(limiter.withPermit(Effect.void))
        assert.strictEqual(error._tag, "RateLimiterUnavailableError")
        assert.match(error.message, /ECONNREFUSED/)
        assert.notMatch(error.message, /no connection attempt yet/)
      }),
    30_000
  )
})

await RedisTest.describeWithRedis("RedisStore blackholed, then back (RELIABILITY 17)", () => {
  it.live(
    "a Redis that accepts and never answers at start: fail closed within maxTimeout (1 s), local fallback admits; once Redis answers, a window of 1 per minute grants once and both limiters share it",
    () =>
      Effect.gen(function*() {
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        yield* proxy.hang
        const [building, store] = yield* timed(RedisStore.make({
          url: proxy.url,
          prefix: RedisPrefix.fresh("rl"),
          timeout: timeoutMillis,
          maxTimeout: "1 second",
          connectTimeout: "500 millis"
        }))
        // One connection attempt: connectTimeout (500 ms) of time the process was free, however stalled.
        assert.isBelow(
          building,
          LagTimer.ceilingMillis(500) + margin,
          "the layer waits for one connection attempt at most"
        )
        const closed = yield* windowOn(store, { maxWait: "30 seconds" })
        const open = yield* windowOn(store, {
          maxWait: "30 seconds",
          onStoreFailure: "local",
          retryStoreAfter: "200 millis"
        })
        for (let i = 0; i < 3; i++) {
          const [millis, tag] = yield* acquired(closed)
          assert.strictEqual(tag, "RateLimiterUnavailableError")
          assert.isBelow(millis, LagTimer.ceilingMillis(1_000) + margin)
        }
        const [openMillis, openTag] = yield* acquired(open)
        assert.strictEqual(openTag, "ok")
        assert.isBelow(openMillis, LagTimer.ceilingMillis(1_000) + margin)
        assert.isAtLeast(proxy.accepted(), 1, "the store did reach the blackhole")

        // Redis answers again on that port: the connections the blackhole took are dropped, a new one works.
        yield* proxy.restore
        const seen: Array<string> = []
        let tag = ""
        for (let i = 0; i < 100 && tag !== "ok"; i++) {
          if (i > 0) yield* Effect.sleep(100)
          tag = (yield* acquired(closed))[1]
          seen.push(tag)
        }
        const tried = `${seen.length} tries: ${[...new Set(seen)].join(", ")}`
        assert.strictEqual(tag, "ok", tried)
        // Until then it failed closed, nothing else.
        assert.ok(seen.slice(0, -1).every((t) => t === "RateLimiterUnavailableError"), tried)
        // The limit is Redis's again: the slot is spent, for this limiter and for the one that fell back.
        assert.strictEqual((yield* acquired(closed))[1], "RateLimitExceededError")
        let openAfter = ""
        for (let i = 0; i < 50 && openAfter !== "RateLimitExceededError"; i++) {
          if (i > 0) yield* Effect.sleep(100)
          openAfter = (yield* acquired(open))[1]
        }
        assert.strictEqual(openAfter, "RateLimitExceededError")
      }),
    30_000
  )
})

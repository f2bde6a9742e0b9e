/**
 * RELIABILITY 15 for the limiter: server feedback that asks for a day (a
 * `Retry-After: 86400`, a reset a day ahead in any dialect) holds the key for
 * `maxHold` at most, and a hold longer than an acquisition may wait fails it
 * at once with `RateLimitExceededError`. Written once, run on the memory store
 * (under `TestClock`) and on a real Redis (whose own `TIME` keeps the hold,
 * so time passes for real there, and bounds are generous).
 */
import { assert, describe, it } from "@effect/vitest"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Clock, Effect, Fiber, Metric, type Scope } from "effect"
import { TestClock } from "effect/testing"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { sleepLive } from "./support/items.ts"
import { rawRedis } from "./support/rawRedis.ts"

const day = 86_400_000

/** Response headers asking for a day, in every dialect `ServerFeedback` reads, each with the status it comes on. */
const farResets = (now: number): ReadonlyArray<{
  readonly dialect: string
  readonly status: number
  readonly headers: Record<string, string>
}> => [
  { dialect: "Retry-After seconds", status: 429, headers: { "retry-after": "86400" } },
  { dialect: "Retry-After HTTP-date", status: 429, headers: { "retry-after": new Date(now + day).toUTCString() } },
  { dialect: "Retry-After too large to count", status: 429, headers: { "retry-after": "99999999999999999999" } },
  { dialect: "retry-after-ms", status: 429, headers: { "retry-after-ms": String(day) } },
  {
    dialect: "X-RateLimit-Reset epoch seconds",
    status: 200,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.ceil((now + day) / 1_000)) }
  },
  {
    dialect: "X-RateLimit-Reset epoch milliseconds",
    status: 429,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now + day) }
  },
  {
    dialect: "RateLimit-Reset (drafts 00-06)",
    status: 200,
    headers: { "ratelimit-remaining": "0", "ratelimit-reset": "86400" }
  },
  { dialect: "RateLimit (draft 07)", status: 200, headers: { ratelimit: "limit=100, remaining=0, reset=86400" } },
  {
    dialect: "RateLimit (draft 08+)",
    status: 200,
    headers: { ratelimit: "\"default\";r=0;t=86400", "ratelimit-policy": "\"default\";q=100;w=86400" }
  },
  {
    dialect: "OpenAI",
    status: 200,
    headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "24h" }
  },
  {
    dialect: "Anthropic",
    status: 429,
    headers: {
      "anthropic-ratelimit-tokens-remaining": "0",
      "anthropic-ratelimit-tokens-reset": new Date(now + day).toISOString()
    }
  }
]

/** A store made for one test, and what it holds. */
interface Made {
  readonly store: LimiterStore.Store
  /** The remaining life of the block of `key` in the store, when the store can tell. */
  readonly blockTtl?: (key: string) => Effect.Effect<number, never, Scope.Scope>
}

/** How one backend runs the suite. */
interface Backend {
  /** A store, fresh (its own keys) for each test. */
  readonly make: Effect.Effect<Made, unknown, Scope.Scope>
  /** Real time (a store on Redis's clock), or `TestClock`. */
  readonly live: boolean
  /** Lets `millis` pass on the store's clock. */
  readonly pass: (millis: number) => Effect.Effect<void>
  /** How far a hold read back may be below the one imposed, in ms (time passes between calls on a real clock). */
  readonly tolerance: number
}

/** A limiter that would never refuse on its own, on `store`. */
const limiterOn = (store: LimiterStore.Store, options: Omit<RateLimiter.Options, "policies"> = {}) =>
  RateLimiter.make({ policies: [Policy.rate({ limit: 1_000, window: "1 second", burst: 1_000 })], ...options }).pipe(
    Effect.provideService(LimiterStore.LimiterStore, store)
  )

/** The server hold left on `key`, from the refusal of an acquisition that may not wait; -1 when it was admitted. */
const holdLeft = (limiter: RateLimiter.Service, key: string) =>
  Effect.scoped(limiter.acquire({ key, maxWait: 0 })).pipe(
    Effect.as(-1),
    Effect.catchTag("RateLimitExceededError", (error) => {
      assert.strictEqual(error.policy, "server hold")
      return Effect.succeed(error.retryAfterMillis)
    })
  )

const between = (actual: number, low: number, high: number, what: string) =>
  assert.ok(actual >= low && actual <= high, `${what}: ${actual} ms, expected ${low} to ${high} ms`)

const holdSuite = (name: string, backend: Backend) =>
  describe(`maxHold caps server feedback, ${name} store`, () => {
    const test = backend.live ? it.live : it.effect
    const { tolerance } = backend

    test("a 429 with Retry-After: 86400 holds the key for maxHold (2 s), not a day, counted as 2 s; other keys go", () => {
      const metrics = MetricsTest.makeRegistry()
      return Effect.gen(function*() {
        const { store, blockTtl } = yield* backend.make
        const limiter = yield* limiterOn(store, { maxHold: "2 seconds" })
        yield* limiter.observe({ key: "held", status: 429, headers: { "retry-after": "86400" } })
        between(yield* holdLeft(limiter, "held"), 2_000 - tolerance, 2_000, "hold after Retry-After: 86400")
        assert.strictEqual(yield* holdLeft(limiter, "other"), -1)
        assert.strictEqual(metrics.count("httpkit_rate_limiter_holds_total", { reason: "retry_after" }), 1)
        assert.strictEqual(metrics.count("httpkit_rate_limiter_hold_seconds_total"), 2)
        if (blockTtl !== undefined) between(yield* blockTtl("held"), 1, 2_000, "block key PTTL")
        yield* backend.pass(2_000 + tolerance)
        assert.strictEqual(yield* holdLeft(limiter, "held"), -1)
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, metrics.registry))
    })

    test("a reset a day ahead in every dialect (11 forms) holds its key for maxHold (2 s) at most, then frees it", () =>
      Effect.gen(function*() {
        const limiter = yield* limiterOn((yield* backend.make).store, { maxHold: "2 seconds" })
        const cases = farResets(Date.now())
        for (const [i, { headers, status }] of cases.entries()) {
          yield* limiter.observe({ key: `dialect-${i}`, status, headers })
        }
        for (const [i, { dialect }] of cases.entries()) {
          between(yield* holdLeft(limiter, `dialect-${i}`), 2_000 - tolerance, 2_000, dialect)
        }
        yield* backend.pass(2_000 + tolerance)
        for (const [i, { dialect }] of cases.entries()) {
          assert.strictEqual(yield* holdLeft(limiter, `dialect-${i}`), -1, `${dialect}: still held after maxHold`)
        }
      }).pipe(Effect.scoped))

    test("default maxHold (10 minutes): after Retry-After: 86400, an acquisition allowed 1 minute fails at once with 600000 ms left", () =>
      Effect.gen(function*() {
        const { store, blockTtl } = yield* backend.make
        const limiter = yield* limiterOn(store)
        yield* limiter.observe({ key: "day", status: 429, headers: { "retry-after": "86400" } })
        const started = yield* Clock.currentTimeMillis
        const fiber = yield* Effect.forkChild(
          Effect.flip(Effect.scoped(limiter.acquire({ key: "day" }))).pipe(
            Effect.flatMap((error) => Effect.map(Clock.currentTimeMillis, (at) => [at - started, error] as const))
          )
        )
        // On TestClock, past maxWait but short of the hold: a waiter would fail at 60000 ms, not at once.
        if (!backend.live) yield* TestClock.adjust(120_000)
        const [after, error] = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "RateLimitExceededError")
        if (error._tag === "RateLimitExceededError") {
          assert.strictEqual(error.policy, "server hold")
          assert.strictEqual(error.key, "day")
          between(error.retryAfterMillis, 600_000 - tolerance, 600_000, "retryAfterMillis")
        }
        assert.ok(after < (backend.live ? 10_000 : 1), `failed after ${after} ms`)
        if (blockTtl !== undefined) between(yield* blockTtl("day"), 1, 600_000, "block key PTTL")
        if (!backend.live) {
          yield* TestClock.adjust(600_000 - 120_000)
          assert.strictEqual(yield* holdLeft(limiter, "day"), -1)
        }
      }).pipe(Effect.scoped))
  })

holdSuite("memory", {
  make: Effect.map(LimiterStore.makeMemory(), (store) => ({ store })),
  live: false,
  pass: (millis) => TestClock.adjust(millis),
  tolerance: 0
})

await RedisTest.describeWithRedis("maxHold on a real Redis", () => {
  holdSuite("Redis", {
    make: Effect.gen(function*() {
      const prefix = yield* RedisPrefix.make("rl-hold")
      return {
        store: yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "5 seconds" }),
        blockTtl: (key: string) =>
          Effect.flatMap(rawRedis, (client) => Effect.promise(() => client.pTTL(`${prefix}b:${key}`)))
      }
    }),
    live: true,
    pass: sleepLive,
    tolerance: 1_500
  })
})

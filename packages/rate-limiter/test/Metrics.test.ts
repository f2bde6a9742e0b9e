/**
 * What the limiter records (`RateLimiter.waitTime`, `acquisitions`, `holds`,
 * `holdSeconds`), by key: waits and holds through `ResilientClient` against
 * the fault-injection server, on the memory store and on a real Redis; the
 * `key` attribute's rules (`custom` for a caller's key, at most `maxKeys`,
 * then `other`) on the memory store. Each test reads a registry of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricsTest from "@httpkit/testing/MetricsTest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, type Scope } from "effect"
import * as ClientRateLimit from "../src/ClientRateLimit.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { limiterOn } from "./support/items.ts"

const acquisitions = "httpkit_rate_limiter_acquisitions_total"
const holds = "httpkit_rate_limiter_holds_total"
const holdSeconds = "httpkit_rate_limiter_hold_seconds_total"
const waits = "httpkit_rate_limiter_wait_seconds"

const noRetry = { maxAttempts: 1 } as const

/** A client whose calls go through `limiter`. */
const clientOver = (limiter: RateLimiter.Service) =>
  ResilientClient.make({ retry: noRetry }).pipe(
    Effect.provideService(ResilientClient.RateLimit, ClientRateLimit.hook(limiter))
  )

/** The histogram state of a series. */
type HistogramState = {
  readonly count: number
  readonly sum: number
  readonly buckets: ReadonlyArray<readonly [number, number]>
}

/** The feedback tests, on one store. */
const feedbackSuite = (name: string, store: Effect.Effect<LimiterStore.Store, unknown, Scope.Scope>) => {
  /** A server, and a client through a limiter of 1,000 a second on `store`; the limiter's key for the server. */
  const clientOnStore = Effect.gen(function*() {
    const server = yield* TestServer.make()
    const limiter = yield* limiterOn(yield* store, { policies: [Policy.rate({ limit: 1_000, window: "1 second" })] })
    const client = yield* clientOver(limiter)
    return { server, client, key: new URL(server.url).hostname }
  })

  describe(`server feedback counted as holds, ${name} store`, () => {
    it.live("a 429 with Retry-After: 1 is one hold of 1 s, reason retry_after, under the URL's host", () =>
      MetricsTest.withRegistry((metrics) =>
        Effect.gen(function*() {
          const { client, key, server } = yield* clientOnStore
          const refused = yield* Effect.flip(client.get(server.urlFor("/status/429?retry_after=1")))
          assert.strictEqual(refused._tag, "RateLimitedError")
          assert.strictEqual(metrics.count(holds, { key, reason: "retry_after" }), 1)
          assert.strictEqual(metrics.count(holdSeconds, { key }), 1)
          // The next call waited out the hold: counted as a wait of about a second under the same key.
          yield* client.get(server.urlFor("/health"))
          const wait = metrics.series(waits, { key })?.state as HistogramState | undefined
          assert.strictEqual(wait?.count, 2)
          assert.isAtLeast(wait!.sum, 0.5)
          assert.strictEqual(metrics.count(acquisitions, { key, outcome: "granted" }), 2)
        }).pipe(Effect.scoped)
      ))

    it.live("a budget of 2 reported empty after the second call: one hold, reason budget_exhausted", () =>
      MetricsTest.withRegistry((metrics) =>
        Effect.gen(function*() {
          const { client, key, server } = yield* clientOnStore
          const budget = `/ratelimit?limit=2&window=1000&key=${crypto.randomUUID()}`
          yield* client.get(server.urlFor(budget))
          assert.strictEqual(metrics.count(holds, { key }), 0)
          yield* client.get(server.urlFor(budget))
          assert.strictEqual(metrics.count(holds, { key, reason: "budget_exhausted" }), 1)
          assert.strictEqual(metrics.count(holds), 1)
          assert.isAbove(metrics.count(holdSeconds, { key }), 0)
          // Until the reset the server reported: the window's second, rounded up to whole (epoch) seconds.
          assert.isAtMost(metrics.count(holdSeconds, { key }), 2)
        }).pipe(Effect.scoped)
      ))
  })
}

feedbackSuite("memory", LimiterStore.makeMemory())

await RedisTest.describeWithRedis("holds on a real Redis", () => {
  feedbackSuite(
    "Redis",
    Effect.flatMap(RedisPrefix.make("rl-metrics"), (prefix) => RedisStore.make({ url: RedisTest.url, prefix }))
  )
})

describe("waits and acquisitions by key, over sockets", () => {
  it.live("6 calls at 4 per second: 6 granted and 6 waits under the host, the later ones waiting", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const limiter = yield* limiterOn(yield* LimiterStore.makeMemory(), {
          policies: [Policy.rate({ limit: 4, window: "1 second" })]
        })
        const client = yield* clientOver(limiter)
        yield* Effect.forEach(Array.from({ length: 6 }), () => client.get(server.urlFor("/health")), {
          concurrency: "unbounded"
        })
        const key = new URL(server.url).hostname
        assert.strictEqual(metrics.count(acquisitions, { key, outcome: "granted" }), 6)
        const wait = metrics.series(waits, { key })?.state as HistogramState | undefined
        assert.strictEqual(wait?.count, 6)
        // Spaced 250 ms apart after the first: waits of about 0, 0.25, 0.5, 0.75, 1 and 1.25 s, 3.75 s in all.
        assert.isAtLeast(wait!.sum, 1)
        assert.deepStrictEqual(wait!.buckets.map(([boundary]) => boundary), [...MetricBoundaries.seconds])
        assert.strictEqual((yield* server.requestsTo("/health")).length, 6)
      }).pipe(Effect.scoped)
    ))
})

/** A limiter of 1 per minute per key on the memory store, refusing at once. */
const limiterWith = () =>
  RateLimiter.make({ policies: [Policy.window({ limit: 1, window: "1 minute" })], onLimit: "fail" })
    .pipe(Effect.provide(LimiterStore.layerMemory()))

describe("the key attribute", () => {
  it.effect("a caller's key counts as custom, never as itself: 1 granted, 1 refused, 1 manual hold of 2 s", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const limiter = yield* limiterWith()
        const secret = "user-42:sk-live-abc"
        yield* Effect.scoped(limiter.acquire({ key: secret }))
        const refused = yield* Effect.flip(Effect.scoped(limiter.acquire({ key: secret })))
        assert.strictEqual(refused._tag, "RateLimitExceededError")
        yield* limiter.hold(secret, "2 seconds")
        assert.strictEqual(metrics.count(acquisitions, { key: "custom", outcome: "granted" }), 1)
        assert.strictEqual(metrics.count(acquisitions, { key: "custom", outcome: "refused" }), 1)
        assert.strictEqual(metrics.count(holds, { key: "custom", reason: "manual" }), 1)
        assert.strictEqual(metrics.count(holdSeconds, { key: "custom" }), 2)
        for (const entry of metrics.snapshot()) {
          for (const value of Object.values(entry.attributes ?? {})) {
            assert.notInclude(String(value), "user-42")
            assert.notInclude(String(value), "sk-live")
          }
        }
      })
    ))

  it.effect("a URL's key is its host; without URL or key, default", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const limiter = yield* limiterWith()
        yield* Effect.scoped(limiter.acquire({ url: "https://alice:pw@api.example.test:8443/v1/items?token=t0k" }))
        yield* Effect.scoped(limiter.acquire())
        assert.strictEqual(metrics.count(acquisitions, { key: "api.example.test", outcome: "granted" }), 1)
        assert.strictEqual(metrics.count(acquisitions, { key: "default", outcome: "granted" }), 1)
        const keys = metrics.snapshot().flatMap((entry) => [entry.attributes?.key])
        assert.deepStrictEqual([...new Set(keys)].toSorted(), ["api.example.test", "default"])
      })
    ))

  it.effect("keys are bounded: 1,002 hosts give 1,000 key series and 2 acquisitions under other", () =>
    MetricsTest.withRegistry((metrics) =>
      Effect.gen(function*() {
        const limiter = yield* limiterWith()
        for (let i = 0; i < 1_002; i++) yield* Effect.scoped(limiter.acquire({ url: `http://h${i}.test/` }))
        const keys = new Set(
          metrics.snapshot().filter((entry) => entry.id === acquisitions).map((entry) => entry.attributes?.key)
        )
        assert.strictEqual(keys.size, 1_001)
        assert.strictEqual(RateLimiter.maxKeys, 1_000)
        assert.strictEqual(metrics.count(acquisitions, { key: "other", outcome: "granted" }), 2)
        assert.strictEqual(metrics.count(acquisitions, { key: "h999.test", outcome: "granted" }), 1)
      })
    ))
})

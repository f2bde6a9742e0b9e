import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { FetchHttpClient, HttpClient } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { formatGoDuration, formatRfc3339, makeRoom } from "../src/internal/routes/ratelimit.ts"
import * as TestServer from "../src/TestServer.ts"

const Allowed = Schema.Struct({
  allowed: Schema.Literal(true),
  key: Schema.String,
  limit: Schema.Int,
  remaining: Schema.Int,
  reset_ms: Schema.Int
})

const Refused = Schema.Struct({
  allowed: Schema.Literal(false),
  key: Schema.String,
  limit: Schema.Int,
  remaining: Schema.Literal(0),
  reset_ms: Schema.Int,
  retry_after: Schema.Int
})

const KeyStats = Schema.Struct({ key: Schema.String, allowed: Schema.Int, refused: Schema.Int })

const AllStats = Schema.Struct({
  allowed: Schema.Int,
  refused: Schema.Int,
  keys: Schema.Record(Schema.String, Schema.Struct({ allowed: Schema.Int, refused: Schema.Int }))
})

const send = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const readJson = (response: Response) => Effect.promise((): Promise<unknown> => response.json())
const decode = <S extends Schema.Constraint & { readonly DecodingServices: never }>(schema: S, input: unknown) =>
  Schema.decodeUnknownEffect(schema)(input).pipe(Effect.orDie)

let keyCounter = 0
/** A fresh key per test, so that windows never carry over between tests. */
const freshKey = (prefix: string) => `${prefix}-${Date.now()}-${++keyCounter}`

const header = (response: Response, name: string): string => {
  const value = response.headers.get(name)
  assert.isNotNull(value, `missing header ${name}`)
  return value!
}

const between = (value: number, min: number, max: number, what: string) =>
  assert.isTrue(value >= min && value <= max, `${what} ${value} not in [${min}, ${max}]`)

/** Long windows, so that no test straddles a window boundary. */
const window = 60_000

layer(TestServer.layer())("/ratelimit", (it) => {
  it.effect("allows `limit` requests, then answers 429 with Retry-After and every header", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const key = freshKey("basic")
      const url = server.urlFor(`/ratelimit?limit=3&window=${window}&key=${key}`)
      const before = Date.now()
      for (const remaining of [2, 1, 0]) {
        const response = yield* send(url, { method: remaining === 1 ? "POST" : "GET" })
        assert.strictEqual(response.status, 200)
        const body = yield* decode(Allowed, yield* readJson(response))
        assert.strictEqual(body.remaining, remaining)
        assert.strictEqual(body.key, key)
        between(body.reset_ms, 1, window, "reset_ms")
        assert.strictEqual(header(response, "ratelimit-limit"), "3")
        assert.strictEqual(header(response, "ratelimit-remaining"), String(remaining))
        assert.strictEqual(header(response, "ratelimit-policy"), "3;w=60")
        between(Number(header(response, "ratelimit-reset")), 1, 60, "RateLimit-Reset")
        assert.strictEqual(header(response, "x-ratelimit-limit"), "3")
        assert.strictEqual(header(response, "x-ratelimit-remaining"), String(remaining))
        assert.isNull(response.headers.get("retry-after"))
      }
      const refused = yield* send(url)
      assert.strictEqual(refused.status, 429)
      const body = yield* decode(Refused, yield* readJson(refused))
      const retryAfter = Number(header(refused, "retry-after"))
      assert.isTrue(Number.isInteger(retryAfter))
      between(retryAfter, 1, 60, "Retry-After")
      assert.strictEqual(body.retry_after, retryAfter)
      assert.strictEqual(header(refused, "ratelimit-remaining"), "0")
      between(Number(header(refused, "ratelimit-reset")), 1, 60, "RateLimit-Reset")
      assert.strictEqual(header(refused, "x-ratelimit-remaining"), "0")
      const resetEpoch = Number(header(refused, "x-ratelimit-reset"))
      between(resetEpoch, Math.floor(before / 1000), Math.ceil((Date.now() + window) / 1000) + 1, "X-RateLimit-Reset")
      // No dialect headers unless asked for.
      assert.isNull(refused.headers.get("x-ratelimit-limit-requests"))
      assert.isNull(refused.headers.get("anthropic-ratelimit-requests-limit"))
      assert.isNull(refused.headers.get("retry-after-ms"))
    }))

  it.effect("keeps an independent window per key, and refused requests spend nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const first = freshKey("first")
      const second = freshKey("second")
      const url = (key: string) => server.urlFor(`/ratelimit?limit=1&window=${window}&key=${key}`)
      assert.strictEqual((yield* send(url(first))).status, 200)
      assert.strictEqual((yield* send(url(first))).status, 429)
      assert.strictEqual((yield* send(url(first))).status, 429)
      const other = yield* send(url(second))
      assert.strictEqual(other.status, 200)
      assert.strictEqual((yield* decode(Allowed, yield* readJson(other))).remaining, 0)
      // A higher limit on the same window lets the refused key through: only allowed requests were counted.
      const raised = yield* send(server.urlFor(`/ratelimit?limit=2&window=${window}&key=${first}`))
      assert.strictEqual(raised.status, 200)
    }))

  it.effect("spends `cost` units per request", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const key = freshKey("cost")
      const url = (cost: number) => server.urlFor(`/ratelimit?limit=10&window=${window}&key=${key}&cost=${cost}`)
      for (const remaining of [6, 2]) {
        const response = yield* send(url(4))
        assert.strictEqual(response.status, 200)
        assert.strictEqual((yield* decode(Allowed, yield* readJson(response))).remaining, remaining)
      }
      assert.strictEqual((yield* send(url(4))).status, 429)
      const peek = yield* send(url(0))
      assert.strictEqual(peek.status, 200)
      assert.strictEqual(header(peek, "ratelimit-remaining"), "2")
      assert.strictEqual((yield* send(url(2))).status, 200)
      assert.strictEqual((yield* send(url(1))).status, 429)
    }))

  it.effect("speaks the OpenAI and Anthropic dialects on request", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const openAiKey = freshKey("openai")
      const openAi = yield* send(server.urlFor(`/ratelimit?limit=1&window=${window}&key=${openAiKey}&dialect=openai`))
      assert.strictEqual(openAi.status, 200)
      assert.strictEqual(header(openAi, "x-ratelimit-limit-requests"), "1")
      assert.strictEqual(header(openAi, "x-ratelimit-remaining-requests"), "0")
      assert.match(header(openAi, "x-ratelimit-reset-requests"), /^(?:\d+m)?\d+(?:\.\d+)?s$|^\d+ms$/)
      assert.isNull(openAi.headers.get("ratelimit-limit"))
      assert.isNull(openAi.headers.get("x-ratelimit-limit"))
      const openAiRefused = yield* send(
        server.urlFor(`/ratelimit?limit=1&window=${window}&key=${openAiKey}&dialect=openai`)
      )
      assert.strictEqual(openAiRefused.status, 429)
      between(Number(header(openAiRefused, "retry-after")), 1, 60, "Retry-After")
      between(Number(header(openAiRefused, "retry-after-ms")), 1, window, "retry-after-ms")

      const before = Date.now()
      const claude = yield* send(
        server.urlFor(`/ratelimit?limit=5&window=${window}&key=${freshKey("anthropic")}&dialect=anthropic`)
      )
      assert.strictEqual(header(claude, "anthropic-ratelimit-requests-limit"), "5")
      assert.strictEqual(header(claude, "anthropic-ratelimit-requests-remaining"), "4")
      const reset = header(claude, "anthropic-ratelimit-requests-reset")
      assert.match(reset, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
      between(Date.parse(reset), before, Date.now() + window + 1000, "anthropic reset")
      assert.isNull(claude.headers.get("ratelimit-limit"))

      const all = yield* send(server.urlFor(`/ratelimit?window=${window}&key=${freshKey("all")}&dialect=all`))
      for (
        const name of [
          "ratelimit-limit",
          "x-ratelimit-limit",
          "x-ratelimit-limit-requests",
          "anthropic-ratelimit-requests-limit"
        ]
      ) {
        assert.strictEqual(header(all, name), "10")
      }
      const mixed = yield* send(
        server.urlFor(`/ratelimit?window=${window}&key=${freshKey("mixed")}&dialect=ietf,openai`)
      )
      assert.strictEqual(header(mixed, "ratelimit-limit"), "10")
      assert.strictEqual(header(mixed, "x-ratelimit-limit-requests"), "10")
      assert.isNull(mixed.headers.get("x-ratelimit-limit"))
    }))

  it.effect("validates its parameters", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      for (
        const query of [
          "limit=0",
          "limit=abc",
          "limit=1000001",
          "window=0",
          "window=3600001",
          "limit=5&cost=6",
          "cost=-1",
          "key=",
          `key=${"k".repeat(201)}`,
          "dialect=graphql"
        ]
      ) {
        const response = yield* send(server.urlFor(`/ratelimit?${query}`))
        assert.strictEqual(response.status, 400, query)
        yield* readJson(response)
      }
    }))

  it.effect("reports what it allowed and refused per key in /ratelimit/stats", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const key = freshKey("stats")
      const url = server.urlFor(`/ratelimit?limit=2&window=${window}&key=${key}`)
      yield* Effect.forEach(
        Array.from({ length: 5 }, () => url),
        (target) => Effect.flatMap(send(target), readJson),
        { concurrency: 5 }
      )
      const stats = yield* decode(KeyStats, yield* readJson(yield* send(server.urlFor(`/ratelimit/stats?key=${key}`))))
      assert.deepStrictEqual(stats, { key, allowed: 2, refused: 3 })
      const unknown = yield* decode(
        KeyStats,
        yield* readJson(yield* send(server.urlFor(`/ratelimit/stats?key=nobody`)))
      )
      assert.deepStrictEqual(unknown, { key: "nobody", allowed: 0, refused: 0 })
      const all = yield* decode(AllStats, yield* readJson(yield* send(server.urlFor("/ratelimit/stats"))))
      assert.deepStrictEqual(all.keys[key], { allowed: 2, refused: 3 })
      assert.isTrue(all.allowed >= 2 && all.refused >= 3)
    }))

  it.effect("reset clears the windows and the stats", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const key = freshKey("reset")
      const url = server.urlFor(`/ratelimit?limit=1&window=${window}&key=${key}`)
      assert.strictEqual((yield* send(url)).status, 200)
      assert.strictEqual((yield* send(url)).status, 429)
      yield* server.reset
      const stats = yield* decode(KeyStats, yield* readJson(yield* send(server.urlFor(`/ratelimit/stats?key=${key}`))))
      assert.deepStrictEqual(stats, { key, allowed: 0, refused: 0 })
      assert.strictEqual((yield* send(url)).status, 200)
      const reset = yield* send(server.urlFor("/__reset"), { method: "POST" })
      assert.strictEqual(reset.status, 200)
      assert.strictEqual((yield* send(url)).status, 200)
      const all = yield* decode(AllStats, yield* readJson(yield* send(server.urlFor("/ratelimit/stats"))))
      assert.deepStrictEqual(all, { allowed: 1, refused: 0, keys: { [key]: { allowed: 1, refused: 0 } } })
    }))
})

layer(
  Layer.mergeAll(
    TestServer.layer(),
    FetchHttpClient.layer,
    RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))
  ),
  // Real time is the point here: the limiter sleeps until the server's window resets.
  { excludeTestServices: true }
)("/ratelimit against Effect's withRateLimiter", (it) => {
  it.effect("Effect's limiter learns the IETF headers and re-queues the 429s until every request passes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const key = freshKey("effect")
      const client = (yield* HttpClient.HttpClient).pipe(
        HttpClient.filterStatusOk,
        HttpClient.withRateLimiter({
          limiter: yield* RateLimiter.RateLimiter,
          // Deliberately generous: the server's headers and 429s must teach the client the real budget.
          limit: 100,
          window: "1 second",
          key,
          times: 10
        })
      )
      const url = server.urlFor(`/ratelimit?limit=2&window=1000&key=${key}`)
      for (let i = 0; i < 4; i++) {
        const response = yield* client.get(url)
        assert.strictEqual(response.status, 200)
      }
      const stats = yield* decode(KeyStats, yield* readJson(yield* send(server.urlFor(`/ratelimit/stats?key=${key}`))))
      assert.strictEqual(stats.allowed, 4)
    }))
})

describe("rate-limit header formats", () => {
  it("formats durations as Go does, as OpenAI's reset headers carry them", () => {
    assert.strictEqual(formatGoDuration(0), "0s")
    assert.strictEqual(formatGoDuration(12), "12ms")
    assert.strictEqual(formatGoDuration(120), "120ms")
    assert.strictEqual(formatGoDuration(6000), "6s")
    assert.strictEqual(formatGoDuration(8640), "8.64s")
    assert.strictEqual(formatGoDuration(59_873), "59.873s")
    assert.strictEqual(formatGoDuration(60_000), "1m0s")
    assert.strictEqual(formatGoDuration(90_000), "1m30s")
    assert.strictEqual(formatGoDuration(90_500), "1m30.5s")
    assert.strictEqual(formatGoDuration(3_723_000), "1h2m3s")
  })

  it("formats Anthropic's reset as RFC 3339, rounded up to the second", () => {
    assert.strictEqual(formatRfc3339(Date.UTC(2025, 0, 2, 3, 4, 5)), "2025-01-02T03:04:05Z")
    assert.strictEqual(formatRfc3339(Date.UTC(2025, 0, 2, 3, 4, 5, 1)), "2025-01-02T03:04:06Z")
  })

  it("drops the oldest keys first once the bound is reached", () => {
    const map = new Map([["a", 1], ["b", 2], ["c", 3]])
    makeRoom(map, 3)
    map.set("d", 4)
    assert.deepStrictEqual([...map.keys()], ["b", "c", "d"])
  })
})

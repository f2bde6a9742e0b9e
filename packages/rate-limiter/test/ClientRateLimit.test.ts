/**
 * The limiter inside `ResilientClient`, over real sockets against the
 * fault-injection server, which counts what it admitted and refused.
 */
import { assert, describe, it } from "@effect/vitest"
import type { RateLimitExceededError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ServerControl from "@httpkit/testing/ServerControl"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as ClientRateLimit from "../src/ClientRateLimit.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"

const noRetry = { maxAttempts: 1 } as const

/** A client whose calls go through a limiter with `options`, on a memory store. */
const limitedClient = (limiter: RateLimiter.Options, client: ResilientClient.Options = {}) =>
  Effect.gen(function*() {
    const made = yield* RateLimiter.make(limiter).pipe(Effect.provide(LimiterStore.layerMemory()))
    return yield* ResilientClient.make(client).pipe(
      Effect.provideService(ResilientClient.RateLimit, ClientRateLimit.hook(made))
    )
  })

/** What the server admitted and refused for `key`. */
const stats = (server: TestServer.TestServer["Service"], key: string) =>
  ServerControl.make(server.url).rateLimitStats(key)

describe("ResilientClient with a rate limiter, over sockets", () => {
  it.live("a limit kept below the server's means the server refuses nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      // The server allows 5 per 1 s window; we send 4 per second, evenly spaced, leaving room for latency.
      const client = yield* limitedClient(
        { policies: [Policy.rate({ limit: 4, window: "1 second" })] },
        { retry: noRetry }
      )
      const started = Date.now()
      yield* Effect.forEach(
        Array.from({ length: 12 }),
        () => client.get(server.urlFor("/ratelimit?limit=5&window=1000&key=steady")),
        { concurrency: "unbounded" }
      )
      const elapsed = Date.now() - started
      assert.deepStrictEqual(yield* stats(server, "steady"), { key: "steady", allowed: 12, refused: 0 })
      // Eleven gaps of 250 ms.
      assert.isAtLeast(elapsed, 2_600)
    }))

  it.live("without the limiter the same burst is refused by the server (the test's control)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* ResilientClient.make({ retry: noRetry })
      yield* Effect.forEach(
        Array.from({ length: 12 }),
        () => Effect.ignore(client.get(server.urlFor("/ratelimit?limit=5&window=1000&key=control"))),
        { concurrency: "unbounded" }
      )
      const seen = yield* stats(server, "control")
      assert.strictEqual(seen.allowed, 5)
      assert.strictEqual(seen.refused, 7)
    }))

  it.live("a budget the server reports empty holds the next calls until its reset: the server refuses none", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const sendSix = (client: ResilientClient.Service, key: string) =>
        Effect.forEach(
          [1, 2, 3, 4, 5, 6],
          () => Effect.ignore(client.get(server.urlFor(`/ratelimit?limit=2&window=1000&key=${key}`)))
        )
      const policies = [Policy.rate({ limit: 1_000, window: "1 second", burst: 1_000 })]
      yield* sendSix(yield* limitedClient({ policies }, { retry: noRetry }), "heeded")
      assert.deepStrictEqual(yield* stats(server, "heeded"), { key: "heeded", allowed: 6, refused: 0 })
      // The control: the same limiter told to ignore feedback meets the server's 429s.
      yield* sendSix(yield* limitedClient({ policies, maxHold: false }, { retry: noRetry }), "ignored")
      assert.deepStrictEqual(yield* stats(server, "ignored"), { key: "ignored", allowed: 2, refused: 4 })
    }))

  it.live("a 429 with Retry-After holds every later call to that host, on any path", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient(
        { policies: [Policy.rate({ limit: 1_000, window: "1 second", burst: 1_000 })] },
        { retry: noRetry }
      )
      const refused = yield* Effect.flip(client.get(server.urlFor("/status/429?retry_after=1")))
      assert.strictEqual(refused._tag, "RateLimitedError")
      const [answered] = yield* server.requestsTo("/status/429")
      yield* Effect.all([client.get(server.urlFor("/health")), client.get(server.urlFor("/echo"))], {
        concurrency: "unbounded"
      })
      const later = [...(yield* server.requestsTo("/health")), ...(yield* server.requestsTo("/echo"))]
      assert.strictEqual(later.length, 2)
      for (const request of later) assert.isAtLeast(request.arrivedAt - answered!.arrivedAt, 900)
    }))

  it.live("fail fast: RateLimitExceededError names the call, nothing is sent, nothing is retried", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient({
        policies: [Policy.window({ limit: 1, window: "1 minute" })],
        onLimit: "fail"
      })
      yield* client.get(server.urlFor("/health"))
      const error = (yield* Effect.flip(client.get(server.urlFor("/health?token=secret")))) as RateLimitExceededError
      assert.strictEqual(error._tag, "RateLimitExceededError")
      assert.strictEqual(error.method, "GET")
      assert.notInclude(error.url ?? "", "secret")
      assert.isString(error.requestId)
      // The slot frees a minute after the first call's booking: what is left of it (the first call's own time on a
      // loaded machine is far below 10 s).
      assert.isAbove(error.retryAfterMillis, 50_000)
      assert.isAtMost(error.retryAfterMillis, 60_000)
      assert.strictEqual((yield* server.requestsTo("/health")).length, 1)
    }))

  it.live("the wait for a slot does not count against the attempt timeout: a call that waits 1.5 s for its slot, with an attempt timeout of 300 ms, succeeds", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const limiter = yield* RateLimiter.make({ policies: [Policy.rate({ limit: 1, window: "1500 millis" })] }).pipe(
        Effect.provide(LimiterStore.layerMemory())
      )
      const client = yield* ResilientClient.make({ retry: noRetry, timeout: { attempt: 300 } }).pipe(
        Effect.provideService(ResilientClient.RateLimit, ClientRateLimit.hook(limiter))
      )
      // The host's slot is taken here, by the limiter itself (no request): the client's call gets the next one,
      // 1.5 s after that booking, which comes after `booked`. The stopwatch runs from before the booking, so no
      // slowness of this machine can make the span shorter, only longer.
      const booked = Date.now()
      yield* Effect.scoped(limiter.acquire({ url: server.url }))
      const called = Date.now()
      const response = yield* client.get(server.urlFor("/health"))
      assert.strictEqual(response.status, 200)
      const [arrived] = yield* server.requestsTo("/health")
      // What the server recorded: the one request reached it no sooner than the slot. 50 ms of room for timers
      // and clocks; a request not held by the limiter would arrive within milliseconds.
      assert.isAtLeast(arrived!.arrivedAt - booked, 1_450)
      // So the call waited for its slot far longer than its attempt timeout (the booking is microseconds on the
      // memory store) and still succeeded; counting the wait against the attempt would fail it with a
      // TimeoutError at 300 ms.
      assert.isAtLeast(arrived!.arrivedAt - called, 1_000)
    }))

  it.live("the wait never outlasts the call's total deadline: a slot 30 s away, with a total deadline of 3 s, is refused at once, nothing sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient(
        { policies: [Policy.rate({ limit: 1, window: "30 seconds" })] },
        { retry: noRetry, timeout: { total: "3 seconds" } }
      )
      yield* client.get(server.urlFor("/health"))
      const started = Date.now()
      const error = yield* Effect.flip(client.get(server.urlFor("/health")))
      const elapsed = Date.now() - started
      // Refused by the limiter, not timed out at the deadline: nothing waited for the slot or the deadline.
      assert.strictEqual(error._tag, "RateLimitExceededError")
      assert.strictEqual((yield* server.requestsTo("/health")).length, 1)
      // At once: milliseconds on a quiet machine. A wait for the slot would take 30 s, and one cut by the
      // deadline 3 s; 2 s is room for a loaded machine that still tells them apart.
      assert.isBelow(elapsed, 2_000)
    }))

  it.live("every attempt spends a slot: retries are requests too", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient(
        { policies: [Policy.window({ limit: 3, window: "30 seconds" })], onLimit: "fail" },
        { retry: { maxAttempts: 3, minDelay: 1, maxDelay: 5 } }
      )
      yield* ServerControl.make(server.url).failNext(2)
      yield* client.get(server.urlFor("/msg"))
      assert.strictEqual((yield* server.requestsTo("/msg")).length, 3)
      const error = yield* Effect.flip(client.get(server.urlFor("/msg")))
      assert.strictEqual(error._tag, "RateLimitExceededError")
    }))

  it.live("a call's token cost and its own key", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient({
        policies: [Policy.window({ limit: 100, window: "1 minute", unit: "tokens" })],
        onLimit: "fail"
      })
      yield* client.get(server.urlFor("/health"), { rateLimit: { key: "tenant-a", tokens: 70 } })
      const error = (yield* Effect.flip(
        client.get(server.urlFor("/health"), { rateLimit: { key: "tenant-a", tokens: 40 } })
      )) as RateLimitExceededError
      assert.strictEqual(error.key, "tenant-a")
      // Another tenant has its own budget.
      yield* client.get(server.urlFor("/health"), { rateLimit: { key: "tenant-b", tokens: 70 } })
    }))

  it.live("a token cost that is not a finite number of at least 0 is refused before anything is sent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient({ policies: [Policy.window({ limit: 100, window: "1 minute" })] })
      for (const tokens of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(client.get(server.urlFor("/health"), { rateLimit: { tokens } }))
        assert.strictEqual(error._tag, "InvalidRequestError")
      }
      assert.strictEqual((yield* server.requestsTo("/health")).length, 0)
    }))

  it.live("the limiter's refusals never open the circuit breaker", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient(
        { policies: [Policy.window({ limit: 1, window: "30 seconds" })], onLimit: "fail" },
        { retry: noRetry, circuitBreaker: { failureThreshold: 2 } }
      )
      yield* client.get(server.urlFor("/health"))
      for (let i = 0; i < 5; i++) {
        assert.strictEqual((yield* Effect.flip(client.get(server.urlFor("/health"))))._tag, "RateLimitExceededError")
      }
    }))

  it.live("a slot that would come at the end of the total deadline is refused at once, and the breaker stays closed", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const client = yield* limitedClient(
        { policies: [Policy.rate({ limit: 1, window: "1 second" })] },
        {
          retry: noRetry,
          timeout: { total: "1 second" },
          circuitBreaker: { failureThreshold: 1, openDuration: "30 seconds" }
        }
      )
      const [first, second] = yield* Effect.all([
        Effect.result(client.get(server.urlFor("/health"))),
        Effect.result(client.get(server.urlFor("/health")))
      ], { concurrency: "unbounded" })
      const outcomes = [first, second].map((result) => result._tag === "Success" ? "ok" : result.failure._tag)
        .toSorted()
      assert.deepStrictEqual(outcomes, ["RateLimitExceededError", "ok"])
      assert.strictEqual((yield* server.requestsTo("/health")).length, 1)
      yield* Effect.sleep("1 second")
      // Nothing counted against the host: the circuit is closed.
      assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
    }))

  it.live("ClientRateLimit.layer composes with ResilientClient.layer", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const Client = ResilientClient.layer({ retry: noRetry }).pipe(
        Layer.provide(ClientRateLimit.layer),
        Layer.provide(
          RateLimiter.layer({ policies: [Policy.window({ limit: 1, window: "30 seconds" })], onLimit: "fail" })
        ),
        Layer.provide(LimiterStore.layerMemory())
      )
      const tags = yield* Effect.gen(function*() {
        const client = yield* ResilientClient.ResilientClient
        yield* client.get(server.urlFor("/health"))
        return (yield* Effect.flip(client.get(server.urlFor("/health"))))._tag
      }).pipe(Effect.provide(Client))
      assert.strictEqual(tags, "RateLimitExceededError")
    }))
})

/** One attempt to `a.test` as the client hands it to the hook, with `maxWaitMillis` left of its deadline. */
const request = (maxWaitMillis: number) => ({
  method: "GET",
  url: new URL("http://a.test/x"),
  key: undefined,
  tokens: 1,
  attempt: 1,
  maxWaitMillis,
  context: { method: "GET", url: "http://a.test/x", requestId: "r1" }
})

describe("ClientRateLimit.hook: the client's wait budget", () => {
  it.effect("the wait leaves the request a quarter of the budget (at least 100 ms); a spent one (negative) is no wait; never a defect", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ policies: [Policy.rate({ limit: 1, window: "1s" })] }).pipe(
        Effect.provide(LimiterStore.layerMemory())
      )
      const hook = ClientRateLimit.hook(limiter)
      assert.strictEqual(yield* hook.around(request(-5), Effect.succeed("sent")), "sent")
      const refused = yield* Effect.flip(hook.around(request(-5), Effect.succeed("sent")))
      assert.strictEqual(refused._tag, "RateLimitExceededError")
      // A budget leaves the request room: a quarter of it, at least 100 ms; a slot later than that is refused.
      const later = yield* Effect.forkChild(Effect.flip(hook.around(request(1_000), Effect.succeed("sent"))))
      yield* TestClock.adjust(250)
      // Refused at once, not still waiting for the slot at 1 s.
      const refusedLater = later.pollUnsafe()
      assert.ok(refusedLater !== undefined && refusedLater._tag === "Success", String(refusedLater))
      assert.strictEqual(refusedLater._tag === "Success" && refusedLater.value._tag, "RateLimitExceededError")
      yield* Fiber.interrupt(later)
      const inTime = yield* Effect.forkChild(hook.around(request(1_000), Effect.succeed("sent")))
      yield* TestClock.adjust(750)
      assert.strictEqual(yield* Fiber.join(inTime), "sent")
      // A budget that is no finite number is no bound of the client's: the limiter's own maxWait applies.
      const unbounded = yield* Effect.forkChild(hook.around(request(Number.NaN), Effect.succeed("sent")))
      yield* TestClock.adjust(1_000)
      assert.strictEqual(yield* Fiber.join(unbounded), "sent")
    }))
})

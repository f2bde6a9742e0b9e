import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, it } from "@effect/vitest"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import * as ResilientClient from "../src/ResilientClient.ts"

/** One Redis connection and breaker store, as one process of several would have. */
const redisStore = (prefix: string) =>
  CircuitBreaker.layerStoreRedis({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url: RedisTest.url })))

const options = (base: string) => ({
  baseUrl: base,
  retry: { maxAttempts: 1 },
  circuitBreaker: { failureThreshold: 3, openDuration: "1 minute" }
})

await RedisTest.describeWithRedis("the circuit breaker on Effect's Redis store", () => {
  it.live(
    "a circuit opened by one client refuses another client's calls, which share nothing but Redis",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const prefix = `httpkit-test-breaker-${crypto.randomUUID()}:`
        // Two clients with their own Redis connections: the state they share lives only in Redis.
        const first = yield* ResilientClient.make(options(server.url)).pipe(
          Effect.provideContext(yield* Layer.build(redisStore(prefix)))
        )
        const second = yield* ResilientClient.make(options(server.url)).pipe(
          Effect.provideContext(yield* Layer.build(redisStore(prefix)))
        )

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
        const other = yield* ResilientClient.make(options(server.url)).pipe(
          Effect.provideContext(yield* Layer.build(redisStore(`${prefix}other:`)))
        )
        assert.strictEqual((yield* other.get("/health")).status, 200)
      }).pipe(Effect.scoped),
    30_000
  )
})

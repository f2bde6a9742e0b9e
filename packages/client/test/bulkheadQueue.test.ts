/**
 * RELIABILITY 13 and 16: the bulkhead's queue is bounded. Past
 * `bulkhead.maxWaiting` calls waiting for a slot, one more fails at once with
 * `BulkheadFullError` (its retry hint included), sends nothing, and never
 * counts against the remote service's circuit.
 */
import { assert, it } from "@effect/vitest"
import * as ClientConfig from "@httpkit/client/ClientConfig"
import type { BulkheadFullError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { ConfigProvider, Effect, Fiber } from "effect"
import { failsWith } from "./support.ts"

it.live("maxConcurrency 1, maxWaiting 2: a 4th call fails at once with BulkheadFullError, nothing sent; the breaker (threshold 1) stays closed", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({
      retry: { maxAttempts: 1 },
      bulkhead: { maxConcurrency: 1, maxWaiting: 2, acquireTimeout: "20 seconds" },
      circuitBreaker: { failureThreshold: 1, openDuration: "1 hour" }
    })
    // The holder takes the one slot as soon as its fiber runs, and keeps it for 2 s.
    const holder = yield* Effect.forkChild(client.get(server.urlFor("/delay/2000")))
    yield* Effect.sleep(50)
    const waiters = yield* Effect.forEach(
      [1, 2],
      (n) => Effect.forkChild(client.get(server.urlFor(`/echo?waiter=${n}`)))
    )
    // Both waiters are queued behind the holder (they may wait 20 s; the holder ends after 2 s).
    yield* Effect.sleep(100)
    const started = Date.now()
    const refused =
      (yield* failsWith(client.get(server.urlFor("/echo?fourth")), "BulkheadFullError")) as BulkheadFullError
    assert.isBelow(Date.now() - started, 5_000, "refused without waiting for acquireTimeout (20 s)")
    assert.isBelow(refused.waitedMillis, 5_000)
    assert.strictEqual(refused.maxConcurrency, 1)
    assert.isTrue(refused.retryable)

    assert.strictEqual((yield* Fiber.join(holder)).status, 200)
    for (const waiter of waiters) assert.strictEqual((yield* Fiber.join(waiter)).status, 200)
    const echoed = (yield* server.requestsTo("/echo")).map((request) => request.query)
    assert.lengthOf(echoed, 2, "the refused call sent nothing")
    assert.isFalse(echoed.some((query) => query.includes("fourth")))
    // A refusal of the client's own is no failure of the server: a threshold of 1 would have opened the circuit.
    assert.strictEqual((yield* client.get(server.urlFor("/health"))).status, 200)
  }).pipe(Effect.scoped))

it.effect("bulkhead.maxWaiting: default absent (10 x maxConcurrency), 0 taken, -1 and 1.5 refused, read from HTTPKIT_BULKHEAD_MAX_WAITING", () =>
  Effect.gen(function*() {
    assert.isUndefined((yield* ClientConfig.resolve({ bulkhead: { maxConcurrency: 4 } })).bulkhead.maxWaiting)
    assert.strictEqual((yield* ClientConfig.resolve({ bulkhead: { maxWaiting: 0 } })).bulkhead.maxWaiting, 0)
    for (const maxWaiting of [-1, 1.5]) {
      const error = yield* Effect.flip(ClientConfig.resolve({ bulkhead: { maxWaiting } }))
      assert.include(error.message, "bulkhead.maxWaiting")
    }
    const fromEnv = yield* ClientConfig.fromConfig().pipe(
      Effect.provideService(
        ConfigProvider.ConfigProvider,
        ConfigProvider.fromEnv({ env: { HTTPKIT_BULKHEAD_MAX_CONCURRENCY: "2", HTTPKIT_BULKHEAD_MAX_WAITING: "5" } })
      )
    )
    assert.strictEqual(fromEnv.bulkhead.maxWaiting, 5)
  }))

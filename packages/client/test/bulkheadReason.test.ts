/**
 * `BulkheadFullError.reason` tells a full queue from a wait that ran out:
 * `queue-full` when `bulkhead.maxWaiting` calls already wait for a slot (the
 * call is refused at once), `wait-timeout` when the call waited for a slot
 * until `bulkhead.acquireTimeout`. Both send nothing; the reason is in the
 * message and in `toJSON`.
 */
import { assert, it } from "@effect/vitest"
import { BulkheadFullError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Effect, Fiber } from "effect"
import { failsWith } from "./support.ts"

it.live("maxConcurrency 1, maxWaiting 1, acquireTimeout 1.5 s: the queued call fails with reason wait-timeout after about 1.5 s, the one past the queue at once with reason queue-full; neither is sent", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({
      retry: { maxAttempts: 1 },
      bulkhead: { maxConcurrency: 1, maxWaiting: 1, acquireTimeout: "1.5 seconds" }
    })
    // The holder keeps the one slot for 5 s, longer than anyone waits.
    const holder = yield* Effect.forkChild(client.get(server.urlFor("/delay/5000")))
    while ((yield* server.requestsTo("/delay/5000")).length < 1) yield* Effect.sleep(10)
    const waitStarted = Date.now()
    const waiter = yield* Effect.forkChild(Effect.flip(client.get(server.urlFor("/echo?waiter"))))
    yield* Effect.sleep(100)

    // The queue (one place) is taken by the waiter: the next call is refused at once.
    const started = Date.now()
    const full = (yield* failsWith(client.get(server.urlFor("/echo?third")), "BulkheadFullError")) as BulkheadFullError
    assert.isBelow(Date.now() - started, 1_000, "refused without waiting for acquireTimeout")
    assert.strictEqual(full.reason, "queue-full")
    assert.isBelow(full.waitedMillis, 1_000)
    assert.include(full.message, "bulkhead full (queue-full)")
    assert.strictEqual((full.toJSON() as { reason?: string }).reason, "queue-full")

    // The waiter waited for a slot until its deadline.
    const timedOut = yield* Fiber.join(waiter)
    assert.strictEqual(timedOut._tag, "BulkheadFullError")
    const waited = timedOut as BulkheadFullError
    assert.strictEqual(waited.reason, "wait-timeout")
    assert.isAtLeast(waited.waitedMillis, 1_400)
    assert.isAtLeast(Date.now() - waitStarted, 1_400)
    assert.include(waited.message, "bulkhead full (wait-timeout)")
    assert.strictEqual((waited.toJSON() as { reason?: string }).reason, "wait-timeout")
    assert.isTrue(full.retryable && waited.retryable)

    assert.lengthOf(yield* server.requestsTo("/echo"), 0, "neither refused call was sent")
    yield* Fiber.interrupt(holder)
  }).pipe(Effect.scoped))

it.live("maxWaiting 0: a call that finds every slot taken fails at once with reason queue-full, however long acquireTimeout is", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({
      retry: { maxAttempts: 1 },
      bulkhead: { maxConcurrency: 1, maxWaiting: 0, acquireTimeout: "20 seconds" }
    })
    const holder = yield* Effect.forkChild(client.get(server.urlFor("/delay/3000")))
    while ((yield* server.requestsTo("/delay/3000")).length < 1) yield* Effect.sleep(10)
    const started = Date.now()
    const full = (yield* failsWith(client.get(server.urlFor("/echo")), "BulkheadFullError")) as BulkheadFullError
    assert.isBelow(Date.now() - started, 1_000)
    assert.strictEqual(full.reason, "queue-full")
    assert.lengthOf(yield* server.requestsTo("/echo"), 0)
    yield* Fiber.interrupt(holder)
  }).pipe(Effect.scoped))

it("the message names the reason", () => {
  const error = new BulkheadFullError({
    method: "GET",
    url: "http://api.test/a",
    retryable: true,
    reason: "wait-timeout",
    maxConcurrency: 2,
    waitedMillis: 300
  })
  assert.strictEqual(error.message, "bulkhead full (wait-timeout): GET http://api.test/a: 2 in flight, waited 300 ms")
})

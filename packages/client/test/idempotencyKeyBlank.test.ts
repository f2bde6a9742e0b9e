/**
 * RELIABILITY 14: a blank idempotency key gives a server nothing to
 * deduplicate on, so it must not make a POST retryable. It is refused
 * before anything is sent, as a key with CR LF is.
 */
import { assert, it } from "@effect/vitest"
import type { InvalidRequestError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { failsWith } from "./support.ts"

it.live("an idempotencyKey of \"\", \" \" or \"\\t\" is InvalidRequestError: 0 requests reach a server that answers 503", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({
      retry: { maxAttempts: 3, minDelay: 1, maxDelay: 2 },
      circuitBreaker: { enabled: false }
    })
    for (const key of ["", " ", "\t", "  \t "]) {
      const error = (yield* failsWith(
        client.post(server.urlFor("/status/503"), { json: { amount: 100 }, idempotencyKey: key }),
        "InvalidRequestError"
      )) as InvalidRequestError
      assert.isFalse(error.retryable)
      assert.match(error.detail, /idempotency key is empty or blank/)
    }
    assert.deepStrictEqual(yield* server.requests, [], "nothing was sent")
    // A real key still makes the POST retryable: 3 attempts, one key.
    yield* Effect.flip(client.post(server.urlFor("/status/503"), { json: { amount: 1 }, idempotencyKey: "k-1" }))
    const sent = yield* server.requestsTo("/status/503")
    assert.deepStrictEqual(sent.map((request) => request.headers["idempotency-key"]), ["k-1", "k-1", "k-1"])
  }).pipe(Effect.scoped))

/**
 * The circuit breaker per origin across redirects: each hop is admitted by
 * and counts in the circuit of its own origin. A redirect target's failures
 * never open the circuit of the origin that redirected to it, and a hop to
 * an origin whose circuit is open is refused before anything is sent to it,
 * with `CircuitOpenError` naming that origin.
 */
import { assert, describe, it } from "@effect/vitest"
import type { CircuitOpenError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { failsWith } from "./support.ts"

const cases: ReadonlyArray<readonly [string, ResilientClient.Options]> = [
  ["the in-memory breaker asked inline", {}],
  ["the in-memory breaker around a bulkhead", { bulkhead: { maxConcurrency: 8 } }]
]

describe("a redirect to another origin counts in that origin's circuit", () => {
  for (const [name, extra] of cases) {
    it.live(`${name}: A -> B (503) three times opens B's circuit, not A's; the fourth call is refused at the hop to B`, () =>
      Effect.gen(function*() {
        const a = yield* TestServer.make()
        const b = yield* TestServer.make()
        const client = yield* ResilientClient.make({
          ...extra,
          retry: { maxAttempts: 1 },
          circuitBreaker: { failureThreshold: 3, openDuration: "1 hour" }
        })
        const viaA = a.urlFor(`/redirect-to?url=${encodeURIComponent(b.urlFor("/status/503"))}`)
        for (let i = 0; i < 3; i++) yield* failsWith(client.get(viaA), "ServiceUnavailableError")

        // A answered every time (with a redirect): its circuit is closed.
        assert.strictEqual((yield* client.get(a.urlFor("/health"))).status, 200)

        // B's circuit is open: the hop to it is refused, naming B, and B sees nothing more.
        const refused = (yield* failsWith(client.get(viaA), "CircuitOpenError")) as CircuitOpenError
        assert.strictEqual(refused.key, new URL(b.url).origin)
        assert.include(refused.url, `:${b.port}/`)
        assert.isAbove(refused.retryAfterMillis ?? 0, 0)
        const direct = (yield* failsWith(client.get(b.urlFor("/health")), "CircuitOpenError")) as CircuitOpenError
        assert.strictEqual(direct.key, new URL(b.url).origin)
        assert.lengthOf(yield* b.requestsTo("/status/503"), 3)
        assert.lengthOf(yield* b.requestsTo("/health"), 0)
        assert.lengthOf(yield* a.requestsTo("/redirect-to"), 4)
        // Still A's own calls go through.
        assert.strictEqual((yield* client.get(a.urlFor("/health"))).status, 200)
      }).pipe(Effect.scoped))
  }
})

/**
 * The circuit breaker per origin across redirects, with the circuits in
 * Redis (Effect's `CircuitBreaker` over its Redis store): each hop is
 * admitted by and counts in the circuit of its own origin, in the shared
 * store. A redirect target's failures never open the circuit of the origin
 * that redirected to it; a hop to an origin whose circuit is open is refused
 * before anything is sent to it, with `CircuitOpenError` naming that origin;
 * and a second client that shares nothing but Redis sees the same circuits.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, it } from "@effect/vitest"
import type { CircuitOpenError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Layer, Logger } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { failsWith } from "./support.ts"

/** One Redis connection and breaker store under `prefix`, as one process of several would have. */
const redisStore = (prefix: string) =>
  CircuitBreaker.layerStoreRedis({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url: RedisTest.url })))

const cases: ReadonlyArray<readonly [string, ResilientClient.Options]> = [
  ["Effect's breaker on Redis", {}],
  ["Effect's breaker on Redis around a bulkhead", { bulkhead: { maxConcurrency: 8 } }]
]

/** A client whose circuits live in Redis under `prefix`, on a Redis connection of its own. */
const clientOn = (prefix: string, extra: ResilientClient.Options) =>
  Effect.flatMap(Layer.build(redisStore(prefix)), (context) =>
    ResilientClient.make({
      ...extra,
      retry: { maxAttempts: 1 },
      circuitBreaker: { failureThreshold: 3, openDuration: "1 hour" }
    }).pipe(Effect.provideContext(context)))

await RedisTest.describeWithRedis("a redirect to another origin counts in that origin's circuit in Redis", () => {
  for (const [name, extra] of cases) {
    it.live(
      `${name}: A -> B (503) three times opens B's circuit in Redis, not A's; the fourth call is refused at the ` +
        `hop to B, by this client and by another that shares only Redis`,
      () => {
        const logs: Array<string> = []
        return Effect.gen(function*() {
          const a = yield* TestServer.make()
          const b = yield* TestServer.make()
          const prefix = yield* RedisPrefix.make("breaker-hop")
          const client = yield* clientOn(prefix, extra)
          const other = yield* clientOn(prefix, extra)
          const viaA = a.urlFor(`/redirect-to?url=${encodeURIComponent(b.urlFor("/status/503"))}`)
          for (let i = 0; i < 3; i++) yield* failsWith(client.get(viaA), "ServiceUnavailableError")

          // A answered every time (with a redirect): its circuit is closed, for both clients.
          assert.strictEqual((yield* client.get(a.urlFor("/health"))).status, 200)
          assert.strictEqual((yield* other.get(a.urlFor("/health"))).status, 200)

          // B's circuit is open in Redis: the hop to it is refused, naming B, and B sees nothing more.
          const refused = (yield* failsWith(client.get(viaA), "CircuitOpenError")) as CircuitOpenError
          assert.strictEqual(refused.key, new URL(b.url).origin)
          assert.include(refused.url, `:${b.port}/`)
          assert.isAbove(refused.retryAfterMillis ?? 0, 0)
          // The other client never called B: it learns of B's open circuit from Redis alone.
          const elsewhere = (yield* failsWith(other.get(viaA), "CircuitOpenError")) as CircuitOpenError
          assert.strictEqual(elsewhere.key, new URL(b.url).origin)
          const direct = (yield* failsWith(other.get(b.urlFor("/health")), "CircuitOpenError")) as CircuitOpenError
          assert.strictEqual(direct.key, new URL(b.url).origin)
          assert.lengthOf(yield* b.requestsTo("/status/503"), 3)
          assert.lengthOf(yield* b.requestsTo("/health"), 0)
          assert.lengthOf(yield* a.requestsTo("/redirect-to"), 5)
          // Still A's own calls go through.
          assert.strictEqual((yield* client.get(a.urlFor("/health"))).status, 200)
          // Redis answered throughout: no call fell back to the local breaker.
          assert.isFalse(
            logs.some((line) => line.includes("circuit breaker store unavailable")),
            JSON.stringify(logs)
          )
        }).pipe(
          Effect.scoped,
          Effect.provide(
            Logger.layer([
              Logger.make<unknown, void>(({ message }) => {
                logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
              })
            ])
          )
        )
      },
      30_000
    )
  }
})

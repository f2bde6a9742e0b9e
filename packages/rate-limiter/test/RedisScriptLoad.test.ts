/**
 * RELIABILITY 17 and 21: a new connection loads the store's scripts in its
 * first round trip (with its `PING`), so that the first call after a
 * `SCRIPT FLUSH` or a Redis restart spends one round trip of its budget, not
 * two (`EVALSHA` answered `NOSCRIPT`, then `EVAL`). A fail-fast call (no
 * wait budget) waits three round trips: on a loaded machine, two round trips
 * and the time to read them ran it out (seen in a full run at load 10).
 */
import { assert, it } from "@effect/vitest"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Script from "../src/internal/redisScript.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as Policy from "../src/Policy.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { rawRedis } from "./support/rawRedis.ts"

const shas = [Script.reserve, Script.cancel, Script.block, Script.lease].map((script) =>
  createHash("sha1").update(script.lua).digest("hex")
)

await RedisTest.describeWithRedis("RedisStore loads its scripts with a connection's first round trip", () => {
  it.live(
    "after SCRIPT FLUSH, a new store has every script in Redis's cache before its first call",
    () =>
      Effect.gen(function*() {
        const client = yield* rawRedis
        yield* Effect.promise(() => client.scriptFlush())
        yield* RedisStore.make({ url: RedisTest.url, prefix: RedisPrefix.fresh("rl") })
        // The layer is built once its connection answered; the loads went with that first round trip.
        assert.deepStrictEqual(yield* Effect.promise(() => client.scriptExists(shas)), [1, 1, 1, 1])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "after SCRIPT FLUSH, Redis 300 ms away: five fail-fast acquisitions of a new store all reach it",
    () =>
      Effect.gen(function*() {
        const client = yield* rawRedis
        const proxy = yield* RedisProxy.make()
        yield* proxy.start
        yield* proxy.slow(150)
        yield* Effect.promise(() => client.scriptFlush())
        const store = yield* RedisStore.make({ url: proxy.url, prefix: RedisPrefix.fresh("rl"), timeout: 250 })
        const limiter = yield* RateLimiter.make({
          policies: [Policy.rate({ limit: 1_000, window: "1 second" })],
          onLimit: "fail"
        }).pipe(Effect.provideService(LimiterStore.LimiterStore, store))
        const outcomes = yield* Effect.forEach(["a", "b", "c", "d", "e"], (key) =>
          Effect.scoped(limiter.acquire({ key })).pipe(
            Effect.as("ok"),
            Effect.catch((error) =>
              Effect.succeed(error._tag)
            )
          ))
        assert.deepStrictEqual(outcomes, ["ok", "ok", "ok", "ok", "ok"])
      }).pipe(Effect.scoped),
    30_000
  )
})

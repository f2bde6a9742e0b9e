/**
 * `RedisProxy` in front of the real Redis: its delays, fixed, drawn from a
 * range or from a function, each way or both, and the order of the stream
 * kept whatever the delays. Round trips are timed with a plain node-redis
 * client through the proxy; bounds are generous on the slow side.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { createClient } from "redis"
import * as RedisPrefix from "../src/RedisPrefix.ts"
import * as RedisProxy from "../src/RedisProxy.ts"
import * as RedisTest from "../src/RedisTest.ts"

/** Room for a loaded machine above a delay (ms): timers fire late under load, never early. */
const margin = 400

/** A node-redis client through `proxy`, closed with the scope. */
const clientOf = (proxy: RedisProxy.RedisProxy) =>
  Effect.acquireRelease(
    Effect.promise(() => createClient({ url: proxy.url }).connect()),
    (client) => Effect.sync(() => client.destroy())
  )

/** A started proxy and a client through it. */
const proxied: Effect.Effect<
  readonly [RedisProxy.RedisProxy, Effect.Success<ReturnType<typeof clientOf>>],
  never,
  Scope.Scope
> = Effect.gen(function*() {
  const proxy = yield* RedisProxy.make()
  yield* proxy.start
  return [proxy, yield* clientOf(proxy)] as const
})

/** How long each of `count` PINGs, one after another, took (ms). */
const pings = (client: Effect.Success<ReturnType<typeof clientOf>>, count: number) =>
  Effect.promise(async () => {
    const took: Array<number> = []
    for (let i = 0; i < count; i++) {
      const start = performance.now()
      await client.ping()
      took.push(performance.now() - start)
    }
    return took
  })

await RedisTest.describeWithRedis("RedisProxy", () => {
  it.live(
    "slow(100) holds each chunk 100 ms both ways: a PING takes 200 ms, and restore makes it prompt again",
    () =>
      Effect.gen(function*() {
        const [proxy, client] = yield* proxied
        yield* proxy.slow(100)
        for (const took of yield* pings(client, 3)) {
          assert.isAtLeast(took, 199)
          assert.isBelow(took, 200 + margin)
        }
        yield* proxy.restore
        for (const took of yield* pings(client, 3)) assert.isBelow(took, margin)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "slow(requests, replies) holds each way its own: 0 one way and 100 the other take 100 ms, in either order",
    () =>
      Effect.gen(function*() {
        const [proxy, client] = yield* proxied
        for (const [requests, replies] of [[0, 100], [100, 0]] as const) {
          yield* proxy.slow(requests, replies)
          for (const took of yield* pings(client, 3)) {
            assert.isAtLeast(took, 99)
            assert.isBelow(took, 100 + margin)
          }
        }
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "replies held { min: 50, max: 150 }: every PING of 30 takes 50-150 ms, and they differ",
    () =>
      Effect.gen(function*() {
        const [proxy, client] = yield* proxied
        yield* proxy.slow(0, { min: 50, max: 150 })
        const took = yield* pings(client, 30)
        for (const one of took) {
          assert.isAtLeast(one, 49)
          assert.isBelow(one, 150 + margin)
        }
        // Uniform over 100 ms: 30 draws all within 20 ms of each other would be a fixed delay.
        assert.isAbove(Math.max(...took) - Math.min(...took), 20, took.join(", "))
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a function is asked once per chunk: commands at once, replies alternately 20 and 120 ms",
    () =>
      Effect.gen(function*() {
        const [proxy, client] = yield* proxied
        let asked = 0
        yield* proxy.slow(0, () => asked++ % 2 === 0 ? 20 : 120)
        const took = yield* pings(client, 6)
        assert.strictEqual(asked, 6)
        took.forEach((one, i) => {
          const held = i % 2 === 0 ? 20 : 120
          assert.isAtLeast(one, held - 1, `PING ${i}: ${took.join(", ")}`)
          assert.isBelow(one, held + margin, `PING ${i}: ${took.join(", ")}`)
        })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "replies held 0-80 ms at random keep their order: 200 pipelined INCRs answer 1 to 200",
    () =>
      Effect.gen(function*() {
        const [proxy, client] = yield* proxied
        const key = `${yield* RedisPrefix.make("proxy")}counter`
        yield* proxy.slow({ min: 0, max: 20 }, () => Math.random() * 80)
        const answers = yield* Effect.promise(() => Promise.all(Array.from({ length: 200 }, () => client.incr(key))))
        assert.deepStrictEqual(answers, Array.from({ length: 200 }, (_, i) => i + 1))
        yield* Effect.promise(() => client.del(key))
      }).pipe(Effect.scoped),
    30_000
  )
})

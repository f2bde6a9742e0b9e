/**
 * Redis for the queue's tests: a connection layer on `RedisTest.url`, the
 * prefix every test queue lives under, and the removal of a queue's keys
 * once its test ends.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect, type Layer, type Scope } from "effect"
import * as Redis from "effect/persistence/Redis"

/** Every key a test queue writes starts with this. */
export const prefix = "httpkit:test:dq:"

/** A Redis connection for one test (or one layer). */
export const redisLayer = (): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, Redis.RedisError> =>
  NodeRedis.layer({ url: RedisTest.url })

/** Deletes every key under `pattern`'s literal start (a queue's keys: `<prefix><name>*`). */
export const deleteUnder = (start: string): Effect.Effect<void, Redis.RedisError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<[string, Array<string>]>(
        "SCAN",
        cursor,
        "MATCH",
        `${start}*`,
        "COUNT",
        "500"
      )
      cursor = next
      if (keys.length > 0) yield* redis.send("DEL", ...keys)
    } while (cursor !== "0")
  })

/** Registers, in the current scope, the removal of queue `name`'s keys (on a connection of its own). */
export const cleanup = (name: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    deleteUnder(`${prefix}${name}`).pipe(
      Effect.provide(redisLayer()),
      Effect.catchCause((cause) => Effect.logWarning("could not clean up a test queue", cause))
    )
  )

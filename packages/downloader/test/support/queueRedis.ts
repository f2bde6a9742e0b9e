/**
 * Redis for the queue's tests: a connection layer on `RedisTest.url`, the
 * prefix every test queue lives under, and the removal of a queue's keys
 * once its test ends (`RedisPrefix.cleanupUnder`).
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import type { Effect, Layer, Scope } from "effect"
import type * as Redis from "effect/persistence/Redis"

/** Every key a test queue writes starts with this. */
export const prefix = "httpkit:test:dq:"

/** A Redis connection for one test (or one layer). */
export const redisLayer = (): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, Redis.RedisError> =>
  NodeRedis.layer({ url: RedisTest.url })

/** Registers, in the current scope, the removal of queue `name`'s keys (on a connection of its own). */
export const cleanup = (name: string): Effect.Effect<void, never, Scope.Scope> =>
  RedisPrefix.cleanupUnder(`${prefix}${name}`)

/**
 * A plain node-redis client on the test Redis, for tests that look at (or
 * act on) what a store wrote directly; destroyed when the scope closes.
 */
import * as RedisTest from "@httpkit/testing/RedisTest"
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { createClient, type RedisClientType, type RedisDefaultModules } from "redis"

/** A connected node-redis client. */
export type RawRedis = RedisClientType<RedisDefaultModules, {}, {}, 3, {}>

/** A connected node-redis client on `RedisTest.url`, destroyed with the scope. */
export const rawRedis: Effect.Effect<RawRedis, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => createClient({ url: RedisTest.url }).connect()),
  (client) => Effect.sync(() => client.destroy())
)

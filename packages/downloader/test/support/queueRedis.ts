/**
 * Redis for the queue's tests: a connection layer on `RedisTest.url`, the
 * prefix every test queue lives under, a test queue on Redis, and the removal
 * of a queue's keys once its test ends (`RedisPrefix.cleanupUnder`).
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { type Effect, Layer, type Scope } from "effect"
import type * as Redis from "effect/persistence/Redis"
import * as DownloadQueue from "../../src/DownloadQueue.ts"
import type * as DownloadQueueStore from "../../src/DownloadQueueStore.ts"

/** Every key a test queue writes starts with this. */
export const prefix = "httpkit:test:dq:"

/** A Redis connection for one test (or one layer). */
export const redisLayer = (): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, Redis.RedisError> =>
  NodeRedis.layer({ url: RedisTest.url })

/** Queue `name` on Redis under `prefix`, polled every 50 ms with leases of 3 s, `options` on top. */
export const queueLayer = (name: string, options: DownloadQueueStore.StoreOptions) =>
  DownloadQueue.layerRedis({ name, prefix, pollInterval: "50 millis", lease: "3 seconds", ...options }).pipe(
    Layer.provide(redisLayer())
  )

/** Registers, in the current scope, the removal of queue `name`'s keys (on a connection of its own). */
export const cleanup = (name: string): Effect.Effect<void, never, Scope.Scope> =>
  RedisPrefix.cleanupUnder(`${prefix}${name}`)

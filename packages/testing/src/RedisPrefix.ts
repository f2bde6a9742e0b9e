/**
 * Redis keys of one test's own: a fresh key prefix, and every key under it
 * deleted when the test (or the layer) ends, so tests on the shared Redis
 * never see each other's state and leave nothing behind.
 *
 * ```ts
 * it.effect("two stores share a limit", () =>
 *   Effect.gen(function*() {
 *     const prefix = yield* RedisPrefix.make("limiter")   // httpkit:test:limiter:<uuid>:
 *     const a = yield* RedisStore.make({ url: RedisTest.url, prefix })
 *     ...
 *   }))                                                   // its keys are deleted here
 * ```
 *
 * `layer(label)` does the same for a block of tests and adds a connection
 * (`Redis`) to `RedisTest.url`; `fresh(label)` is the bare prefix, for keys a
 * test never needs removed (every one of them expires).
 *
 * **Gotchas**
 *
 * - The keys are removed with `SCAN` and `DEL` on a connection of the
 *   cleanup's own, at most 5 s long: a test that broke its own connection
 *   (through `RedisProxy`, say) still leaves nothing behind. A cleanup that
 *   fails is logged as a warning, never a test failure.
 * - Wrap the test file in `RedisTest.describeWithRedis`: without a Redis
 *   the cleanup has nothing to connect to.
 *
 * @since 0.1.0
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import type * as Scope from "effect/Scope"
import * as RedisTest from "./RedisTest.ts"

/**
 * The key prefix of the test (or the block of tests) in scope.
 *
 * @category services
 * @since 0.1.0
 */
export class RedisPrefix extends Context.Service<RedisPrefix, {
  /** `httpkit:test:<label>:<uuid>:`, never given out twice. */
  readonly prefix: string
}>()("@httpkit/testing/RedisPrefix") {}

/**
 * Options of `make` and `layer`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * The Redis the keys live in.
   *
   * @default RedisTest.url
   */
  readonly url?: string | undefined
}

/**
 * A prefix no other test uses: `httpkit:test:<label>:<uuid>:`. Nothing removes
 * its keys; `make` and `layer` do.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fresh = (label = "test"): string => `httpkit:test:${label}:${crypto.randomUUID()}:`

/** `text` as a `SCAN MATCH` pattern that matches it literally. */
const literalPattern = (text: string): string => text.replace(/[*?[\]\\]/g, (special) => `\\${special}`)

/**
 * Every key that starts with `prefix`, in no particular order (`SCAN`).
 *
 * @category combinators
 * @since 0.1.0
 */
export const keysUnder = (prefix: string): Effect.Effect<ReadonlyArray<string>, Redis.RedisError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const found: Array<string> = []
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<[string, Array<string>]>(
        "SCAN",
        cursor,
        "MATCH",
        `${literalPattern(prefix)}*`,
        "COUNT",
        "500"
      )
      cursor = next
      found.push(...keys)
    } while (cursor !== "0")
    return found
  })

/**
 * Deletes every key that starts with `prefix`; succeeds with how many there were.
 *
 * @category combinators
 * @since 0.1.0
 */
export const deleteUnder = (prefix: string): Effect.Effect<number, Redis.RedisError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const keys = yield* keysUnder(prefix)
    for (let start = 0; start < keys.length; start += 500) {
      yield* redis.send("DEL", ...keys.slice(start, start + 500))
    }
    return keys.length
  })

/**
 * Registers, in the current scope, the removal of every key under `prefix`
 * (on a connection of its own to `url`, at most 5 s; a failure is logged).
 *
 * @category combinators
 * @since 0.1.0
 */
export const cleanupUnder = (prefix: string, options: Options = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    deleteUnder(prefix).pipe(
      Effect.provide(NodeRedis.layer({ url: options.url ?? RedisTest.url })),
      Effect.timeout("5 seconds"),
      Effect.catchCause((cause) => Effect.logWarning(`could not delete the test keys under ${prefix}`, cause)),
      Effect.asVoid
    )
  )

/**
 * A fresh prefix (`fresh(label)`) whose keys are deleted when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (label = "test", options: Options = {}): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = fresh(label)
    yield* cleanupUnder(prefix, options)
    return prefix
  })

/**
 * A fresh prefix (`RedisPrefix`) and a connection to the same Redis
 * (`Redis`), for a block of tests; the prefix's keys are deleted when the
 * layer is released.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  label = "test",
  options: Options = {}
): Layer.Layer<RedisPrefix | Redis.Redis, Redis.RedisError> =>
  Layer.merge(
    Layer.effect(RedisPrefix, Effect.map(make(label, options), (prefix) => RedisPrefix.of({ prefix }))),
    NodeRedis.layer({ url: options.url ?? RedisTest.url })
  )

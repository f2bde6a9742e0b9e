/**
 * A Redis store behind a fault proxy, for the tests of what a store does when
 * Redis is down, slow or silent.
 */
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisProxy from "@httpkit/testing/RedisProxy"
import { Effect } from "effect"
import * as RedisStore from "../../src/RedisStore.ts"

/**
 * A proxy in front of the test Redis, started unless `started` is false, then `prepare`d (slowed, hung), and a
 * store of `options` on it (a fresh prefix unless given); both live as long as the scope.
 */
export const proxiedStore = (
  options: Omit<RedisStore.Options, "url"> & {
    readonly started?: boolean
    readonly prepare?: (proxy: RedisProxy.RedisProxy) => Effect.Effect<void>
  } = {}
) =>
  Effect.gen(function*() {
    const { prepare, started = true, ...storeOptions } = options
    const proxy = yield* RedisProxy.make()
    if (started) yield* proxy.start
    if (prepare !== undefined) yield* prepare(proxy)
    const store = yield* RedisStore.make({ url: proxy.url, prefix: RedisPrefix.fresh("rl"), ...storeOptions })
    return { proxy, store }
  })

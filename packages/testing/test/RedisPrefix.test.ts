import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Redis from "effect/persistence/Redis"
import * as RedisPrefix from "../src/RedisPrefix.ts"
import * as RedisTest from "../src/RedisTest.ts"

const connection = NodeRedis.layer({ url: RedisTest.url })

/** Writes `count` keys under `prefix` (no expiry). */
const writeKeys = (prefix: string, count: number) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    for (let i = 0; i < count; i++) yield* redis.send("SET", `${prefix}key-${i}`, "1")
  })

describe("RedisPrefix.fresh", () => {
  it("gives httpkit:test:<label>:<uuid>: and never the same prefix twice", () => {
    const a = RedisPrefix.fresh("breaker")
    const b = RedisPrefix.fresh("breaker")
    assert.match(a, /^httpkit:test:breaker:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:$/)
    assert.notStrictEqual(a, b)
    assert.match(RedisPrefix.fresh(), /^httpkit:test:test:/)
  })
})

await RedisTest.describeWithRedis("RedisPrefix on the real Redis", () => {
  layer(connection, { timeout: 30_000 })((it) => {
    it.effect("make: 3 keys written under the prefix are gone when the scope closes; a neighbour's key stays", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const neighbour = RedisPrefix.fresh("neighbour")
        yield* redis.send("SET", `${neighbour}kept`, "1")
        const scope = yield* Scope.make()
        const prefix = yield* RedisPrefix.make("prefix-test").pipe(Scope.provide(scope))
        assert.match(prefix, /^httpkit:test:prefix-test:/)
        yield* writeKeys(prefix, 3)
        assert.strictEqual((yield* RedisPrefix.keysUnder(prefix)).length, 3)
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(yield* RedisPrefix.keysUnder(prefix), [])
        assert.deepStrictEqual(yield* RedisPrefix.keysUnder(neighbour), [`${neighbour}kept`])
        assert.strictEqual(yield* RedisPrefix.deleteUnder(neighbour), 1)
      }))

    it.effect("deleteUnder removes 1,200 keys (more than one SCAN page and one DEL batch) and counts them", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const prefix = RedisPrefix.fresh("many")
        const args = Array.from({ length: 1_200 }, (_, i) => [`${prefix}${i}`, "1"]).flat()
        yield* redis.send("MSET", ...args)
        assert.strictEqual((yield* RedisPrefix.keysUnder(prefix)).length, 1_200)
        assert.strictEqual(yield* RedisPrefix.deleteUnder(prefix), 1_200)
        assert.deepStrictEqual(yield* RedisPrefix.keysUnder(prefix), [])
      }))

    it.effect("a prefix with glob characters matches only itself: keysUnder(\"a*[b]?\") skips \"aXb\"-like keys", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const base = RedisPrefix.fresh("glob")
        const prefix = `${base}a*[b]?`
        yield* redis.send("SET", `${prefix}1`, "1")
        yield* redis.send("SET", `${base}aZZb!1`, "1")
        assert.deepStrictEqual(yield* RedisPrefix.keysUnder(prefix), [`${prefix}1`])
        assert.strictEqual(yield* RedisPrefix.deleteUnder(base), 2)
      }))
  })

  it.effect(
    "layer: the prefix and a connection for a block of tests; its keys are deleted when the layer is released",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(RedisPrefix.layer("layer-test"), scope)
        const { prefix } = Context.get(context, RedisPrefix.RedisPrefix)
        yield* writeKeys(prefix, 2).pipe(Effect.provideContext(context))
        assert.strictEqual((yield* RedisPrefix.keysUnder(prefix).pipe(Effect.provide(connection))).length, 2)
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(yield* RedisPrefix.keysUnder(prefix).pipe(Effect.provide(connection)), [])
      }),
    30_000
  )
})

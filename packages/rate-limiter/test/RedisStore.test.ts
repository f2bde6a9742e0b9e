import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, it } from "@effect/vitest"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import * as Script from "../src/internal/redisScript.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as RedisStore from "../src/RedisStore.ts"
import { algorithmSuite, type Backend, type Session } from "./support/algorithmSuite.ts"
import { sleepLive, take, windowItem } from "./support/items.ts"
import { rawRedis as raw } from "./support/rawRedis.ts"
import { storeSuite } from "./support/storeSuite.ts"

/** Every key under `prefix`, with its PTTL. */
const keysUnder = (client: Effect.Success<typeof raw>, prefix: string) =>
  Effect.promise(async () => {
    const found: Array<{ readonly key: string; readonly pttl: number }> = []
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of batch) found.push({ key, pttl: await client.pTTL(key) })
    }
    return found
  })

const within = (pttl: number | undefined, max: number) => pttl !== undefined && pttl > 0 && pttl <= max

/** A window of one: granted, then refused (the store works, and keeps state). */
const grantsOnceThenRefuses = (store: LimiterStore.Store, id: string) =>
  Effect.gen(function*() {
    const item = windowItem(id, 1, 60_000)
    assert.strictEqual((yield* take(store, item))._tag, "Granted")
    assert.strictEqual((yield* take(store, item))._tag, "Refused")
  })

/** The scripts on a fresh prefix, run with `EVAL` at the suite's instants on a connection of their own. */
const redisBackend: Backend = {
  name: "redis",
  computes: "the scripts compute",
  stillComputes: "the scripts still compute",
  clock: "Redis's clock",
  exactInstants: false,
  open: (_label, now) =>
    Effect.map(raw, (client): Session => {
      const names = Script.keys(RedisPrefix.fresh("rl"))
      const run = (lua: string, [keys, args]: [ReadonlyArray<string>, ReadonlyArray<string | number>]) =>
        Effect.promise(() => client.eval(lua, { keys: [...keys], arguments: args.map(String) }))
      return {
        reserve: (_connection, items, blockKey, maxWait) =>
          Effect.suspend(() => run(Script.reserve.lua, Script.reserveArgs(names, items, blockKey, maxWait, now())))
            .pipe(
              Effect.map((reply) => Script.decodeReservation(reply as Script.Reply) ?? assert.fail(`${reply}`))
            ),
        cancel: (_connection, items, at) =>
          Effect.asVoid(Effect.suspend(() => run(Script.cancel.lua, Script.cancelArgs(names, items, at, now())))),
        block: (_connection, key, millis) =>
          Effect.asVoid(Effect.suspend(() => run(Script.block.lua, [[names.block(key)], [now(), millis]]))),
        lease: (_connection, id, max, token, leaseMillis) =>
          Effect.suspend(() => run(Script.lease.lua, [[names.lease(id)], [now(), max, token, leaseMillis]])).pipe(
            Effect.map((reply) => Script.decodeLease(reply as Script.Reply))
          ),
        release: (_connection, id, token) => Effect.asVoid(Effect.promise(() => client.zRem(names.lease(id), token))),
        tat: (item) =>
          Effect.map(
            Effect.promise(() => client.get(names.item(item))),
            (stored) => stored === null ? undefined : Number(stored)
          ),
        // Bookings in time order (ties in the order made): time, then the cost from the member.
        log: (item) =>
          Effect.map(
            Effect.promise(() => client.zRangeWithScores(names.item(item), 0, -1)),
            (stored) => stored.flatMap(({ score, value }) => [score, Number(value.split(":")[2])])
          )
      }
    })
}

await RedisTest.describeWithRedis("RedisStore", () => {
  // The contract is what the store books: `maxJitter: false`, since evening out the reply path's latency (which a
  // loaded machine varies by 50 ms and more) holds grants back on purpose (test/RedisJitter.test.ts).
  storeSuite("redis", RedisStore.layer({ url: RedisTest.url, prefix: RedisPrefix.fresh("rl"), maxJitter: false }), {
    realClock: true,
    slackMillis: 2,
    pass: sleepLive,
    live: true,
    cancels: true
  })

  algorithmSuite(redisBackend)

  it.live(
    "two stores on two connections admit exactly a window's limit out of 200 at once",
    () =>
      Effect.gen(function*() {
        const prefix = yield* RedisPrefix.make("rl")
        // A generous timeout: this test is about atomicity, not latency.
        const a = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "10 seconds" })
        const b = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "10 seconds" })
        const item = windowItem("shared", 50, 60_000)
        const results = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => (i % 2 === 0 ? a : b).reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 }),
          { concurrency: "unbounded" }
        )
        const granted = results.filter((r) => r._tag === "Granted")
        const refused = results.filter((r) => r._tag === "Refused")
        assert.strictEqual(granted.length, 50)
        assert.strictEqual(refused.length, 150)
        for (const r of refused) {
          assert.ok(r._tag === "Refused" && r.item === 0 && r.retryAfterMillis > 59_000 && r.retryAfterMillis <= 60_000)
        }
      }),
    60_000
  )

  it.live("two stores on two connections grant a rate's burst exactly once", () =>
    Effect.gen(function*() {
      const prefix = yield* RedisPrefix.make("rl")
      const a = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "10 seconds" })
      const b = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "10 seconds" })
      // One unit a minute, five at once: however long the burst of calls takes, five pass.
      const item: LimiterStore.Item = { id: "rate", kind: "rate", limit: 1, windowMillis: 60_000, burst: 5, cost: 1 }
      const results = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => (i % 2 === 0 ? a : b).reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((r) => r._tag === "Granted").length, 5)
    }), 60_000)

  it.live("every key expires when its state stops mattering, and idle keys vanish", () =>
    Effect.gen(function*() {
      const prefix = yield* RedisPrefix.make("rl")
      const client = yield* raw
      const store = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "5 seconds" })
      yield* store.reserve({
        items: [
          { id: "r", kind: "rate", limit: 10, windowMillis: 1_000, burst: 1, cost: 1 },
          windowItem("w", 5, 800)
        ],
        blockKey: "host",
        maxWaitMillis: 0
      })
      yield* store.block("blocked", 500)
      yield* store.lease({ id: "l", max: 2, token: "t", leaseMillis: 300 })
      const keys = yield* keysUnder(client, prefix)
      const byKind = Object.fromEntries(
        keys.map(({ key, pttl }) => [key.slice(prefix.length, prefix.length + 1), pttl])
      )
      assert.strictEqual(keys.length, 4, JSON.stringify(keys))
      // The rate's tat is 100 ms ahead; the window's entry counts for 800 ms; the block and the lease as long as they last.
      assert.ok(within(byKind.r, 100), JSON.stringify(keys))
      assert.ok(within(byKind.w, 800), JSON.stringify(keys))
      assert.ok(within(byKind.b, 500), JSON.stringify(keys))
      assert.ok(within(byKind.l, 300), JSON.stringify(keys))
      yield* sleepLive(1_000)
      assert.deepStrictEqual(yield* keysUnder(client, prefix), [])
    }), 30_000)

  it.live("ids with any characters work, stay apart, and make bounded key names", () =>
    Effect.gen(function*() {
      const prefix = yield* RedisPrefix.make("rl")
      const client = yield* raw
      const store = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "5 seconds" })
      const long = "x".repeat(10_000)
      const ids = [
        "",
        " ",
        "a b",
        "line\nbreak",
        "tab\there",
        "nul\u0000byte",
        "日本語",
        "emoji 😀",
        "\uD800",
        "\uDC00",
        "*?[glob]",
        "#hash",
        "%41",
        "A",
        "a",
        "https://api.example.com:443/v1?q=1",
        long,
        `${long}y`,
        `${long}z`
      ]
      for (const id of ids) {
        const item = windowItem(id, 1, 60_000)
        const first = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })
        assert.strictEqual(first._tag, "Granted", `first reserve of ${JSON.stringify(id.slice(0, 40))}`)
        const second = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 0 })
        assert.strictEqual(second._tag, "Refused", `second reserve of ${JSON.stringify(id.slice(0, 40))}`)
      }
      // Blocks and leases take the same ids.
      yield* store.block(`${long}\n`, 60_000)
      const blocked = yield* store.reserve({ items: [], blockKey: `${long}\n`, maxWaitMillis: 0 })
      assert.ok(blocked._tag === "Refused" && blocked.item === -1)
      const free = yield* store.reserve({ items: [], blockKey: long, maxWaitMillis: 0 })
      assert.strictEqual(free._tag, "Granted")
      assert.strictEqual(
        (yield* store.lease({ id: "\uD800", max: 1, token: "tok\n😀", leaseMillis: 60_000 }))._tag,
        "Granted"
      )
      assert.strictEqual(
        (yield* store.lease({ id: "\uD800", max: 1, token: "other", leaseMillis: 60_000 }))._tag,
        "Full"
      )
      yield* store.release("\uD800", "tok\n😀")
      assert.strictEqual(
        (yield* store.lease({ id: "\uD800", max: 1, token: "other", leaseMillis: 60_000 }))._tag,
        "Granted"
      )

      const keys = yield* keysUnder(client, prefix)
      assert.strictEqual(keys.length, ids.length + 2)
      for (const { key, pttl } of keys) {
        assert.ok(Buffer.byteLength(key) <= Buffer.byteLength(prefix) + 2 + 128, `key too long: ${key.length}`)
        assert.ok(pttl > 0, `${key} has no expiry`)
      }
    }), 30_000)

  it.live(
    "a window's cost does not grow with its log: with 50,000 bookings of a window of 100,000 an hour, a reserve takes under 10 ms (a script reading the whole log took 30-70 ms)",
    () =>
      Effect.gen(function*() {
        const client = yield* raw
        const prefix = yield* RedisPrefix.make("rl")
        const names = Script.keys(prefix)
        const item = windowItem("big", 100_000, 3_600_000)
        const sha = yield* Effect.promise(() => client.scriptLoad(Script.reserve.lua))
        // 50,000 bookings over the last 30 minutes, through the script itself at chosen instants, 500 at a time.
        const bookings = 50_000
        const from = Date.now() - 1_800_000
        const filling = performance.now()
        for (let i = 0; i < bookings; i += 500) {
          yield* Effect.promise(() =>
            Promise.all(Array.from({ length: 500 }, (_, j) => {
              const [keys, args] = Script.reserveArgs(names, [item], undefined, 0, from + (i + j) * 30)
              return client.evalSha(sha, { keys: [...keys], arguments: args.map(String) })
            }))
          )
          assert.isBelow(performance.now() - filling, 30_000, `${i + 500} bookings took over 30 s to make`)
        }
        assert.strictEqual(yield* Effect.promise(() => client.zCard(names.item(item))), bookings)
        const store = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "5 seconds" })
        const millis: Array<number> = []
        for (let i = 0; i < 21; i++) {
          const started = performance.now()
          assert.strictEqual((yield* take(store, item))._tag, "Granted")
          millis.push(performance.now() - started)
        }
        const median = millis.toSorted((a, b) => a - b)[10]!
        assert.isBelow(median, 10, `median ${median.toFixed(2)} ms: ${millis.map((m) => m.toFixed(1)).join(" ")}`)
      }),
    120_000
  )

  it.live(
    "a window written by an earlier version (a list of time, cost) becomes a sorted set when first touched, keeping its bookings and its expiry",
    () =>
      Effect.gen(function*() {
        const client = yield* raw
        const prefix = yield* RedisPrefix.make("rl")
        const item = windowItem("old", 3, 60_000)
        const key = Script.keys(prefix).item(item)
        const now = Date.now()
        // Three bookings, two of them at one instant, as the list format wrote them.
        yield* Effect.promise(() =>
          client.rPush(key, [now - 20_000, 1, now - 10_000, 1, now - 10_000, 1].map((x) => String(x)))
        )
        yield* Effect.promise(() => client.pExpire(key, 50_000))
        const store = yield* RedisStore.make({ url: RedisTest.url, prefix, timeout: "5 seconds" })
        const refused = yield* take(store, item)
        assert.strictEqual(refused._tag, "Refused")
        // The oldest leaves the window 40 s from now.
        if (refused._tag === "Refused") assert.closeTo(refused.retryAfterMillis, 40_000, 1_000)
        assert.strictEqual(yield* Effect.promise(() => client.type(key)), "zset")
        assert.strictEqual(yield* Effect.promise(() => client.zCard(key)), 3)
        const pttl = yield* Effect.promise(() => client.pTTL(key))
        assert.ok(pttl > 45_000 && pttl <= 50_000, `PTTL ${pttl}`)
        // Waiting, it books the slot the oldest leaves, and the window goes on from the converted log.
        const waited = yield* store.reserve({ items: [item], blockKey: undefined, maxWaitMillis: 60_000 })
        assert.ok(waited._tag === "Granted" && Math.abs(waited.delayMillis - 40_000) < 1_000, JSON.stringify(waited))
      }),
    30_000
  )

  it.live("layerRedis runs on a Redis service you already have", () =>
    Effect.gen(function*() {
      yield* grantsOnceThenRefuses(yield* LimiterStore.LimiterStore, "mine")
    }).pipe(
      Effect.provide(
        RedisStore.layerRedis({ prefix: RedisPrefix.fresh("rl") }).pipe(
          Layer.provide(NodeRedis.layer({ url: RedisTest.url }))
        )
      )
    ), 30_000)

  it.live("layerConfig reads REDIS_URL", () =>
    Effect.gen(function*() {
      yield* grantsOnceThenRefuses(yield* LimiterStore.LimiterStore, "config")
    }).pipe(
      Effect.provide(
        RedisStore.layerConfig({ prefix: RedisPrefix.fresh("rl") }).pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ REDIS_URL: RedisTest.url })))
        )
      )
    ), 30_000)
})

it.effect("a Redis URL the store cannot use fails with RedisUrlError, credentials redacted, before anything connects", () =>
  Effect.gen(function*() {
    const shape = "redis://[[user]:password@]host[:port][/db], or rediss:// for TLS"
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["redis//user:s3cret@127.0.0.1:6379", "redis//REDACTED@127.0.0.1:6379", `a URL ${shape}`],
      ["http://user:s3cret@127.0.0.1:6379", "http://REDACTED@127.0.0.1:6379/", `a URL ${shape}, not http://`],
      ["redis://127.0.0.1:70000", "redis://127.0.0.1:70000", `a URL ${shape}`],
      ["redis://127.0.0.1:0", "redis://127.0.0.1:0", `a port from 1 to 65535, ${shape}`],
      ["redis://", "redis://", `a URL with a host, ${shape}`],
      [
        "rediss://:s3cret@127.0.0.1:6379/cache",
        "rediss://REDACTED@127.0.0.1:6379/cache",
        `a database number after the host (/0, /1, ...), ${shape}`
      ]
    ]
    for (const [url, shown, expected] of cases) {
      const error = yield* Effect.flip(Effect.scoped(RedisStore.make({ url })))
      if (error._tag !== "RedisUrlError") return assert.fail(`${url}: ${error._tag}`)
      assert.deepStrictEqual({ setting: error.setting, url: error.url, expected: error.expected }, {
        setting: "url",
        url: shown,
        expected
      })
      assert.strictEqual(
        error.message,
        `invalid Redis store configuration: url is ${JSON.stringify(shown)}, expected ${expected}`
      )
      assert.notInclude(JSON.stringify(error) + error.message, "s3cret")
    }
  }))

it.effect(
  "durations as people write them: \"250ms\" and \"2s\" connect; one that is no duration (maxJitter too) fails with PolicyError, before anything connects",
  () =>
    Effect.gen(function*() {
      const prefix = RedisPrefix.fresh("rl")
      const store = yield* RedisStore.make({
        url: RedisTest.url,
        prefix,
        timeout: "250ms",
        maxTimeout: "2s",
        connectTimeout: "1.5 s",
        maxBackoff: "500ms",
        maxJitter: "250ms"
      })
      const granted = yield* store.reserve({
        items: [windowItem(`${prefix}w`, 1, 1_000)],
        blockKey: "k",
        maxWaitMillis: 0
      })
      assert.strictEqual(granted._tag, "Granted")
      // A closed port: a store that tried to connect would wait; this one is refused first.
      const error = yield* Effect.flip(RedisStore.make({
        url: "redis://127.0.0.1:1",
        timeout: "quick" as DurationInput.Input,
        maxBackoff: -1
      }))
      assert.strictEqual(error._tag, "PolicyError")
      assert.strictEqual(
        error.message,
        `invalid rate limiter configuration: timeout is "quick", expected ${DurationInput.accepted}; ` +
          `maxBackoff is -1, expected ${DurationInput.accepted}`
      )
      const onYours = yield* Effect.flip(
        RedisStore.makeRedis({
          maxTimeout: { secs: 2 } as DurationInput.Input,
          maxJitter: "soon" as DurationInput.Input
        }).pipe(
          Effect.provideService(Redis.Redis, undefined as never)
        )
      )
      assert.strictEqual(
        onYours.message,
        `invalid rate limiter configuration: maxTimeout is an object, expected ${DurationInput.accepted}; ` +
          `maxJitter is "soon", expected ${DurationInput.accepted}`
      )
      // @ts-expect-error a boolean is no timeout
      const wrong: RedisStore.Options = { timeout: true }
      assert.isDefined(wrong)
    }).pipe(Effect.scoped),
  30_000
)

it.effect("layerConfig names REDIS_URL in its RedisUrlError", () =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(
      Effect.service(LimiterStore.LimiterStore).pipe(
        Effect.provide(
          RedisStore.layerConfig().pipe(
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { REDIS_URL: "localhost:6379" } })))
          )
        )
      )
    )
    assert.strictEqual(error._tag, "RedisUrlError")
    assert.strictEqual(
      error.message,
      "invalid Redis store configuration: REDIS_URL is \"localhost:6379\", expected a URL " +
        "redis://[[user]:password@]host[:port][/db], or rediss:// for TLS"
    )
  }))

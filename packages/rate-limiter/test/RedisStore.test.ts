import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, it } from "@effect/vitest"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as RedisPrefix from "@httpkit/testing/RedisPrefix"
import * as RedisTest from "@httpkit/testing/RedisTest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import * as Algorithm from "../src/internal/algorithm.ts"
import * as Script from "../src/internal/redisScript.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as RedisStore from "../src/RedisStore.ts"
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

/** What one run of `sameAsAlgorithm` draws from. */
interface Draws {
  readonly specs: ReadonlyArray<Omit<LimiterStore.Item, "cost">>
  readonly seeds: ReadonlyArray<number>
  readonly steps: number
  readonly timeSteps: ReadonlyArray<number>
  readonly costs: ReadonlyArray<number>
  readonly maxWaits: ReadonlyArray<number>
  /** The keys whose blocks requests check (`undefined`: none). */
  readonly blockKeys: ReadonlyArray<string | undefined>
  /** The indexes in `specs` of one request's items (`pick(0)` draws one at random). */
  readonly request: (pick: (_: 0) => number, random: () => number) => ReadonlyArray<number>
}

/**
 * Runs random sequences of reservations, give-backs, blocks and leases at chosen instants both through the
 * Redis scripts and through `algorithm.ts`, and checks that every answer and every state that still counts is
 * the same. Gives what was exercised.
 */
const sameAsAlgorithm = (draws: Draws) =>
  Effect.gen(function*() {
    const client = yield* raw
    const run = (lua: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) =>
      Effect.promise(() => client.eval(lua, { keys: [...keys], arguments: args.map(String) }))
    const counts = { granted: 0, refused: 0, cancels: 0, longest: 0, mostAhead: 0 }
    for (const seed of draws.seeds) {
      const names = Script.keys(RedisPrefix.fresh("rl"))
      const states = new Map<string, Algorithm.ItemState>()
      const blocks = new Map<string, number>()
      const leases = new Map<string, Algorithm.Leases>()
      const stateOf = (item: Omit<LimiterStore.Item, "cost">) => {
        let found = states.get(item.id)
        if (found === undefined) states.set(item.id, found = Algorithm.emptyState())
        return found
      }
      let seedState = seed * 7_919
      const random = () => {
        seedState = (seedState * 1_103_515_245 + 12_345) % 2_147_483_648
        return seedState / 2_147_483_648
      }
      const pick = <A>(values: ReadonlyArray<A>): A => values[Math.floor(random() * values.length)]!
      // Fractional, so the exact round trip of times through Redis is exercised too.
      let now = Date.now() + 0.123_456
      const bookings: Array<{ readonly items: ReadonlyArray<LimiterStore.Item>; readonly at: number }> = []
      /** What Redis keeps is what memory keeps (counting only what still matters). */
      const sameStates = (items: ReadonlyArray<LimiterStore.Item>, what: string) =>
        Effect.gen(function*() {
          for (const item of items) {
            const key = names.item(item)
            if (item.kind === "rate") {
              const stored = yield* Effect.promise(() => client.get(key))
              const tat = stateOf(item).tat
              if (stored === null) assert.ok(tat <= now, `${what}: ${key} vanished early`)
              else assert.strictEqual(Number(stored), tat, `${what}: ${key}`)
            } else {
              // Bookings in time order (ties in the order made): time, then the cost from the member.
              const stored = (yield* Effect.promise(() => client.zRangeWithScores(key, 0, -1))).flatMap((
                { score, value }
              ) => [score, Number(value.split(":")[2])])
              const counting = (entries: ReadonlyArray<number>) =>
                entries.flatMap((time, i) =>
                  i % 2 === 0 && time > now - item.windowMillis ? [time, entries[i + 1]!] : []
                ).join()
              assert.strictEqual(counting(stored), counting(stateOf(item).entries), `${what}: ${key}`)
              const entries = stateOf(item).entries
              counts.longest = Math.max(counts.longest, entries.length / 2)
              counts.mostAhead = Math.max(counts.mostAhead, entries.filter((t, i) => i % 2 === 0 && t > now).length)
            }
          }
        })
      for (let step = 0; step < draws.steps; step++) {
        now += pick(draws.timeSteps)
        const roll = random()
        if (roll < 0.65) {
          const items = draws.request(() => Math.floor(random() * draws.specs.length), random).map((index) => ({
            ...draws.specs[index]!,
            cost: pick(draws.costs)
          }))
          const blockKey = pick(draws.blockKeys)
          const maxWait = pick(draws.maxWaits)
          const what = `seed ${seed} step ${step}: ${JSON.stringify({ items, blockKey, maxWait })}`
          const expected = Algorithm.reserve(
            items.map(stateOf),
            items,
            blockKey === undefined ? 0 : blocks.get(blockKey) ?? 0,
            now,
            maxWait
          )
          const [keys, args] = Script.reserveArgs(names, items, blockKey, maxWait, now)
          const reply = yield* run(Script.reserve.lua, keys, args)
          const decoded = Script.decodeReservation(reply as Script.Reply)
          // A booking ahead carries its instant, in Redis's time: the one memory booked at.
          if (decoded?._tag === "Granted" && decoded.delayMillis > 0) {
            assert.isDefined(decoded.at, what)
            assert.closeTo(decoded.at! - now, decoded.delayMillis, 1e-6, what)
            bookings.push({ items, at: decoded.at! })
          }
          const { at: _at, ...withoutAt } = decoded as Algorithm.Reservation & { readonly at?: number }
          assert.deepStrictEqual(withoutAt, expected, what)
          if (expected._tag === "Granted") counts.granted++
          else counts.refused++
          yield* sameStates(items, what)
        } else if (roll < 0.72 && bookings.length > 0) {
          // A waiter went away: its booking (not always the latest, not always still ahead) is given back.
          const booking = bookings.splice(Math.floor(random() * bookings.length), 1)[0]!
          const what = `seed ${seed} step ${step} cancel: ${JSON.stringify(booking)}`
          Algorithm.cancel(booking.items.map(stateOf), booking.items, booking.at, now)
          const [keys, args] = Script.cancelArgs(names, booking.items, booking.at, now)
          yield* run(Script.cancel.lua, keys, args)
          counts.cancels++
          yield* sameStates(booking.items, what)
        } else if (roll < 0.75) {
          const key = pick(["h1", "h2"])
          const millis = pick([20_000, 50_000])
          blocks.set(key, Math.max(blocks.get(key) ?? 0, now + millis))
          yield* run(Script.block.lua, [names.block(key)], [now, millis])
        } else if (roll < 0.92) {
          const id = pick(["pool", "other"])
          const token = pick(["a", "b", "c"])
          const leaseMillis = pick([30_000, 60_000])
          let held = leases.get(id)
          if (held === undefined) leases.set(id, held = new Map())
          const expected = Algorithm.lease(held, 2, token, leaseMillis, now)
          const reply = yield* run(Script.lease.lua, [names.lease(id)], [now, 2, token, leaseMillis])
          assert.deepStrictEqual(
            Script.decodeLease(reply as Script.Reply),
            expected,
            `seed ${seed} step ${step} lease`
          )
        } else {
          const id = pick(["pool", "other"])
          const token = pick(["a", "b", "c"])
          leases.get(id)?.delete(token)
          yield* Effect.promise(() => client.zRem(names.lease(id), token))
        }
      }
    }
    return counts
  })

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
    "the scripts compute exactly what algorithm.ts computes, on random sequences at chosen instants, give-backs included",
    () =>
      Effect.gen(function*() {
        // Every length is a multiple of 10 s and time moves in such steps, so a key's TTL (real time)
        // never ends while its state still matters at the instants the test chooses.
        const counts = yield* sameAsAlgorithm({
          specs: [
            { id: "rate1", kind: "rate", limit: 2, windowMillis: 20_000, burst: 1 },
            { id: "rate3", kind: "rate", limit: 3, windowMillis: 90_000, burst: 3 },
            { id: "win5", kind: "window", limit: 5, windowMillis: 60_000, burst: 1 },
            { id: "win3", kind: "window", limit: 3, windowMillis: 40_000, burst: 1 },
            // The same id as a rate and as a window: two separate states, as in memory.
            { id: "rate1", kind: "window", limit: 4, windowMillis: 50_000, burst: 1 }
          ],
          seeds: [1, 2, 3, 4],
          steps: 250,
          timeSteps: [0, 0, 10_000, 20_000, 50_000],
          costs: [1, 1, 1, 2, 4, 7],
          maxWaits: [0, 0, 30_000, 1e9],
          blockKeys: [undefined, undefined, "h1", "h2"],
          request: (pick, random) => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(0))
        })
        // Both outcomes, and give-backs, were exercised.
        assert.ok(counts.granted > 100 && counts.refused > 100, JSON.stringify(counts))
        assert.ok(counts.cancels > 20, JSON.stringify(counts))
      }),
    60_000
  )

  it.live(
    "on a window of hundreds of bookings, many of them ahead (a stacked rate books it up to minutes ahead), the scripts still compute exactly what algorithm.ts computes",
    () =>
      Effect.gen(function*() {
        const counts = yield* sameAsAlgorithm({
          specs: [
            { id: "big", kind: "window", limit: 300, windowMillis: 60_000, burst: 1 },
            // Two a second: a request held by it books the window up to minutes ahead, more than 100 bookings.
            { id: "pace", kind: "rate", limit: 2, windowMillis: 1_000, burst: 1 },
            { id: "small", kind: "window", limit: 7, windowMillis: 10_000, burst: 1 }
          ],
          seeds: [11, 12],
          steps: 1_500,
          // Mostly at one instant, so the window fills and waiters book ahead; now and then past the window.
          timeSteps: [...Array.from({ length: 600 }, () => 0), 100, 2_000, 30_000, 61_000],
          costs: [1, 1, 1, 1, 2, 5],
          maxWaits: [0, 1e9, 1e9],
          blockKeys: [undefined],
          // The big window alone (it may fit before the bookings ahead), stacked with the pace, or with both.
          request: (_pick, random) => {
            const roll = random()
            return roll < 0.45 ? [0] : roll < 0.9 ? [0, 1] : [0, 1, 2, 2]
          }
        })
        assert.ok(counts.granted > 500 && counts.refused > 50, JSON.stringify(counts))
        assert.ok(counts.cancels > 30, JSON.stringify(counts))
        assert.ok(counts.longest > 250, `the window held at most ${counts.longest} bookings`)
        assert.ok(counts.mostAhead > 100, `at most ${counts.mostAhead} bookings ahead`)
      }),
    120_000
  )

  it.live(
    "when Redis's clock goes back and forth, bookings ahead and behind still come out exactly as algorithm.ts computes them",
    () =>
      Effect.gen(function*() {
        const counts = yield* sameAsAlgorithm({
          specs: [
            { id: "twenty", kind: "window", limit: 20, windowMillis: 60_000, burst: 1 },
            { id: "five", kind: "window", limit: 5, windowMillis: 60_000, burst: 1 },
            { id: "pace", kind: "rate", limit: 5, windowMillis: 1_000, burst: 1 }
          ],
          seeds: [21, 22],
          steps: 600,
          // Within a second either way, so nothing leaves a window of a minute.
          timeSteps: [0, 0, 100, -100, 250, -250],
          costs: [1, 1, 2, 3],
          maxWaits: [0, 1e9],
          blockKeys: [undefined],
          request: (pick, random) => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(0))
        })
        assert.ok(counts.granted > 200 && counts.cancels > 20, JSON.stringify(counts))
      }),
    60_000
  )

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

/**
 * The local store's windows: bookings in a table with running totals
 * (`internal/localWindow.ts`), the same answers as `algorithm.ts` on the whole
 * log, a call's work that does not grow with the log, and the conversion of a
 * file written in the layout of schema version 1 (the log as one row).
 *
 * The store reads the machine's clock; these tests open its database with a
 * clock of their own (`LocalDatabase.open`'s last argument), so every
 * operation runs at an instant they choose.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import * as Algorithm from "../src/internal/algorithm.ts"
import * as LocalDatabase from "../src/internal/localDatabase.ts"
import * as LocalWindow from "../src/internal/localWindow.ts"
import type * as LimiterStore from "../src/LimiterStore.ts"
import * as LocalStore from "../src/LocalStore.ts"
import { rateItem, windowItem } from "./support/items.ts"
import * as Version1 from "./support/localVersion1.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-local-window-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

/** A fresh database path in the test folder. */
const freshPath = (label: string) => Path.join(root, `${label}-${randomUUID()}`, "limiter.sqlite")

/** A booking as the table holds it. */
interface Booking {
  readonly time: number
  readonly cost: number
  readonly total: number
}

/** Reads the file as another connection would (read only; WAL lets it read beside the store). */
const reader = (path: string) => {
  const db = new DatabaseSync(path, { readOnly: true })
  const bookings = db.prepare("SELECT time, cost, total FROM bookings WHERE id = ? ORDER BY time, seq")
  const item = db.prepare("SELECT tat, expires_at FROM items WHERE id = ?")
  const count = db.prepare("SELECT count(*) AS n FROM bookings")
  return {
    /** An id's bookings in the store's order. */
    bookings: (id: string): ReadonlyArray<Booking> =>
      bookings.all(LocalDatabase.storedName(id)).map((row) => ({
        time: Number(row.time),
        cost: Number(row.cost),
        total: Number(row.total)
      })),
    item: (id: string) => {
      const row = item.get(LocalDatabase.storedName(id))
      return row === undefined ? undefined : { tat: Number(row.tat), expiresAt: Number(row.expires_at) }
    },
    count: (): number => Number(count.get()?.n),
    db,
    close: () => db.close()
  }
}

/** The bookings as a log `[time, cost, ...]`, in the store's order. */
const logOf = (bookings: ReadonlyArray<Booking>): Array<number> => bookings.flatMap(({ cost, time }) => [time, cost])

/** Each booking's total is the one before it plus its cost: the running totals hold (exact for whole costs). */
const assertRunning = (bookings: ReadonlyArray<Booking>, what: string) => {
  for (let i = 1; i < bookings.length; i++) {
    assert.strictEqual(bookings[i]!.total - bookings[i - 1]!.total, bookings[i]!.cost, `${what}: booking ${i}`)
  }
}

/** What one run of `sameAsAlgorithm` draws from. */
interface Draws {
  readonly specs: ReadonlyArray<Omit<LimiterStore.Item, "cost">>
  readonly seeds: ReadonlyArray<number>
  readonly steps: number
  readonly timeSteps: ReadonlyArray<number>
  readonly costs: ReadonlyArray<number>
  readonly maxWaits: ReadonlyArray<number>
  readonly blockKeys: ReadonlyArray<string | undefined>
  /** The indexes in `specs` of one request's items (`pick()` draws one at random). */
  readonly request: (pick: () => number, random: () => number) => ReadonlyArray<number>
}

/**
 * Runs random sequences of reservations, give-backs and blocks at chosen instants both through the store's
 * database and through `algorithm.ts` on plain arrays, and checks that every answer is the same, that every
 * booking that still counts is the same, and that the running totals hold. Each operation goes through one of
 * two connections to the file, drawn at random, as operations of two processes would. Gives what was exercised.
 */
const sameAsAlgorithm = (draws: Draws) => {
  const counts = { granted: 0, refused: 0, cancels: 0, longest: 0, mostAhead: 0, before: 0, swept: 0 }
  for (const seed of draws.seeds) {
    let seedState = seed * 7_919
    const random = () => {
      seedState = (seedState * 1_103_515_245 + 12_345) % 2_147_483_648
      return seedState / 2_147_483_648
    }
    const pick = <A>(values: ReadonlyArray<A>): A => values[Math.floor(random() * values.length)]!
    // Fractional, so times go through the file exactly too.
    let now = Date.now() + 0.123_456
    const path = freshPath(`same-${seed}`)
    const connections = [
      LocalDatabase.open(path, 1_000, false, () => now),
      LocalDatabase.open(path, 1_000, false, () => now)
    ]
    const file = reader(path)
    try {
      const states = new Map<string, Algorithm.ItemState>()
      const stateOf = (item: Omit<LimiterStore.Item, "cost">) => {
        let found = states.get(item.id)
        if (found === undefined) states.set(item.id, found = Algorithm.emptyState())
        return found
      }
      const blocks = new Map<string, number>()
      const bookings: Array<{ readonly items: ReadonlyArray<LimiterStore.Item>; readonly at: number }> = []
      /** What the file keeps is what memory keeps (counting only what still matters). */
      const sameStates = (items: ReadonlyArray<LimiterStore.Item>, what: string) => {
        for (const item of items) {
          const state = stateOf(item)
          if (item.kind === "rate") {
            const row = file.item(item.id)
            if (row === undefined) assert.ok(state.tat <= now, `${what}: the state of ${item.id} vanished early`)
            else assert.strictEqual(row.tat, state.tat, `${what}: tat of ${item.id}`)
            continue
          }
          const stored = file.bookings(item.id)
          assertRunning(stored, what)
          const counting = (entries: ReadonlyArray<number>) =>
            entries.flatMap((time, i) => i % 2 === 0 && time > now - item.windowMillis ? [time, entries[i + 1]!] : [])
              .join()
          assert.strictEqual(counting(logOf(stored)), counting(state.entries), `${what}: ${item.id}`)
          counts.longest = Math.max(counts.longest, state.entries.length / 2)
          counts.mostAhead = Math.max(counts.mostAhead, state.entries.filter((t, i) => i % 2 === 0 && t > now).length)
        }
      }
      for (let step = 0; step < draws.steps; step++) {
        now += pick(draws.timeSteps)
        const database = pick(connections)
        const roll = random()
        if (roll < 0.8) {
          const items = draws.request(() => Math.floor(random() * draws.specs.length), random).map((index) => ({
            ...draws.specs[index]!,
            cost: pick(draws.costs)
          }))
          const blockKey = pick(draws.blockKeys)
          const maxWait = pick(draws.maxWaits)
          const what = `seed ${seed} step ${step}: ${JSON.stringify({ items, blockKey, maxWait })}`
          // Whether a window booking would go before bookings already made (ahead, or after the clock went back).
          const lastOf = (item: LimiterStore.Item) => stateOf(item).entries.at(-2) ?? Number.NEGATIVE_INFINITY
          const lasts = items.map(lastOf)
          const expected = Algorithm.reserve(
            items.map(stateOf),
            items,
            blockKey === undefined ? 0 : blocks.get(blockKey) ?? 0,
            now,
            maxWait
          )
          const got = database.reserve(items, blockKey, maxWait)
          if (got._tag === "Granted" && got.delayMillis > 0) {
            assert.strictEqual(got.at, now + got.delayMillis, what)
            bookings.push({ items, at: got.at! })
          }
          const { at: _at, ...withoutAt } = got as Algorithm.Reservation & { readonly at?: number }
          assert.deepStrictEqual(withoutAt, expected, what)
          if (expected._tag === "Granted") {
            counts.granted++
            const at = now + expected.delayMillis
            if (items.some((item, i) => item.kind === "window" && at < lasts[i]!)) counts.before++
          } else counts.refused++
          sameStates(items, what)
        } else if (roll < 0.9 && bookings.length > 0) {
          // A waiter went away: its booking (not always the latest, not always still ahead) is given back. Now and
          // then only its first items: one of two bookings of one instant stays, after the one taken back.
          const booking = bookings.splice(Math.floor(random() * bookings.length), 1)[0]!
          const items = random() < 0.3
            ? booking.items.slice(0, 1 + Math.floor(random() * booking.items.length))
            : booking.items
          Algorithm.cancel(items.map(stateOf), items, booking.at, now)
          database.cancel(items, booking.at)
          counts.cancels++
          sameStates(booking.items, `seed ${seed} step ${step} cancel: ${JSON.stringify({ items, at: booking.at })}`)
        } else {
          const key = pick(["h1", "h2"])
          const millis = pick([20_000, 50_000])
          blocks.set(key, Math.max(blocks.get(key) ?? 0, now + millis))
          database.block(key, millis)
        }
      }
      // Past every window and rate, a sweep leaves nothing behind.
      now += 3_600_000
      for (let i = 0; i < 10; i++) connections[0]!.sweep()
      counts.swept += file.count()
    } finally {
      for (const database of connections) database.close()
      file.close()
    }
  }
  return counts
}

describe("LocalStore: a window's bookings", () => {
  it.effect(
    "the store computes exactly what algorithm.ts computes on the whole log, on random sequences at chosen instants, give-backs included",
    () =>
      Effect.sync(() => {
        const counts = sameAsAlgorithm({
          specs: [
            { id: "rate1", kind: "rate", limit: 2, windowMillis: 20_000, burst: 1 },
            { id: "rate3", kind: "rate", limit: 3, windowMillis: 90_000, burst: 3 },
            { id: "win5", kind: "window", limit: 5, windowMillis: 60_000, burst: 1 },
            { id: "win3", kind: "window", limit: 3, windowMillis: 40_000, burst: 1 },
            // The same id as a rate and as a window: one state, as in memory.
            { id: "rate1", kind: "window", limit: 4, windowMillis: 50_000, burst: 1 }
          ],
          seeds: [1, 2, 3, 4],
          steps: 250,
          timeSteps: [0, 0, 10_000, 20_000, 50_000],
          // A token cost of 0 too: bookings that add nothing to the running totals.
          costs: [1, 1, 1, 2, 4, 7, 0],
          maxWaits: [0, 0, 30_000, 1e9],
          blockKeys: [undefined, undefined, "h1", "h2"],
          request: (pick, random) => Array.from({ length: 1 + Math.floor(random() * 3) }, pick)
        })
        assert.ok(counts.granted > 100 && counts.refused > 100, JSON.stringify(counts))
        assert.ok(counts.cancels > 20, JSON.stringify(counts))
        assert.strictEqual(counts.swept, 0, JSON.stringify(counts))
      })
  )

  it.effect(
    "on a window of hundreds of bookings, many of them ahead (a stacked rate books it up to minutes ahead), the store still computes exactly what algorithm.ts computes",
    () =>
      Effect.sync(() => {
        const counts = sameAsAlgorithm({
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
        assert.ok(counts.before > 50, `${counts.before} bookings went before others`)
      }),
    120_000
  )

  it.effect(
    "when the clock goes back and forth, bookings ahead and behind still come out exactly as algorithm.ts computes them",
    () =>
      Effect.sync(() => {
        const counts = sameAsAlgorithm({
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
          request: (pick, random) => Array.from({ length: 1 + Math.floor(random() * 3) }, pick)
        })
        assert.ok(counts.granted > 200 && counts.cancels > 20 && counts.before > 20, JSON.stringify(counts))
      }),
    60_000
  )

  it.effect(
    "bookings that leave the window are deleted as it moves: one a second in a window of 10 s holds 10 rows after 100 s, not 100",
    () =>
      Effect.sync(() => {
        let now = Date.now()
        const path = freshPath("moving")
        const database = LocalDatabase.open(path, 1_000, false, () => now)
        const file = reader(path)
        try {
          const item = windowItem("moving", 10, 10_000)
          for (let i = 0; i < 100; i++) {
            assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted", `request ${i}`)
            now += 1_000
          }
          // The last ten: those of (now - 10 s, now]; the call of this instant deletes the one that has just left.
          assert.strictEqual(file.bookings("moving").length, 10)
          assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted")
          assert.strictEqual(file.bookings("moving").length, 10)
        } finally {
          database.close()
          file.close()
        }
      })
  )

  it.effect(
    `a call deletes at most ${LocalWindow.staleBatch} bookings that left the window, those left count for nothing, and the sweep takes the rest once the state expires`,
    () =>
      Effect.sync(() => {
        let now = Date.now()
        const path = freshPath("stale")
        const database = LocalDatabase.open(path, 1_000, false, () => now)
        const file = reader(path)
        try {
          const limit = 5_000
          const item = windowItem("stale", limit, 60_000)
          for (let i = 0; i < 2_500; i++) {
            assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted")
            now += 1
          }
          assert.strictEqual(file.bookings("stale").length, 2_500)
          // Every booking has left the window: the whole limit is free, though 1,500 of them are still there.
          now += 60_000
          const whole = { ...item, cost: limit }
          assert.deepStrictEqual(database.reserve([whole], undefined, 0), { _tag: "Granted", delayMillis: 0 })
          assert.strictEqual(file.bookings("stale").length, 1 + 1_500)
          // The window is full now, whatever is left of the old bookings: the next waits for the window.
          const next = database.reserve([item], undefined, 1e9)
          assert.deepStrictEqual(next, { _tag: "Granted", delayMillis: 60_000, at: now + 60_000 })
          assert.strictEqual(file.bookings("stale").length, 2 + 500)
          // Past both, the state expires and the sweep deletes its bookings and its row.
          now += 180_000
          database.sweep()
          assert.strictEqual(file.count(), 0)
          assert.strictEqual(file.item("stale"), undefined)
        } finally {
          database.close()
          file.close()
        }
      })
  )

  it.effect(
    "the sweep takes an expired state's bookings a batch at a time, and its row only once they are gone",
    () =>
      Effect.sync(() => {
        let now = Date.now()
        const path = freshPath("sweep-batches")
        const database = LocalDatabase.open(path, 1_000, false, () => now)
        const file = reader(path)
        try {
          const item = windowItem("many", 10_000, 1_000)
          for (let i = 0; i < 2_500; i++) database.reserve([item], undefined, 0)
          now += 2_000
          database.sweep()
          assert.strictEqual(file.count(), 2_500 - LocalDatabase.sweepBatch)
          assert.isDefined(file.item("many"))
          database.sweep()
          database.sweep()
          assert.strictEqual(file.count(), 0)
          assert.isUndefined(file.item("many"))
        } finally {
          database.close()
          file.close()
        }
      })
  )

  it.effect(
    "a reservation on a window of 20,000 bookings writes a handful of pages to the file (the log written whole was 80 and more)",
    () =>
      Effect.sync(() => {
        const now = Date.now()
        const path = freshPath("pages")
        const id = "window 100000/1h|*"
        const entries = Array.from({ length: 20_000 }, (_, i) => [now - 1_800_000 + i * 90, 1]).flat()
        Version1.write(path, { items: [{ id, tat: 0, entries, expiresAt: now + 1_800_000 }] })
        const database = LocalDatabase.open(path, 1_000, false, () => now)
        const probe = new DatabaseSync(path)
        try {
          const item = windowItem(id, 100_000, 3_600_000)
          /** Pages the WAL holds: what the transactions since the last truncation wrote. */
          const walPages = () => Number(probe.prepare("PRAGMA wal_checkpoint(PASSIVE)").get()?.log)
          const pages: Array<number> = []
          for (let i = 0; i < 5; i++) {
            probe.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get()
            assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted")
            pages.push(walPages())
          }
          // A booking row, its two index entries and the state's row: a few pages (a split now and then).
          assert.ok(Math.max(...pages) <= 12, `pages written per reservation: ${pages.join(", ")}`)
        } finally {
          database.close()
          probe.close()
        }
      })
  )

  it.effect(
    "a file of schema version 1 is converted when opened: each log becomes bookings with running totals, expiries, blocks and leases are kept, and answers are those of the log",
    () =>
      Effect.sync(() => {
        const now = Date.now() + 0.5
        const path = freshPath("version1")
        const lone = "user-\ud800"
        const logs: Record<string, Array<number>> = {
          // Two bookings at one instant.
          old: [now - 20_000, 1, now - 10_000, 1, now - 10_000, 1],
          // Bookings ahead (waiters), one of them costing 3 tokens.
          ahead: [now - 1_000, 2, now + 5_000, 1, now + 5_000, 3],
          // A rate and a window of one name.
          shared: [now - 5_000, 1],
          [lone]: [now - 30_000, 1]
        }
        const tats: Record<string, number> = { shared: now + 1_000, rate: now + 3_000 }
        const ids = [...Object.keys(logs), "rate"]
        const expiries = Object.fromEntries(ids.map((id, i) => [id, now + 50_000 + i]))
        Version1.write(path, {
          items: ids.map((id) => ({
            id: LocalDatabase.storedName(id),
            tat: tats[id] ?? 0,
            entries: logs[id] ?? [],
            expiresAt: expiries[id]!
          })),
          blocks: [{ key: "host", until: now + 30_000 }],
          leases: [{ id: "pool", token: "x", expiresAt: now + 60_000 }]
        })
        // A process of the earlier version that has the file open, its statements prepared.
        const earlier = new DatabaseSync(path)
        const earlierSelect = earlier.prepare("SELECT tat, entries FROM items WHERE id = ?")
        assert.isDefined(earlierSelect.get("old"))

        const database = LocalDatabase.open(path, 1_000, false, () => now)
        const file = reader(path)
        try {
          assert.strictEqual(file.db.prepare("PRAGMA user_version").get()?.user_version, LocalDatabase.schemaVersion)
          assert.deepStrictEqual(
            file.db.prepare("SELECT name FROM pragma_table_info('items') ORDER BY cid").all().map((row) => row.name),
            ["id", "tat", "expires_at"]
          )
          for (const [id, log] of Object.entries(logs)) {
            const bookings = file.bookings(id)
            assert.deepStrictEqual(logOf(bookings), log, id)
            assertRunning(bookings, id)
          }
          assert.deepStrictEqual(file.bookings("rate"), [])
          for (const id of ids) {
            assert.deepStrictEqual(file.item(id), { tat: tats[id] ?? 0, expiresAt: expiries[id]! }, id)
          }
          // The earlier version's statements fail on the file: it cannot keep a second count beside this one.
          assert.throws(() => earlierSelect.get("old"), /no such column: entries/)

          // The answers are those of algorithm.ts on the logs as they were.
          const states = new Map(
            ids.map((id) => [id, { tat: tats[id] ?? 0, entries: [...(logs[id] ?? [])] } as Algorithm.ItemState])
          )
          const requests: ReadonlyArray<ReadonlyArray<LimiterStore.Item>> = [
            [windowItem("old", 3, 60_000)],
            [windowItem("old", 4, 60_000)],
            [windowItem("ahead", 6, 60_000)],
            [windowItem("ahead", 8, 60_000)],
            [windowItem("ahead", 8, 60_000, 2)],
            [rateItem("shared", 1, 1_000), windowItem("shared", 2, 60_000)],
            [windowItem("shared", 2, 60_000)],
            [rateItem("rate", 1, 1_000)],
            [windowItem(lone, 1, 60_000)],
            [windowItem(lone, 2, 60_000)]
          ]
          for (const items of requests) {
            const expected = Algorithm.reserve(items.map((item) => states.get(item.id)!), items, 0, now, 1e9)
            const { at: _at, ...got } = database.reserve(items, undefined, 1e9) as Algorithm.Reservation & {
              readonly at?: number
            }
            assert.deepStrictEqual(got, expected, JSON.stringify(items))
          }
          // The block and the lease hold as before.
          const blocked = database.reserve([windowItem("free", 1, 1_000)], "host", 0)
          assert.deepStrictEqual(blocked, { _tag: "Refused", retryAfterMillis: 30_000, item: -1 })
          assert.strictEqual(database.lease("pool", 1, "y", 1_000)._tag, "Full")
        } finally {
          database.close()
          file.close()
          earlier.close()
        }
      })
  )

  it.live(
    "eight processes opening one file of schema version 1 at once all open it, and it is converted once",
    () =>
      Effect.gen(function*() {
        const path = freshPath("convert-race")
        const now = Date.now()
        const entries = Array.from({ length: 5_000 }, (_, i) => [now - 50_000 + i * 10, 1]).flat()
        Version1.write(path, { items: [{ id: "race", tat: 0, entries, expiresAt: now + 3_600_000 }] })
        const script = fileURLToPath(new URL("./support/localOpen.ts", import.meta.url))
        const open = () => NodeChild.run([script, path], { timeoutMillis: 30_000 })
        const runs = yield* Effect.promise(() => Promise.all(Array.from({ length: 8 }, open)))
        for (const run of runs) {
          assert.strictEqual(run.code, 0, run.output)
          assert.deepStrictEqual(JSON.parse(run.stdout.trim()), { opened: true })
        }
        const file = reader(path)
        try {
          assert.strictEqual(file.bookings("race").length, 5_000)
        } finally {
          file.close()
        }
      }),
    60_000
  )

  it.live("a file of a later schema version is refused and left as it is", () =>
    Effect.gen(function*() {
      const path = freshPath("later")
      Version1.write(path, { items: [] })
      const db = new DatabaseSync(path)
      db.exec("PRAGMA user_version = 3")
      db.close()
      const before = Fs.readFileSync(path)
      const error = yield* Effect.flip(Effect.scoped(LocalStore.make({ path })))
      assert.strictEqual(error.retryable, false)
      assert.match(error.detail, /has schema version 3; this version reads 2 \(and converts 1\)/)
      assert.deepStrictEqual(Fs.readFileSync(path), before)
    }))
})

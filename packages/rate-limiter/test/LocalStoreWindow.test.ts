/**
 * The local store's windows: bookings in a table with running totals
 * (`internal/localWindow.ts`), the same answers as `algorithm.ts` on the whole
 * log (`support/algorithmSuite.ts`, run for the Redis scripts too), a call's
 * work that does not grow with the log, and the conversion of a file written
 * in the layout of schema version 1 (the log as one row).
 *
 * The store reads the machine's clock; these tests open its database with a
 * clock of their own (`LocalDatabase.open`'s last argument), so every
 * operation runs at an instant they choose.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Algorithm from "../src/internal/algorithm.ts"
import * as LocalDatabase from "../src/internal/localDatabase.ts"
import * as LocalWindow from "../src/internal/localWindow.ts"
import type * as LimiterStore from "../src/LimiterStore.ts"
import * as LocalStore from "../src/LocalStore.ts"
import { algorithmSuite, type Backend, type Session } from "./support/algorithmSuite.ts"
import { rateItem, windowItem } from "./support/items.ts"
import * as Version1 from "./support/localVersion1.ts"
import { assertOpenAtOnce } from "./support/processes.ts"

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
  const rows = db.prepare(
    "SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM bookings) + (SELECT count(*) FROM blocks) + " +
      "(SELECT count(*) FROM leases) AS n"
  )
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
    /** How many bookings the file holds. */
    count: (): number => Number(count.get()?.n),
    /** How many rows the file holds, in every table (states, bookings, blocks, leases). */
    rows: (): number => Number(rows.get()?.n),
    db,
    close: () => db.close()
  }
}

/**
 * Runs `body` on the database of a fresh file, its clock at `clock.now` (which the body moves, from the machine's
 * now), with a reader of the file; closes both after.
 */
const onDatabase = (
  label: string,
  body: (database: LocalDatabase.LocalDatabase, file: ReturnType<typeof reader>, clock: { now: number }) => void
) =>
  Effect.sync(() => {
    const clock = { now: Date.now() }
    const path = freshPath(label)
    const database = LocalDatabase.open(path, 1_000, false, () => clock.now)
    const file = reader(path)
    try {
      body(database, file, clock)
    } finally {
      database.close()
      file.close()
    }
  })

/** The bookings as a log `[time, cost, ...]`, in the store's order. */
const logOf = (bookings: ReadonlyArray<Booking>): Array<number> => bookings.flatMap(({ cost, time }) => [time, cost])

/** Each booking's total is the one before it plus its cost: the running totals hold (exact for whole costs). */
const assertRunning = (bookings: ReadonlyArray<Booking>, what: string) => {
  for (let i = 1; i < bookings.length; i++) {
    assert.strictEqual(bookings[i]!.total - bookings[i - 1]!.total, bookings[i]!.cost, `${what}: booking ${i}`)
  }
}

/** Most sweeps the suite runs once past everything: far more than its sequences' rows need at a batch a sweep. */
const maxSweeps = 100

/** The store's database files for one sequence: two connections, as two processes would have, and a reader. */
const localBackend: Backend = {
  name: "local",
  computes: "the store computes",
  stillComputes: "the store still computes",
  clock: "the clock",
  exactInstants: true,
  open: (label, now) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => {
          const path = freshPath(`same-${label}`)
          const connections = [LocalDatabase.open(path, 1_000, false, now), LocalDatabase.open(path, 1_000, false, now)]
          return { connections, file: reader(path) }
        }),
        ({ connections, file }) =>
          Effect.sync(() => {
            for (const database of connections) database.close()
            file.close()
          })
      ),
      ({ connections, file }): Session => {
        const on = (connection: number) => connections[connection]!
        return {
          connections: connections.length,
          reserve: (connection, items, blockKey, maxWait) =>
            Effect.sync(() => on(connection).reserve(items, blockKey, maxWait)),
          cancel: (connection, items, at) => Effect.sync(() => on(connection).cancel(items, at)),
          block: (connection, key, millis) => Effect.sync(() => on(connection).block(key, millis)),
          lease: (connection, id, max, token, leaseMillis) =>
            Effect.sync(() => on(connection).lease(id, max, token, leaseMillis)),
          release: (connection, id, token) => Effect.sync(() => on(connection).release(id, token)),
          tat: (item) => Effect.sync(() => file.item(item.id)?.tat),
          log: (item, what) =>
            Effect.sync(() => {
              const stored = file.bookings(item.id)
              assertRunning(stored, what)
              return logOf(stored)
            }),
          sweptLeft: Effect.sync(() => {
            // Each sweep deletes at most a batch per table: again until one deletes nothing.
            let left = file.rows()
            for (let sweeps = 0; sweeps < maxSweeps; sweeps++) {
              connections[0]!.sweep()
              const after = file.rows()
              if (after === left) break
              left = after
            }
            return left
          })
        }
      }
    )
}

algorithmSuite(localBackend)

describe("LocalStore: a window's bookings", () => {
  it.effect(
    "bookings that leave the window are deleted as it moves: one a second in a window of 10 s holds 10 rows after 100 s, not 100",
    () =>
      onDatabase("moving", (database, file, clock) => {
        const item = windowItem("moving", 10, 10_000)
        for (let i = 0; i < 100; i++) {
          assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted", `request ${i}`)
          clock.now += 1_000
        }
        // The last ten: those of (now - 10 s, now]; the call of this instant deletes the one that has just left.
        assert.strictEqual(file.bookings("moving").length, 10)
        assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted")
        assert.strictEqual(file.bookings("moving").length, 10)
      })
  )

  it.effect(
    `a call deletes at most ${LocalWindow.staleBatch} bookings that left the window, those left count for nothing, and the sweep takes the rest once the state expires`,
    () =>
      onDatabase("stale", (database, file, clock) => {
        const limit = 5_000
        const item = windowItem("stale", limit, 60_000)
        for (let i = 0; i < 2_500; i++) {
          assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted")
          clock.now += 1
        }
        assert.strictEqual(file.bookings("stale").length, 2_500)
        // Every booking has left the window: the whole limit is free, though 1,500 of them are still there.
        clock.now += 60_000
        const whole = { ...item, cost: limit }
        assert.deepStrictEqual(database.reserve([whole], undefined, 0), { _tag: "Granted", delayMillis: 0 })
        assert.strictEqual(file.bookings("stale").length, 1 + 1_500)
        // The window is full now, whatever is left of the old bookings: the next waits for the window.
        const next = database.reserve([item], undefined, 1e9)
        assert.deepStrictEqual(next, { _tag: "Granted", delayMillis: 60_000, at: clock.now + 60_000 })
        assert.strictEqual(file.bookings("stale").length, 2 + 500)
        // Past both, the state expires and the sweep deletes its bookings and its row.
        clock.now += 180_000
        database.sweep()
        assert.strictEqual(file.count(), 0)
        assert.strictEqual(file.item("stale"), undefined)
      })
  )

  it.effect(
    "the sweep takes an expired state's bookings a batch at a time, and its row only once they are gone",
    () =>
      onDatabase("sweep-batches", (database, file, clock) => {
        const item = windowItem("many", 10_000, 1_000)
        for (let i = 0; i < 2_500; i++) database.reserve([item], undefined, 0)
        clock.now += 2_000
        database.sweep()
        assert.strictEqual(file.count(), 2_500 - LocalDatabase.sweepBatch)
        assert.isDefined(file.item("many"))
        database.sweep()
        database.sweep()
        assert.strictEqual(file.count(), 0)
        assert.isUndefined(file.item("many"))
      })
  )

  it.effect(
    "waiters booked more than an hour ahead (5 a minute, 305 requests, the clock going back and forth by 250 ms) keep their 305 rows an hour on, until the last leaves its window at 3,708 s; then one sweep deletes every row",
    () =>
      onDatabase("far-ahead", (database, file, clock) => {
        const start = clock.now
        const item = windowItem("queue", 5, 60_000)
        // Five go now; the sixth waits for the first to leave, and each after is paced 12 s behind the one before.
        let last = start
        for (let i = 0; i < 305; i++) {
          const got = database.reserve([item], undefined, 1e9)
          assert.strictEqual(got._tag, "Granted", `request ${i}`)
          last = Math.max(last, clock.now + (got._tag === "Granted" ? got.delayMillis : 0))
          clock.now += i % 2 === 0 ? 250 : -250
        }
        assert.strictEqual(last, start + 60_000 + 299 * 12_000)
        assert.deepStrictEqual(file.item("queue"), { tat: 0, expiresAt: last + 60_000 })
        // An hour on, the queue still limits: its state and every booking stay (those that left the window go with
        // the next call on the queue, or with the state once it expires).
        clock.now = start + 3_600_000
        for (let i = 0; i < 10; i++) database.sweep()
        assert.strictEqual(file.count(), 305)
        assert.deepStrictEqual(database.reserve([item], undefined, 0), {
          _tag: "Refused",
          retryAfterMillis: 60_000,
          item: 0
        })
        clock.now = last + 60_000 - 1
        database.sweep()
        assert.strictEqual(file.rows(), 1 + 305)
        // Once the last booking has left its window, the state limits nothing: one sweep takes it all.
        clock.now = last + 60_000
        database.sweep()
        assert.strictEqual(file.rows(), 0)
      })
  )

  it.effect(
    "a give-back that leaves only bookings that left the window keeps the state's row until the sweep has taken every one: 1,500 stale bookings go in two sweeps, then the row, none without it",
    () =>
      onDatabase("give-back-stale", (database, file, clock) => {
        const item = windowItem("stale", 5_000, 60_000)
        for (let i = 0; i < 2_500; i++) {
          assert.strictEqual(database.reserve([item], undefined, 0)._tag, "Granted")
          clock.now += 1
        }
        clock.now += 60_000
        // A per-host rate holds the next request 10 s: it is booked ahead, and its call deletes 1,000 of the
        // bookings that left the window.
        const pace = rateItem("pace", 1, 10_000)
        assert.strictEqual(database.reserve([pace], undefined, 0)._tag, "Granted")
        const at = clock.now + 10_000
        assert.deepStrictEqual(database.reserve([item, pace], undefined, 1e9), {
          _tag: "Granted",
          delayMillis: 10_000,
          at
        })
        assert.strictEqual(file.count(), 1_500 + 1)
        // Its waiter goes away: what is left counts for nothing, and the row stays, expired, for the sweep.
        database.cancel([item, pace], at)
        assert.strictEqual(file.count(), 1_500)
        assert.deepStrictEqual(file.item("stale"), { tat: 0, expiresAt: clock.now })
        database.sweep()
        assert.strictEqual(file.count(), 1_500 - LocalDatabase.sweepBatch)
        assert.isDefined(file.item("stale"))
        database.sweep()
        assert.strictEqual(file.count(), 0)
        assert.isUndefined(file.item("stale"))
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
        yield* assertOpenAtOnce(path)
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

/**
 * A `Policy.window`'s bookings in the local store's SQLite file: one row per
 * booking, indexed by time, each carrying the running total of the costs
 * booked up to it, so the window arithmetic of `algorithm.ts` (`Windows`)
 * costs `O(log n)` index lookups a call for the `n` bookings held, where
 * reading and writing the whole log cost `O(n)`.
 *
 * Table `bookings(seq, id, time, cost, total)`:
 *
 * - `seq` is the rowid: a new row's is above every row's there, so the
 *   bookings of one instant sort in the order they were made, as the log
 *   keeps them (a new booking goes after those at or before its time).
 * - `total` is the sum of the costs of the id's bookings up to this one,
 *   in `(time, seq)` order, with a base of its own (the rows that left the
 *   window took theirs with them): the cost of any span is a difference of
 *   two totals, one lookup each (`upto`).
 * - Index `(id, time)` finds a span's ends and the last booking; index
 *   `(id, total, time)` finds the booking whose leaving makes room for a cost
 *   (totals only grow along the log), in one lookup where the log walks.
 *
 * A booking is usually made at the end (now, or behind the last waiter). One
 * made before others (a request that fits now, before bookings made ahead by
 * waiters, or after the clock went back) adds its cost to the totals of the
 * `k` bookings after it, and taking one back (`unbook`) subtracts it: `O(k)`,
 * as the Redis store reads its `k` bookings ahead. So a call costs
 * `O(log n)`, plus `O(k)` when it books before `k` bookings, plus
 * `O(k log n)` when the window is full around the instant asked for and each
 * span ending at a booking ahead must be checked (`fitsBefore`).
 *
 * Bookings that no longer count (at or before now minus the window) go as the
 * window moves, at most `staleBatch` a call: those left are below every
 * state's floor, so they count for nothing, and the next calls take them.
 * Counts are exact for whole costs (totals are sums of integers below 2^53);
 * for fractional token costs a difference of totals may differ from a sum
 * taken one by one in the last bits, as on Redis.
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite"
import * as Algorithm from "./algorithm.ts"

/** The table (schema version 2). */
export const table = `
CREATE TABLE bookings (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  time REAL NOT NULL,
  cost REAL NOT NULL,
  total REAL NOT NULL
);
`

/** Its indexes (made after the rows when a file of version 1 is converted: sorting once is quicker). */
export const indexes = `
CREATE INDEX bookings_time ON bookings (id, time);
CREATE INDEX bookings_total ON bookings (id, total, time);
`

/** The table and its indexes. */
export const schema = table + indexes

/** Most bookings that no longer count one call deletes, so no call holds the lock for long after a quiet spell. */
export const staleBatch = 1_000

/** A number read back; anything else is a corrupt row (reported as not retryable, as the store's own are). */
const numberOf = (value: SQLOutputValue | undefined, what: string): number => {
  if (typeof value !== "number") throw new Error(`corrupt ${what}`)
  return value
}

/** One id's window during one transaction: what the arithmetic reads of its bookings, kept up to date as it books. */
export interface Window {
  /** The id as stored. */
  readonly name: string
  /** Bookings at or before this no longer count (`prune`); `-Infinity` until a window item prunes. */
  floor: number
  /** The last booking's time (counting or not), or `undefined` without bookings. */
  lastTime: number | undefined
  /** The last booking's cost. */
  lastCost: number
  /** The running total through the last booking (0 without bookings). */
  total: number
}

/** A rate's `tat` and, for an id that window items use, its window (as `Algorithm.Windows` needs them). */
export interface State {
  tat: number
  readonly window: Window | undefined
}

/** The statements of the window's arithmetic on one connection. */
export interface Statements {
  /** Loads an id's window (its last booking), before any pruning. */
  readonly load: (name: string) => Window
  /** The arithmetic, for `Algorithm.reserveWith` and `Algorithm.cancelWith`. */
  readonly windows: Algorithm.Windows<State>
  /** How long the window counts after `now` for `item` (`Algorithm.lifetime`); 0 when it could be forgotten. */
  readonly lifetime: (window: Window, item: Algorithm.Item, now: number) => number
  /**
   * Deletes bookings that no longer count (at most `staleBatch`); says whether the id holds any booking after,
   * counting or not (its state row must then stay, so that the sweep can take them).
   */
  readonly tidy: (window: Window) => boolean
  /** Whether an id holds any booking. */
  readonly holds: (name: string) => boolean
  /** Deletes at most `max` of an id's bookings, oldest first (the sweep of an expired state); how many it deleted. */
  readonly deleteOldest: (name: string, max: number) => number
}

/**
 * Writes logs of schema version 1 (`[time, cost, ...]`) as bookings, each id's with running totals from 0: a
 * function of the id and its log, on `db`, whose schema holds `table`.
 */
export const inserter = (db: DatabaseSync): (name: string, entries: ReadonlyArray<number>) => void => {
  const insert = db.prepare("INSERT INTO bookings (id, time, cost, total) VALUES (?, ?, ?, ?)")
  return (name, entries) => {
    // In time order (the log kept it so; a stable sort keeps the order of one instant's bookings either way).
    const pairs = Array.from(
      { length: Math.floor(entries.length / 2) },
      (_, i): readonly [number, number] => [entries[2 * i]!, entries[2 * i + 1]!]
    ).toSorted((a, b) => a[0] - b[0])
    let total = 0
    for (const [time, cost] of pairs) {
      total += cost
      insert.run(name, time, cost, total)
    }
  }
}

/** A window item's state's window (loaded for every id a window item uses). */
const windowOf = (state: State): Window => {
  if (state.window === undefined) throw new Error("a window item's state has no window loaded")
  return state.window
}

/** Prepares the statements on `db`, whose schema holds `schema`. */
export const prepare = (db: DatabaseSync): Statements => {
  const statement = (sql: string): StatementSync => db.prepare(sql)
  const selectLast = statement(
    "SELECT time, cost, total FROM bookings WHERE id = ? ORDER BY time DESC, seq DESC LIMIT 1"
  )
  const selectFirstAfter = statement(
    "SELECT total - cost AS before FROM bookings WHERE id = ? AND time > ? ORDER BY time, seq LIMIT 1"
  )
  const selectBetween = statement(
    "SELECT time, total FROM bookings WHERE id = ? AND time > ? AND time < ? ORDER BY time, seq"
  )
  const selectReaching = statement(
    "SELECT time FROM bookings WHERE id = ? AND total >= ? ORDER BY total, time, seq LIMIT 1"
  )
  const selectLatest = statement(
    "SELECT seq FROM bookings WHERE id = ? AND time = ? AND cost = ? ORDER BY seq DESC LIMIT 1"
  )
  const selectAny = statement("SELECT 1 AS found FROM bookings WHERE id = ? LIMIT 1")
  const insert = statement("INSERT INTO bookings (id, time, cost, total) VALUES (?, ?, ?, ?)")
  const shiftAfter = statement("UPDATE bookings SET total = total + ? WHERE id = ? AND time > ?")
  const shiftTied = statement("UPDATE bookings SET total = total + ? WHERE id = ? AND time = ? AND seq > ?")
  const deleteOne = statement("DELETE FROM bookings WHERE seq = ?")
  const deleteUpTo = statement(
    "DELETE FROM bookings WHERE seq IN (SELECT seq FROM bookings WHERE id = ? AND time <= ? ORDER BY time, seq LIMIT ?)"
  )
  const deleteFirst = statement(
    "DELETE FROM bookings WHERE seq IN (SELECT seq FROM bookings WHERE id = ? ORDER BY time, seq LIMIT ?)"
  )

  const load = (name: string): Window => {
    const row = selectLast.get(name)
    if (row === undefined) return { name, floor: Number.NEGATIVE_INFINITY, lastTime: undefined, lastCost: 0, total: 0 }
    return {
      name,
      floor: Number.NEGATIVE_INFINITY,
      lastTime: numberOf(row.time, "booking row"),
      lastCost: numberOf(row.cost, "booking row"),
      total: numberOf(row.total, "booking row")
    }
  }

  /** The running total through the bookings at or before `t`, counting or not. */
  const upto = (window: Window, t: number): number => {
    if (window.lastTime === undefined || t >= window.lastTime) return window.total
    const row = selectFirstAfter.get(window.name, t)
    return row === undefined ? window.total : numberOf(row.before, "booking row")
  }

  /** The running total through the bookings that count, at or before `t` (none at or before the floor). */
  const counted = (window: Window, t: number): number => upto(window, Math.max(t, window.floor))

  /**
   * `fitsBefore` of `algorithm.ts`: whether a booking of `cost` at `at`, before the last booking, keeps every
   * span of the window within the limit: the span ending at `at`, and those ending at each booking in
   * `(at, at + window)`.
   */
  const fitsBefore = (window: Window, item: Algorithm.Item, cost: number, at: number): boolean => {
    const span = item.windowMillis
    const low = counted(window, at - span)
    if (counted(window, at) - low + cost > item.limit) return false
    // Every such span lies in (at - window, at + window): when all of that fits, so does each (one lookup).
    if (counted(window, at + span) - low + cost <= item.limit) return true
    // Ending at each booking of an instant, the last of them counting all: the same answer as ending at it.
    for (const row of selectBetween.iterate(window.name, at, at + span)) {
      const total = numberOf(row.total, "booking row")
      if (total - counted(window, numberOf(row.time, "booking row") - span) + cost > item.limit) return false
    }
    return true
  }

  /** `earliest` of `algorithm.ts` for a window item. */
  const earliest = (window: Window, item: Algorithm.Item, from: number): number => {
    const cost = Algorithm.effectiveCost(item)
    const last = window.lastTime
    if (last === undefined || last <= window.floor) return from
    if (from < last && fitsBefore(window, item, cost, from)) return from
    // Otherwise after the last booking, where the count only falls as time goes on.
    const start = Math.max(from, last)
    const used = window.total - counted(window, start - item.windowMillis)
    let at = start
    if (used + cost > item.limit) {
      // The first booking whose leaving leaves room: the first whose running total reaches this (bookings at or
      // before the window's start are below it, as what counts exceeds the room).
      const row = selectReaching.get(window.name, window.total + cost - item.limit)
      const leaving = row === undefined ? last : numberOf(row.time, "booking row")
      at = Math.max(start, leaving + item.windowMillis)
    }
    // A request that must wait is paced behind the last booking (its cost at the window's average rate).
    if (at > from) at = Math.max(at, last + window.lastCost * (item.windowMillis / item.limit))
    return at
  }

  const book = (window: Window, cost: number, at: number): void => {
    const before = upto(window, at)
    // Bookings after it (made ahead, or before the clock went back) now count it too.
    if (window.lastTime !== undefined && at < window.lastTime) shiftAfter.run(cost, window.name, at)
    insert.run(window.name, at, cost, before + cost)
    window.total += cost
    if (window.lastTime === undefined || at >= window.lastTime) {
      window.lastTime = at
      window.lastCost = cost
    }
  }

  const unbook = (window: Window, cost: number, at: number): void => {
    const row = selectLatest.get(window.name, at, cost)
    if (row === undefined) return
    const seq = numberOf(row.seq, "booking row")
    deleteOne.run(seq)
    shiftAfter.run(-cost, window.name, at)
    shiftTied.run(-cost, window.name, at, seq)
    // The last booking may be the one taken back.
    const { lastTime, lastCost, total } = load(window.name)
    window.lastTime = lastTime
    window.lastCost = lastCost
    window.total = total
  }

  return {
    load,
    windows: {
      prune: (state, floor) => {
        const window = windowOf(state)
        window.floor = Math.max(window.floor, floor)
      },
      earliest: (state, item, from) => earliest(windowOf(state), item, from),
      book: (state, cost, at) => book(windowOf(state), cost, at),
      unbook: (state, cost, at) => unbook(windowOf(state), cost, at)
    },
    lifetime: (window, item, now) => {
      const last = window.lastTime
      return last === undefined || last <= window.floor ? 0 : Math.max(0, last + item.windowMillis - now)
    },
    tidy: (window) => {
      if (window.lastTime === undefined) return false
      if (Number.isFinite(window.floor)) deleteUpTo.run(window.name, window.floor, staleBatch)
      if (window.lastTime > window.floor) return true
      return selectAny.get(window.name) !== undefined
    },
    holds: (name) => selectAny.get(name) !== undefined,
    deleteOldest: (name, max) => Number(deleteFirst.run(name, max).changes)
  }
}

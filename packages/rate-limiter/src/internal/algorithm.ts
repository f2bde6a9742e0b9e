/**
 * The limiter's arithmetic, as pure functions over plain state, so the memory
 * store and the local multi-process store run the same code and the Redis
 * script (`redisScript.ts`) can mirror it line for line.
 *
 * Two kinds of limit:
 *
 * - **rate** (GCRA, a token bucket without a timer): one unit every
 *   `windowMillis / limit` milliseconds, up to `burst` units at once. State:
 *   the theoretical arrival time `tat`. Any span of length `window` admits at
 *   most `limit + burst - 1` units.
 * - **window** (a sliding log): at most `limit` units in every span of length
 *   `windowMillis`, whatever its alignment. State: the admitted entries
 *   `[time, cost, time, cost, ...]` in time order, none older than the window.
 *
 * Reservations may lie in the future: a caller that is told to wait `d` has
 * its slot booked at `now + d`, so waiters are served in order and no two
 * are promised the same slot. Every item of one request is admitted at the
 * same instant (the latest of their earliest instants), or none is.
 *
 * A window's bookings are kept in time order. A new one goes after the last,
 * unless it fits at the instant asked for (every span of the window that
 * would hold it stays within the limit): so a request held back by another
 * policy (a per-host rate) and booked ahead does not hold up requests that
 * the window alone would let through now. A request that must wait is also
 * paced: no earlier than the last booking plus that booking's cost at the
 * window's average rate (`window / limit` per unit). A full window lets a
 * burst through at once, but its queue drains evenly, not in bursts as a
 * burst's bookings leave the window together.
 */

/** One limit a request must pass, with its state's storage id. */
export interface Item {
  /** Where the state lives: the policy's id and the limited key. */
  readonly id: string
  readonly kind: "rate" | "window"
  readonly limit: number
  readonly windowMillis: number
  /** For `rate`: how many units may go at once (at least 1). Ignored for `window`. */
  readonly burst: number
  /** Units this request spends (requests: 1; token budgets: its tokens). */
  readonly cost: number
}

/** The stored state of one item. */
export interface ItemState {
  /** `rate`: the theoretical arrival time; 0 when fresh. */
  tat: number
  /** `window`: `[time, cost, ...]`, oldest first. */
  entries: Array<number>
}

/** What a store answers to a reservation. */
export type Reservation =
  | {
    readonly _tag: "Granted"
    readonly delayMillis: number
    /**
     * The booked instant in the store's own time, when the store can cancel a
     * booking not yet due (`cancel`); absent otherwise, and when it goes now.
     */
    readonly at?: number | undefined
    /**
     * Set by a store whose delay counts from when its answer was read, and
     * allows for this process being busy during the call (the Redis store):
     * how long the request was already due by then because this process was
     * busy. The limiter takes the request's instant as that read + delay -
     * this; without it, it estimates the instant from the time the event
     * loop sat idle during the call.
     */
    readonly overdueMillis?: number | undefined
  }
  | {
    readonly _tag: "Refused"
    /** How long until the request could be admitted. */
    readonly retryAfterMillis: number
    /** Which item refused (its index), or -1 for a server-imposed block. */
    readonly item: number
  }

/** A fresh state. */
export const emptyState = (): ItemState => ({ tat: 0, entries: [] })

/** Drops window entries that no longer count at `now`. */
export const prune = (state: ItemState, item: Item, now: number): void => {
  if (item.kind === "window") logWindows.prune(state, now - item.windowMillis)
}

/** A cost never counts for more than a window's whole budget (or it could never pass). */
export const effectiveCost = (item: Item): number =>
  item.kind === "window" ? Math.min(item.cost, item.limit) : item.cost

/**
 * Whether a window booking of `cost` at `at`, before the last booking, keeps
 * every span of the window within the limit. A span's count only rises at a
 * booking, so the spans ending at `at` and at each booking in
 * `(at, at + window)` are the ones to check.
 */
const fitsBefore = (entries: ReadonlyArray<number>, item: Item, cost: number, at: number): boolean => {
  const window = item.windowMillis
  let low = 0
  let used = 0
  let high = 0
  // The span ending at `at`: bookings in (at - window, at].
  while (high < entries.length && entries[high]! <= at) {
    used += entries[high + 1]!
    high += 2
  }
  while (low < high && entries[low]! <= at - window) {
    used -= entries[low + 1]!
    low += 2
  }
  if (used + cost > item.limit) return false
  // Each later span: slide its end to the next booking before at + window.
  while (high < entries.length && entries[high]! < at + window) {
    const end = entries[high]!
    while (high < entries.length && entries[high] === end) {
      used += entries[high + 1]!
      high += 2
    }
    while (low < high && entries[low]! <= end - window) {
      used -= entries[low + 1]!
      low += 2
    }
    if (used + cost > item.limit) return false
  }
  return true
}

/**
 * The earliest instant, not before `from`, at which `item` admits its cost.
 * `state` must be pruned at the current time.
 */
export const earliest = (state: ItemState, item: Item, from: number): number =>
  item.kind === "rate" ? earliestRate(state.tat, item, from) : earliestInLog(state, item, from)

/** `earliest` for a rate whose theoretical arrival time is `tat`. */
export const earliestRate = (tat: number, item: Item, from: number): number => {
  const interval = item.windowMillis / item.limit
  const cost = effectiveCost(item)
  // A cost above the burst passes once the bucket is full, and leaves a debt.
  return Math.max(from, tat + (cost - Math.max(item.burst, cost)) * interval)
}

/** `earliest` for a window, on the log kept as an array. */
const earliestInLog = (state: ItemState, item: Item, from: number): number => {
  const cost = effectiveCost(item)
  const entries = state.entries
  if (entries.length === 0) return from
  const last = entries[entries.length - 2]!
  if (from < last && fitsBefore(entries, item, cost, from)) return from
  // Otherwise after the last booking, where the count only falls as time goes on.
  const start = Math.max(from, last)
  let first = 0
  while (first < entries.length && entries[first]! <= start - item.windowMillis) first += 2
  let used = 0
  for (let i = first + 1; i < entries.length; i += 2) used += entries[i]!
  let at = start
  if (used + cost > item.limit) {
    // Walk forward: each entry leaves the window at its time plus the window.
    for (let i = first; i < entries.length; i += 2) {
      used -= entries[i + 1]!
      if (used + cost <= item.limit) {
        at = Math.max(start, entries[i]! + item.windowMillis)
        break
      }
    }
  }
  // A request that must wait is paced behind the last booking (its cost at the window's average rate),
  // so a queue drains evenly rather than in bursts as old bookings leave together.
  if (at > from) at = Math.max(at, last + entries[entries.length - 1]! * (item.windowMillis / item.limit))
  return at
}

/** Books `item`'s cost at `at` (which `earliest` allowed). */
export const commit = (state: ItemState, item: Item, at: number): void => {
  if (item.kind === "rate") state.tat = commitRate(state.tat, item, at)
  else bookInLog(state, effectiveCost(item), at)
}

/** The theoretical arrival time after a rate whose `tat` it was books `item`'s cost at `at`. */
export const commitRate = (tat: number, item: Item, at: number): number =>
  Math.max(tat, at) + effectiveCost(item) * (item.windowMillis / item.limit)

/** Books `cost` at `at` in a window's log, after the entries at or before it. */
const bookInLog = (state: ItemState, cost: number, at: number): void => {
  const entries = state.entries
  let index = entries.length
  while (index > 0 && entries[index - 2]! > at) index -= 2
  entries.splice(index, 0, at, cost)
}

/** Removes the latest entry `(at, cost)` of a window's log, if there is one. */
const unbookInLog = (state: ItemState, cost: number, at: number): void => {
  const entries = state.entries
  for (let j = entries.length - 2; j >= 0 && entries[j]! >= at; j -= 2) {
    if (entries[j] === at && entries[j + 1] === cost) {
      entries.splice(j, 2)
      return
    }
  }
}

/**
 * A window's bookings as a store keeps them: the arithmetic `reserveWith` and
 * `cancelWith` run on a state `S` (which holds a rate's `tat` besides). The
 * memory store keeps the log as an array (`logWindows`); the local store keeps
 * it in an indexed table with running totals (`localWindow.ts`), where each
 * operation costs `O(log n)` and not `O(n)`. Every implementation answers
 * exactly what the array's does.
 */
export interface Windows<S extends { tat: number }> {
  /** Entries at or before `floor` no longer count (`prune`: `floor` is now minus the window). */
  readonly prune: (state: S, floor: number) => void
  /** `earliest` for a window item (its state pruned at the current time). */
  readonly earliest: (state: S, item: Item, from: number) => number
  /** Books `cost` (already at most the window's limit) at `at`, after the entries at or before it. */
  readonly book: (state: S, cost: number, at: number) => void
  /** Removes the latest entry `(at, cost)`, if there is one. */
  readonly unbook: (state: S, cost: number, at: number) => void
}

/** The window arithmetic on a log kept as an array (`ItemState.entries`). */
export const logWindows: Windows<ItemState> = {
  prune: (state, floor) => {
    const entries = state.entries
    let drop = 0
    while (drop < entries.length && entries[drop]! <= floor) drop += 2
    if (drop > 0) entries.splice(0, drop)
  },
  earliest: earliestInLog,
  book: bookInLog,
  unbook: unbookInLog
}

/**
 * When a state stops mattering, as an instant: from then on it limits
 * nothing, and forgetting it is the same as keeping it (a rate's `tat` has
 * passed, every window entry has left its window). `windowMillis` is the
 * longest window of the window items it served (0: none), so a state that
 * served a rate and a window under one id keeps the later of the two.
 */
export const expiresAt = (state: ItemState, windowMillis: number): number => {
  const entries = state.entries
  return Math.max(state.tat, entries.length === 0 ? 0 : entries[entries.length - 2]! + windowMillis)
}

/** How long the state matters after `now`; 0 when it could be forgotten. */
export const lifetime = (state: ItemState, item: Item, now: number): number => {
  if (item.kind === "rate") return Math.max(0, state.tat - now)
  const entries = state.entries
  return entries.length === 0 ? 0 : Math.max(0, entries[entries.length - 2]! + item.windowMillis - now)
}

/**
 * Decides a request against its items' states and the key's block (a time
 * before which nothing may go, from server feedback). A blocked key is
 * refused with the time left and `item: -1`, whatever `maxWaitMillis`: a
 * block books nothing ahead, so a host that answered 429 does not hold up
 * other keys sharing a global policy (the limiter waits, then asks again).
 * Otherwise the request is granted at the latest of its items' earliest
 * instants, booking every item, or refused without touching anything when
 * that wait would exceed `maxWaitMillis`.
 */
export const reserve = (
  states: ReadonlyArray<ItemState>,
  items: ReadonlyArray<Item>,
  blockedUntil: number,
  now: number,
  maxWaitMillis: number
): Reservation => reserveWith(logWindows, states, items, blockedUntil, now, maxWaitMillis)

/** `reserve` on states whose windows `windows` keeps. */
export const reserveWith = <S extends { tat: number }>(
  windows: Windows<S>,
  states: ReadonlyArray<S>,
  items: ReadonlyArray<Item>,
  blockedUntil: number,
  now: number,
  maxWaitMillis: number
): Reservation => {
  if (blockedUntil > now) return { _tag: "Refused", retryAfterMillis: Math.ceil(blockedUntil - now), item: -1 }
  let at = now
  let refusing = 0
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if (item.kind === "window") windows.prune(states[i]!, now - item.windowMillis)
  }
  // The latest of the earliest instants; again until every item accepts it (an item
  // that fitted early may not fit later, but past its last booking it always does).
  for (let changed = true; changed;) {
    changed = false
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      const state = states[i]!
      const itemAt = item.kind === "rate" ? earliestRate(state.tat, item, at) : windows.earliest(state, item, at)
      if (itemAt > at) {
        at = itemAt
        refusing = i
        changed = true
      }
    }
  }
  const delay = at - now
  if (delay > maxWaitMillis) return { _tag: "Refused", retryAfterMillis: Math.ceil(delay), item: refusing }
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    const state = states[i]!
    if (item.kind === "rate") state.tat = commitRate(state.tat, item, at)
    else windows.book(state, effectiveCost(item), at)
  }
  return { _tag: "Granted", delayMillis: delay }
}

/**
 * Gives back a booking `reserve` made at `at` for `items` (a waiter that went
 * away), when it is not yet due at `now`: a window's entry is removed; a
 * rate's is taken back only when it is the latest booking (GCRA keeps one
 * instant, so an earlier booking cannot be told apart from those after it,
 * and taking one back from under them would let the next request in one
 * interval early). A booking already due, or not found, is left as it is.
 */
export const cancel = (
  states: ReadonlyArray<ItemState>,
  items: ReadonlyArray<Item>,
  at: number,
  now: number
): void => cancelWith(logWindows, states, items, at, now)

/** `cancel` on states whose windows `windows` keeps. */
export const cancelWith = <S extends { tat: number }>(
  windows: Windows<S>,
  states: ReadonlyArray<S>,
  items: ReadonlyArray<Item>,
  at: number,
  now: number
): void => {
  if (at <= now) return
  for (let i = 0; i < items.length; i++) {
    const state = states[i]!
    const item = items[i]!
    const cost = effectiveCost(item)
    if (item.kind === "rate") {
      // Booked as tat = max(tat, at) + cost * interval; only the latest booking ends where tat is.
      if (state.tat === at + cost * (item.windowMillis / item.limit)) state.tat = at
      continue
    }
    windows.unbook(state, cost, at)
  }
}

/** Concurrency leases of one key: token to expiry time. */
export type Leases = Map<string, number>

/** Takes a lease when fewer than `max` unexpired ones are held; otherwise says when the first expires. */
export const lease = (
  leases: Leases,
  max: number,
  token: string,
  leaseMillis: number,
  now: number
): { readonly _tag: "Granted" } | { readonly _tag: "Full"; readonly retryAfterMillis: number } => {
  let firstExpiry = Number.POSITIVE_INFINITY
  for (const [held, expiry] of leases) {
    if (expiry <= now) leases.delete(held)
    else firstExpiry = Math.min(firstExpiry, expiry)
  }
  if (leases.size < max) {
    leases.set(token, now + leaseMillis)
    return { _tag: "Granted" }
  }
  return { _tag: "Full", retryAfterMillis: Math.ceil(firstExpiry - now) }
}

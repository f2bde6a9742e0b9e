/**
 * The memory store (`LimiterStore.makeMemory`, and the limiter's local
 * fallback): item states, blocks and concurrency leases in this process's
 * maps, on Effect's `Clock`, at most `maxKeys` of them together.
 *
 * The bound never breaks a limit. Each thing held sits in an `ExpiryHeap` by
 * when it stops mattering (a rate's bucket refilled, every window entry out
 * of its window, a block or every lease expired): only such things are
 * forgotten, and forgetting them is the same as keeping them. When every
 * key held still limits something, a new key is refused with
 * `RateLimiterUnavailableError` (`retryable`, naming the bound, how to raise
 * it and when the first key frees): forgetting a live state would reset its
 * limit (a key limited to one a minute let through again after 10,000 other
 * keys). Keys already held go on as ever. Making room costs O(log n) a key,
 * and so does a refusal.
 */
import { RateLimiterUnavailableError } from "@httpkit/core/RateLimitError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as LimiterStore from "../LimiterStore.ts"
import * as Algorithm from "./algorithm.ts"
import * as ExpiryHeap from "./expiryHeap.ts"
import * as GuardedStore from "./guardedStore.ts"
import * as Own from "./own.ts"

/** The bound of a memory store when none is given, and of the limiter's local fallback. */
export const defaultMaxKeys = 10_000

/** One thing held under a key: its value, and where it is in the heap. */
interface Held<V> extends ExpiryHeap.Node {
  readonly id: string
  readonly value: V
  /** The map it is held in, to forget it from. */
  readonly from: Map<string, Held<V>>
}

/** An item's state, and the longest window it served (for its expiry). */
interface ItemValue {
  readonly state: Algorithm.ItemState
  windowMillis: number
}

/** A block: nothing under its key goes before `until`. */
interface BlockValue {
  until: number
}

/** When a key's leases stop mattering: when the last of them expires. */
const leasesExpireAt = (held: Algorithm.Leases): number => {
  let last = 0
  for (const expiry of held.values()) if (expiry > last) last = expiry
  return last
}

/**
 * A memory store holding at most `maxKeys` keys (a whole number of at least
 * 1, checked by the caller). `raise` ends the refusal's detail: how the user
 * raises the bound of this store.
 */
export const make = (maxKeys: number, raise: string): Effect.Effect<LimiterStore.Store> =>
  Effect.sync(() => GuardedStore.trusted(ownStore(maxKeys, raise)))

/** The store itself (see `make`). */
const ownStore = (maxKeys: number, raise: string): LimiterStore.Store => {
  const states = new Map<string, Held<ItemValue>>()
  const blocks = new Map<string, Held<BlockValue>>()
  const leases = new Map<string, Held<Algorithm.Leases>>()
  const heap = ExpiryHeap.make<Held<unknown>>()

  const hold = <V>(from: Map<string, Held<V>>, id: string, value: V, expiresAt: number): Held<V> => {
    const held: Held<V> = { id, value, from, expiresAt, index: -1 }
    from.set(id, held)
    heap.add(held as Held<unknown>)
    return held
  }

  const forget = <V>(held: Held<V>) => {
    heap.remove(held as Held<unknown>)
    if (held.from.get(held.id) === held) held.from.delete(held.id)
  }

  /** Forgets everything that stopped mattering by `now` (one heap pop each). */
  const forgetExpired = (now: number) => {
    for (let first = heap.first(); first !== undefined && first.expiresAt <= now; first = heap.first()) {
      forget(first)
    }
  }

  /** Whether one new key fits, forgetting what stopped mattering only when that is needed. */
  const roomForOne = (now: number): boolean => {
    if (heap.size() < maxKeys) return true
    forgetExpired(now)
    return heap.size() < maxKeys
  }

  /** The refusal of a new key: every key held still limits something. */
  const full = (now: number) => {
    const first = heap.first()
    const frees = first === undefined ? 0 : Math.max(1, Math.ceil(first.expiresAt - now))
    return new RateLimiterUnavailableError(Own.bare({
      backend: "memory",
      retryable: true,
      detail: `full: it holds maxKeys (${maxKeys}) keys whose limits still apply, so a new key is refused ` +
        `rather than one of them forgotten (that would reset its limit); the first frees in ${frees} ms; ${raise}`
    }))
  }

  const reserve = (
    request: LimiterStore.ReserveRequest,
    now: number
  ): Effect.Effect<LimiterStore.Reservation, RateLimiterUnavailableError> => {
    const items = request.items
    /** The ids of this request not held yet (items sharing an id share a state). */
    const missing = () => {
      let count = 0
      for (let i = 0; i < items.length; i++) {
        const id = items[i]!.id
        if (!states.has(id) && items.findIndex((item) => item.id === id) === i) count++
      }
      return count
    }
    let needed = missing()
    if (needed > 0 && heap.size() + needed > maxKeys) {
      // Forgetting may take a state of this request too: count again.
      forgetExpired(now)
      needed = missing()
      if (heap.size() + needed > maxKeys) return Effect.fail(full(now))
    }
    const fresh = new Map<string, Algorithm.ItemState>()
    const itemStates = items.map((item) => {
      const held = states.get(item.id)
      if (held !== undefined) return held.value.state
      let state = fresh.get(item.id)
      if (state === undefined) fresh.set(item.id, state = Algorithm.emptyState())
      return state
    })
    const blockedUntil = request.blockKey === undefined ? 0 : blocks.get(request.blockKey)?.value.until ?? 0
    const reservation = Algorithm.reserve(itemStates, items, blockedUntil, now, request.maxWaitMillis)
    if (reservation._tag !== "Granted") return Effect.succeed(reservation)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      const windowMillis = item.kind === "window" ? item.windowMillis : 0
      const held = states.get(item.id)
      if (held === undefined) {
        // A fresh state that limits nothing (a cost of 0 going now) need not be held.
        const expiresAt = Algorithm.expiresAt(itemStates[i]!, windowMillis)
        if (expiresAt > now) hold(states, item.id, { state: itemStates[i]!, windowMillis }, expiresAt)
        continue
      }
      held.value.windowMillis = Math.max(held.value.windowMillis, windowMillis)
      heap.update(held as Held<unknown>, Algorithm.expiresAt(held.value.state, held.value.windowMillis))
    }
    return Effect.succeed(
      reservation.delayMillis > 0 ? { ...reservation, at: now + reservation.delayMillis } : reservation
    )
  }

  return {
    backend: "memory",
    selfBounded: true,
    reserve: (request) => Effect.flatMap(Clock.currentTimeMillis, (now) => reserve(request, now)),
    cancel: (request) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const held: Array<Held<ItemValue>> = []
        for (const item of request.items) {
          const found = states.get(item.id)
          if (found === undefined) return
          held.push(found)
        }
        Algorithm.cancel(held.map((one) => one.value.state), request.items, request.at, now)
        // A booking given back may end a state sooner.
        for (const one of held) {
          heap.update(one as Held<unknown>, Algorithm.expiresAt(one.value.state, one.value.windowMillis))
        }
      }),
    block: (key, millis) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const held = blocks.get(key)
        const until = Math.max(held?.value.until ?? 0, now + millis)
        if (held !== undefined) {
          held.value.until = until
          heap.update(held as Held<unknown>, until)
          return Effect.void
        }
        if (until <= now) return Effect.void
        if (!roomForOne(now)) return Effect.fail(full(now))
        hold(blocks, key, { until }, until)
        return Effect.void
      }),
    lease: (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let held = leases.get(request.id)
        const tokens = held?.value ?? new Map<string, number>()
        const result = Algorithm.lease(tokens, request.max, request.token, request.leaseMillis, now)
        if (held === undefined) {
          if (tokens.size === 0) return Effect.succeed(result)
          if (!roomForOne(now)) return Effect.fail(full(now))
          held = hold(leases, request.id, tokens, leasesExpireAt(tokens))
        } else if (tokens.size === 0) {
          forget(held)
        } else {
          heap.update(held as Held<unknown>, leasesExpireAt(tokens))
        }
        return Effect.succeed(result)
      }),
    release: (id, token) =>
      Effect.sync(() => {
        const held = leases.get(id)
        if (held === undefined) return
        held.value.delete(token)
        if (held.value.size === 0) forget(held)
        else heap.update(held as Held<unknown>, leasesExpireAt(held.value))
      })
  } satisfies LimiterStore.Store
}

/**
 * Evens out the variation in Redis's reply latency, so that requests go as
 * evenly spaced as their slots were booked (RELIABILITY 21).
 *
 * The reserve script books slots on Redis's clock and answers how long to
 * wait from Redis's now. Waiting that long from the answer's arrival puts a
 * request at its slot plus that answer's way back (d2): the slots are exact on
 * Redis's clock, but d2 varies per answer, so the goings close up (a window of
 * 10 per second booked exactly saw 11 or 12 goings in a second, replies taking
 * 50-200 ms).
 *
 * Every grant tells Redis's now. At its arrival, `obs` = local now - Redis's
 * now is d2 plus the clocks' offset. Over the recent grants (the last
 * `samples`, none older than `windowMillis`), `base` = min(obs), a grant's
 * lateness = obs - base (its d2 less the fastest recent d2, exact whatever the
 * offset), and J = the largest lateness, at most the cap. A grant is held back
 * J - lateness more: every request goes at its slot + base + J here, spaced as
 * its slot was, whatever its answer's latency.
 *
 * "Smallest" and "largest" leave out the `outliers` share at each end (5 of
 * 64, none of fewer than 20): one answer read 300 ms late because the machine was starved of
 * CPU (which the event loop counts as idle) would otherwise hold every request
 * back 300 ms for a whole window. An answer slower than J goes as it always
 * did.
 *
 * - The part of the call the event loop was busy is taken out of `obs` for
 *   the statistics: an answer that waited for this process is no slower a
 *   Redis, and counting it would hold every later request back by the stall.
 *   Taking out too much lowers `base`, which cancels out of every hold (it
 *   only tightens the cap).
 * - A grant's hold counts from when its answer is read (`now`), so an answer
 *   read late because this process was busy eats into its hold and still goes
 *   at its target. A request never goes sooner than Redis's delay from the
 *   read, so never before its slot, whatever the estimates: one read later
 *   than its target goes as it always did, and `overdueMillis` says how much
 *   of the miss was this process's busyness (what the limiter counts as
 *   lateness; a slow Redis makes no request late).
 * - Only a J of at least `floorMillis` (50 ms, `LagTimer.stallMillis`: what
 *   a timer may fire late on a loaded machine) is evened out. Below that the
 *   variation is mostly this process's own scheduling (a loaded machine reads
 *   a loopback Redis's answers up to tens of milliseconds late, by an amount
 *   that differs from process to process and from moment to moment): the
 *   request's own timer adds as much again, and holding every request to the
 *   slowest of that noise cost each a timer and J, and moved each process's
 *   goings by a different amount (four processes sharing 100 per second saw
 *   up to 114 in a second, against 102 without).
 * - The target falls by at most `fallPerMillis` of the time passing (20 ms a
 *   second), down through the floor and below: when slow answers leave the
 *   window, or J drops under the floor, goings close up by that much at most,
 *   not by the whole fall at once. It rises at once (goings spread out).
 * - A hold under `finestMillis` on a grant due now is not made: no timer is
 *   that fine.
 */
import * as LagTimer from "@httpkit/core/LagTimer"

/** How many recent grants the window holds at most. */
export const samples = 64

/** The oldest a grant in the window may be (ms). */
export const windowMillis = 30_000

/** The share of the window's slowest and fastest grants left out of J. */
export const outliers = 0.1

/** How fast J may fall: this share of the time passing (20 ms a second). */
export const fallPerMillis = 0.02

/** The least J (ms) that is evened out. */
export const floorMillis = LagTimer.stallMillis

/** A hold below this (ms) on a grant due now is not made. */
export const finestMillis = 1

/** When one answer came, by `performance.now()`, and how much of its call the event loop was busy (ms). */
export interface Arrival {
  readonly receivedAt: number
  readonly busyMillis: number
}

/** A grant's delay, evened. */
export interface Evened {
  /** How long to wait from `now`. */
  readonly delayMillis: number
  /** How long the request was already due at `now` because this process was busy during the call. */
  readonly overdueMillis: number
}

/** The evening of one store's grants. */
export interface ReplyJitter {
  /**
   * The grant Redis answered `delayMillis` at its now `redisNow` (ms), whose
   * answer came as `arrival` says and is read at `now` (`performance.now()`).
   */
  readonly delay: (delayMillis: number, redisNow: number, arrival: Arrival, now: number) => Evened
  /** J now: the most a grant may be held back (ms; 0 while nothing is evened out). */
  readonly current: () => number
}

/** How long a request read at `now` was already due because this process was busy, at most `missedMillis`. */
const overdue = (arrival: Arrival, now: number, missedMillis: number): number =>
  Math.max(0, Math.min(missedMillis, Math.max(0, arrival.busyMillis) + Math.max(0, now - arrival.receivedAt)))

/** Every delay as Redis gave it: the busy part of the call is all the lateness. */
const asGiven = (delayMillis: number, arrival: Arrival, now: number): Evened => ({
  delayMillis,
  overdueMillis: overdue(arrival, now, Number.POSITIVE_INFINITY)
})

/** Evening with a cap of `maxMillis` (0: none, every delay reported as Redis gave it). */
export const make = (maxMillis: number): ReplyJitter => {
  if (!(maxMillis > 0)) {
    return {
      delay: (delayMillis, _, arrival, now) => asGiven(delayMillis, arrival, now),
      current: () => 0
    }
  }
  const observed = new Float64Array(samples)
  const seenAt = new Float64Array(samples)
  const highest = Math.max(1, Math.floor(samples * outliers))
  /** The largest and smallest recent `obs`, ascending and descending: the last of each is what counts. */
  const high = new Float64Array(highest)
  const low = new Float64Array(highest)
  let size = 0
  let next = 0
  /** The `obs` every request goes at (base + J); falls by at most `fallPerMillis`. */
  let target = Number.NEGATIVE_INFINITY
  let targetAt = 0
  let jitter = 0
  return {
    delay: (delayMillis, redisNow, arrival, now) => {
      const receivedAt = arrival.receivedAt
      const obs = receivedAt - Math.max(0, arrival.busyMillis) - redisNow
      if (!Number.isFinite(obs)) return asGiven(delayMillis, arrival, now)
      observed[next] = obs
      seenAt[next] = receivedAt
      next = (next + 1) % samples
      if (size < samples) size++
      let count = 0
      for (let i = 0; i < size; i++) if (receivedAt - seenAt[i]! <= windowMillis) count++
      // The k-th largest and smallest, k the outliers' share of the window (at least 1).
      const k = Math.max(1, Math.floor(count * outliers))
      let kept = 0
      for (let i = 0; i < size; i++) {
        if (receivedAt - seenAt[i]! > windowMillis) continue
        const o = observed[i]!
        if (kept < k) {
          let j = kept++
          for (; j > 0 && high[j - 1]! > o; j--) high[j] = high[j - 1]!
          high[j] = o
          j = kept - 1
          for (; j > 0 && low[j - 1]! < o; j--) low[j] = low[j - 1]!
          low[j] = o
          continue
        }
        if (o > high[0]!) {
          let j = 0
          for (; j + 1 < k && high[j + 1]! < o; j++) high[j] = high[j + 1]!
          high[j] = o
        }
        if (o < low[0]!) {
          let j = 0
          for (; j + 1 < k && low[j + 1]! > o; j++) low[j] = low[j + 1]!
          low[j] = o
        }
      }
      const slowest = high[0]!
      const base = low[0]!
      const fallen = target - fallPerMillis * Math.max(0, receivedAt - targetAt)
      // A J under the floor is not evened out: the target only falls (and evening fades out).
      const evened = slowest - base >= floorMillis ? slowest : Number.NEGATIVE_INFINITY
      target = Math.min(Math.max(evened, fallen), base + maxMillis)
      targetAt = receivedAt
      jitter = Math.max(0, target - base)
      // From the read to the target: at most the cap (the read is no earlier than `obs`).
      const hold = Math.min(maxMillis, target - (now - redisNow))
      if (hold < 0) return { delayMillis, overdueMillis: overdue(arrival, now, -hold) }
      return { delayMillis: delayMillis <= 0 && hold < finestMillis ? 0 : delayMillis + hold, overdueMillis: 0 }
    },
    current: () => jitter
  }
}

/**
 * How long one bulkhead's slots are held, for `BulkheadFullError`'s
 * `retryAfterMillis` (RELIABILITY 16: rejections say when to try again): a
 * running average of how long recent calls held a slot, and when each call
 * in flight took its slot. A refused call is told the average less how long
 * the oldest call in flight has run (the one likely to end first), at least
 * 1 ms; nothing until a call has ended.
 *
 * No allocation per call: the start times live in an array that grows to the
 * most calls this bulkhead has had in flight at once, reused through a stack
 * of free places.
 */

/** The weight of the newest hold in the running average. */
const weight = 0.3

/** The holds of one bulkhead's slots. */
export class SlotHolds {
  /** When each call in flight took its slot (clock ms), by place; a free place holds `NaN`. */
  readonly #startedAt: Array<number> = []
  readonly #free: Array<number> = []
  /** How long a slot was held recently (ms), a running average; -1 until a call ended. */
  #heldMillis = -1

  /** A call took a slot at `at`: its place, to give back to `end`. */
  begin(at: number): number {
    const place = this.#free.pop()
    if (place === undefined) {
      this.#startedAt.push(at)
      return this.#startedAt.length - 1
    }
    this.#startedAt[place] = at
    return place
  }

  /** The call at `place` gave its slot back at `at`. */
  end(place: number, at: number): void {
    const held = Math.max(0, at - this.#startedAt[place]!)
    this.#heldMillis = this.#heldMillis < 0 ? held : this.#heldMillis + weight * (held - this.#heldMillis)
    this.#startedAt[place] = Number.NaN
    this.#free.push(place)
  }

  /** When a slot is likely to free, in milliseconds from `now`: at least 1; undefined until a call has ended. */
  retryAfter(now: number): number | undefined {
    if (this.#heldMillis < 0) return undefined
    let oldest = now
    for (const startedAt of this.#startedAt) {
      if (startedAt < oldest) oldest = startedAt
    }
    return Math.max(1, Math.round(this.#heldMillis - (now - oldest)))
  }
}

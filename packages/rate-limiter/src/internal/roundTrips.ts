/**
 * How long Redis has lately taken to answer, so a call with no wait budget of
 * its own (`onLimit: "fail"`, a hold from server feedback, a release) waits
 * for a slow but healthy Redis instead of failing at a fixed `timeout` below
 * its round trip.
 *
 * Every answer is a sample, the late ones too (an answer that came after its
 * call gave up is the clearest sign of a slow Redis, not a dead one), and so
 * are the store's pings. The figure is the median of the last `samples`: one
 * answer held up by a busy event loop does not stretch every call's wait, and
 * a Redis that became slow moves it within a few answers.
 */

/** How many recent round trips are kept. */
export const samples = 9

/** A call waits for this many recent round trips at least (within `timeout` and `maxTimeout`). */
export const factor = 3

/** The recent round trips of one store. */
export interface RoundTrips {
  /** Records one answer, `millis` after its command was sent. */
  readonly record: (millis: number) => void
  /** The median of the recent round trips (ms; the upper one of an even count); 0 before any answer. */
  readonly recent: () => number
}

/** Starts with no samples. */
export const make = (): RoundTrips => {
  const kept: Array<number> = []
  let next = 0
  let median = 0
  return {
    record: (millis) => {
      kept[next] = millis
      next = (next + 1) % samples
      median = kept.toSorted((a, b) => a - b)[Math.floor(kept.length / 2)]!
    },
    recent: () => median
  }
}

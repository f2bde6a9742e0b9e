/**
 * A deadline that counts only time this process was free to hear an answer.
 *
 * A plain `setTimeout` of 250 ms, armed when a command goes to Redis (or a
 * request to a server), fires after a 400 ms stall of the event loop before
 * the loop has read the answer that arrived meanwhile (timers run before I/O in each turn of the loop), and
 * the call fails although Redis answered in a millisecond. Node-redis even
 * writes commands from a `setImmediate`, so a stall can hold the command
 * itself back. This timer treats a stall as nobody's silence:
 *
 * - when it fires, it compares the time with when it was due; lateness of up
 *   to `stallMillis` is ordinary timer jitter on a loaded machine, and the
 *   whole span counts;
 * - a later firing means the loop was stalled: only the part of the span
 *   before the stall counts (its length less the lateness), and the wait goes
 *   on for at least `graceMillis` of fresh time (or the whole wait, if
 *   shorter), so a command held back by the stall, or its answer, gets a
 *   round trip after the loop is free again;
 * - whatever the stalls, the deadline fires at most `2 * millis + 1000` ms
 *   after it was armed: a process stalled that much has bigger trouble, and
 *   every call stays bounded.
 *
 * One `setTimeout` per call while all is well, as a plain timer costs; the
 * timer is re-armed only when it fires.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * A timer firing later than this (ms) means the event loop was stalled, not merely busy.
 *
 * @since 0.1.0
 */
export const stallMillis = 50

/**
 * After a stall, the wait lasts at least this much longer (ms), or its whole length when shorter.
 *
 * @since 0.1.0
 */
export const graceMillis = 100

/**
 * The most a deadline can fire after it was armed, whatever the stalls: `2 * millis + 1000`.
 *
 * @since 0.1.0
 */
export const ceilingMillis = (millis: number): number => 2 * millis + 1_000

/** The longest delay one `setTimeout` takes (ms); a longer wait is armed in steps of it. */
const maxTimerMillis = 2_147_483_647

/**
 * Options of `after`.
 *
 * @since 0.1.0
 */
export interface AfterOptions {
  /**
   * Whether the timer leaves the process free to exit (Node's `unref`): for
   * a deadline on something that keeps the process alive itself (a socket).
   * An unreferenced timer also costs less to arm and cancel while no other
   * timer is armed (Node does not toggle the timer handle's reference).
   *
   * @default false
   */
  readonly unref?: boolean | undefined
}

/**
 * Calls `expire` once `millis` of responsive time have passed (see the
 * module documentation); returns a function that cancels it. A negative or
 * `NaN` wait is 0; a wait longer than one `setTimeout` can take (about 24.8
 * days, `Infinity` included) is armed in steps.
 *
 * @since 0.1.0
 */
export const after = (wait: number, expire: () => void, options?: AfterOptions): () => void => {
  const unref = options?.unref === true
  const millis = wait > 0 ? wait : 0
  const start = performance.now()
  const ceiling = start + ceilingMillis(millis)
  const grace = Math.min(graceMillis, millis)
  let remaining = millis
  let step = Math.min(millis, maxTimerMillis)
  let due = start + step
  let timer: ReturnType<typeof setTimeout>
  const tick = () => {
    const now = performance.now()
    const late = now - due
    if (late <= stallMillis) {
      remaining -= step + late
    } else {
      remaining = Math.max(remaining - Math.max(0, step - late), grace)
    }
    if (remaining <= 0 || now >= ceiling) return expire()
    step = Math.min(remaining, ceiling - now, maxTimerMillis)
    due = now + step
    timer = setTimeout(tick, step)
    if (unref) timer.unref()
  }
  timer = setTimeout(tick, step)
  if (unref) timer.unref()
  return () => clearTimeout(timer)
}

/**
 * Sleeps `millis` of responsive time, as `after` counts it.
 *
 * @since 0.1.0
 */
export const sleep = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const cancel = after(millis, () => resume(Effect.void))
    return Effect.sync(cancel)
  })

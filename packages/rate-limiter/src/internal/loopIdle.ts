/**
 * How long this thread's event loop has sat idle, waiting for I/O, from
 * Node's event-loop utilisation (`performance.eventLoopUtilization`, about
 * 45 ns a read).
 *
 * The limiter reads it around each store call to tell whose time an answer
 * took: while the loop sat idle the process was waiting for the store (a slow
 * Redis: not the request's lateness), while it was busy the answer waited for
 * this process (a stall, a burst of work at start-up, a cold JIT: lateness,
 * as a late wake-up is). Where the measure is missing, every millisecond of a
 * call counts as the process's, the cautious reading.
 */
import { performance } from "node:perf_hooks"

const measured = typeof performance.eventLoopUtilization === "function"

/** Milliseconds the event loop has sat idle since it started; 0 where Node does not say. */
export const millis = (): number => measured ? performance.eventLoopUtilization().idle : 0

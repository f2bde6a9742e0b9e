/**
 * Stalls of the event loop for the limiter's tests (RELIABILITY 21): a long
 * synchronous task, or a CPU other work starves, as the process sees it.
 */

/** Blocks this thread for `millis`, as a long synchronous task (or a starved CPU) would: no timer, no I/O. */
export const blockEventLoop = (millis: number): number => {
  const until = performance.now() + millis
  let spins = 0
  while (performance.now() < until) spins++
  return spins
}

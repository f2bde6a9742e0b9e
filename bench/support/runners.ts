/**
 * Sending `n` calls with `c` in flight, the same way for every client: `c`
 * workers take calls from one shared counter until `n` were sent, and every
 * answer goes through `check`. Promise clients get async workers; Effect
 * clients get fibers, all in one `Effect.runPromise` (none per call, which
 * would bill the runtime's entry to the client).
 */
import { Effect } from "effect"
import { check } from "./payload.ts"

/** Sends `n` calls with `c` in flight. */
export type Runner = (n: number, c: number) => Promise<void>

/** `c` async workers calling `send`. */
export const promiseRunner = (send: () => Promise<unknown>): Runner => async (n, c) => {
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      check(await send())
    }
  }
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker))
}

/**
 * `c` fibers running `call`, in one `Effect.runPromise`; `around` wraps that
 * whole program once (a service every call reads, provided once rather than
 * per call).
 */
export const effectRunner = (
  call: Effect.Effect<unknown, unknown>,
  around: (program: Effect.Effect<void, unknown>) => Effect.Effect<void, unknown> = (program) => program
): Runner =>
(n, c) => {
  let next = 0
  const worker = Effect.gen(function*() {
    while (next < n) {
      next++
      check(yield* call)
    }
  })
  return Effect.runPromise(around(
    c === 1 ? worker : Effect.forEach(Array.from({ length: Math.min(c, n) }), () => worker, {
      concurrency: "unbounded",
      discard: true
    })
  ))
}

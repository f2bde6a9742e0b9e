/**
 * The worker pool's mechanics: `concurrency` slots, a dispatcher that starts
 * one worker fiber per free slot, and a stop signal.
 *
 * A worker fiber holds its slot while it waits for a task and while the task
 * downloads; it gives the slot back (`release`) as soon as the download ends,
 * before its hooks run. A hook that waits (a crawler's `onSuccess` offering
 * into a full queue) therefore never holds a slot, and the dispatcher keeps
 * taking tasks, which makes room: workers cannot deadlock on their own queue.
 *
 * When `stop` completes, the dispatcher stops and every fiber still running
 * is interrupted; the pool ends once they have all ended.
 */
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Semaphore from "effect/Semaphore"

/** What a pool runs. */
export interface Options {
  readonly concurrency: number
  /** One worker: takes a task and runs it to its end; calls `release` when its slot may go to the next one. */
  readonly work: (release: Effect.Effect<void>) => Effect.Effect<void>
  /** Completes when the pool must stop. */
  readonly stop: Effect.Effect<void>
}

/** Runs workers until `stop`, then interrupts whatever still runs and waits for it. */
export const run = (options: Options): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    const fibers = yield* FiberSet.make<void, never>()
    const slots = Semaphore.makeUnsafe(options.concurrency)
    const dispatch = Effect.forever(Effect.gen(function*() {
      yield* slots.take(1)
      let released = false
      const release = Effect.suspend(() => {
        if (released) return Effect.void
        released = true
        return Effect.asVoid(slots.release(1))
      })
      yield* FiberSet.run(fibers, Effect.ensuring(options.work(release), release))
    }))
    yield* Effect.raceFirst(dispatch, options.stop)
    yield* FiberSet.clear(fibers)
  }))

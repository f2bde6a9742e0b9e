/**
 * The memory store's queue: a bounded FIFO of tasks with attempts, delayed
 * retries and de-duplication by id, in this process only.
 *
 * - `offer` takes a unit of room (a semaphore of `capacity` permits) and
 *   waits while there is none; the room is given back when the task is taken.
 *   Tasks that come back (a retry, an interrupted attempt) never wait for
 *   room, so a worker can never wait for itself; they may pass `capacity` by
 *   at most the number of tasks in flight.
 * - `take` claims the oldest visible task, counts an attempt, and runs the
 *   handler. Its exit settles the task: success finishes it, an interruption
 *   puts it back at the head without counting the attempt, a failure makes it
 *   visible again after `retryDelayMillis(attempts)`, or, at `maxAttempts`,
 *   finishes it through `onExhausted`.
 * - Ids of finished tasks are remembered (so offering one again does
 *   nothing) up to `maxIds`, oldest forgotten first.
 * - `requeue` queues a finished task again (a dead letter sent back), its
 *   attempts from zero, taking room as an offer does.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as Semaphore from "effect/Semaphore"

/** A task as the queue keeps it. */
interface Entry<T> {
  readonly task: T
  attempts: number
  visibleAt: number
  /** Whether it holds a unit of room (only tasks that came through `offer` and wait to be taken). */
  holdsRoom: boolean
}

/** What the memory queue is made with. */
export interface Options {
  readonly capacity: number
  readonly maxAttempts: number
  readonly retryDelayMillis: (attempts: number) => number
  readonly maxIds: number
}

/** How many tasks are where. */
export interface Counts {
  readonly queued: number
  readonly delayed: number
  readonly inFlight: number
}

/**
 * What `requeue` did: queued the task (and took its dead letter), found it
 * queued already (the letter is taken, the task not queued twice), found it
 * busy (in flight, or held by an offer waiting for room: the letter stays),
 * or found the letter gone (taken meanwhile).
 */
export type Requeued = "queued" | "duplicate" | "busy" | "gone"

/** A memory queue of `T`s, identified by their `id`. */
export interface MemoryQueue<T> {
  /** Adds a task unless its id is known; waits for room. `false` for a known id. */
  readonly offer: (task: T) => Effect.Effect<boolean>
  /** Takes the next visible task (waiting while there is none) and runs `handle` with it and its attempt. */
  readonly take: <A, E, R>(
    handle: (task: T, attempt: number) => Effect.Effect<A, E, R>,
    onExhausted: (task: T, attempts: number, cause: Cause.Cause<E>) => Effect.Effect<void>
  ) => Effect.Effect<A, E, R>
  /**
   * Queues `task` again whether or not its id finished, its attempts from
   * zero, once there is room, if `take()` (run once room is taken, in the
   * same step as the queueing) removes its dead letter; see `Requeued`.
   */
  readonly requeue: (task: T, take: () => boolean) => Effect.Effect<Requeued>
  readonly counts: () => Counts
  /** Removes and returns every task waiting or delayed; their ids may be offered again. */
  readonly removeWaiting: Effect.Effect<ReadonlyArray<T>>
}

/** Makes an empty memory queue. */
export const make = <T extends { readonly id: string }>(options: Options): MemoryQueue<T> => {
  const waiting: Array<Entry<T>> = []
  const delayed = new Set<Entry<T>>()
  /** Ids waiting, delayed or in flight. */
  const live = new Set<string>()
  /** Ids finished (done or dead), oldest first. */
  const finished = new Set<string>()
  /** Ids claimed by a worker. */
  const running = new Set<string>()
  const room = Semaphore.makeUnsafe(options.capacity)
  const changed = Latch.makeUnsafe(false)

  const finish = (id: string) => {
    live.delete(id)
    finished.delete(id)
    finished.add(id)
    while (finished.size > options.maxIds) {
      const oldest = finished.values().next()
      if (oldest.done) break
      finished.delete(oldest.value)
    }
  }

  const offer = (task: T): Effect.Effect<boolean> =>
    Effect.uninterruptibleMask((restore) => {
      if (live.has(task.id) || finished.has(task.id)) return Effect.succeed(false)
      live.add(task.id)
      return restore(room.take(1)).pipe(
        Effect.onInterrupt(() => Effect.sync(() => live.delete(task.id))),
        Effect.andThen(Effect.sync(() => {
          waiting.push({ task, attempts: 0, visibleAt: 0, holdsRoom: true })
          changed.openUnsafe()
          return true
        }))
      )
    })

  /** Whether `id` waits in the queue or for a retry (not in flight, not an offer waiting for room). */
  const isQueued = (id: string): boolean => {
    for (const entry of waiting) if (entry.task.id === id) return true
    for (const entry of delayed) if (entry.task.id === id) return true
    return false
  }

  const requeue = (task: T, take: () => boolean): Effect.Effect<Requeued> =>
    Effect.uninterruptibleMask((restore) => {
      const id = task.id
      if (running.has(id)) return Effect.succeed("busy")
      if (isQueued(id)) return Effect.succeed(take() ? "duplicate" : "gone")
      if (live.has(id)) return Effect.succeed("busy")
      // Held while waiting for room, as an offer holds its id: an offer of it meanwhile is ignored.
      live.add(id)
      return restore(room.take(1)).pipe(
        Effect.onInterrupt(() => Effect.sync(() => live.delete(id))),
        Effect.andThen(Effect.suspend((): Effect.Effect<Requeued> => {
          if (!take()) {
            live.delete(id)
            return Effect.as(room.release(1), "gone")
          }
          finished.delete(id)
          waiting.push({ task, attempts: 0, visibleAt: 0, holdsRoom: true })
          changed.openUnsafe()
          return Effect.succeed("queued")
        }))
      )
    })

  /** The next visible entry, claimed; waits (interruptibly, through `restore`) while there is none. */
  const claim = (restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const clock = yield* Clock.Clock
      while (true) {
        // Closed before looking, so a change made after the look opens it again.
        changed.closeUnsafe()
        const now = clock.currentTimeMillisUnsafe()
        let nextVisibleAt = Number.POSITIVE_INFINITY
        for (const entry of delayed) {
          if (entry.visibleAt <= now) {
            delayed.delete(entry)
            waiting.push(entry)
          } else {
            nextVisibleAt = Math.min(nextVisibleAt, entry.visibleAt)
          }
        }
        const entry = waiting.shift()
        if (entry !== undefined) {
          entry.attempts++
          running.add(entry.task.id)
          if (entry.holdsRoom) {
            entry.holdsRoom = false
            yield* room.release(1)
          }
          // Others may be waiting for what is left.
          if (waiting.length > 0) changed.openUnsafe()
          return entry
        }
        yield* restore(
          nextVisibleAt === Number.POSITIVE_INFINITY
            ? changed.await
            : Effect.raceFirst(changed.await, Effect.sleep(nextVisibleAt - now))
        )
      }
    })

  const take = <A, E, R>(
    handle: (task: T, attempt: number) => Effect.Effect<A, E, R>,
    onExhausted: (task: T, attempts: number, cause: Cause.Cause<E>) => Effect.Effect<void>
  ): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(claim(restore), (entry) =>
        restore(Effect.suspend(() => handle(entry.task, entry.attempts))).pipe(
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              running.delete(entry.task.id)
              if (Exit.isSuccess(exit)) return finish(entry.task.id)
              if (Cause.hasInterruptsOnly(exit.cause)) {
                entry.attempts--
                waiting.unshift(entry)
              } else if (entry.attempts >= options.maxAttempts) {
                finish(entry.task.id)
                return yield* onExhausted(entry.task, entry.attempts, exit.cause)
              } else {
                entry.visibleAt = (yield* Clock.currentTimeMillis) + options.retryDelayMillis(entry.attempts)
                delayed.add(entry)
              }
              changed.openUnsafe()
            })
          )
        ))
    )

  const removeWaiting = Effect.suspend(() => {
    const removed = [...waiting, ...delayed]
    waiting.length = 0
    delayed.clear()
    let freed = 0
    for (const entry of removed) {
      live.delete(entry.task.id)
      if (entry.holdsRoom) freed++
    }
    const tasks = removed.map((entry) => entry.task)
    return freed === 0 ? Effect.succeed(tasks) : Effect.as(room.release(freed), tasks)
  })

  return {
    offer,
    take,
    requeue,
    counts: () => ({ queued: waiting.length, delayed: delayed.size, inFlight: running.size }),
    removeWaiting
  }
}

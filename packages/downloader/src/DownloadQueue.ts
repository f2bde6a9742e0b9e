/**
 * `DownloadQueue`: a bounded queue of downloads with workers, for
 * producer/consumer flows where URLs turn up while downloading (a crawler),
 * in one process (`layerMemory`) or shared by processes and machines through
 * Redis (`layerRedis`, on Effect's `PersistedQueue`).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const queue = yield* DownloadQueue.DownloadQueue
 *   yield* queue.offer({ id: "index", url: "https://example.com/index.html", destination: "site/index.html" })
 *   const report = yield* queue.runWorkers({
 *     concurrency: 8,
 *     until: "idle",
 *     // A crawler: what a page links to is offered while the page's task is still in flight.
 *     onSuccess: (task, result) => Effect.forEach(linksIn(result.path), (link) => queue.offer(link))
 *   })
 * })
 * program.pipe(Effect.provide(DownloadQueue.layerMemory({ capacity: 1000, maxAttempts: 3 })))
 * ```
 *
 * **Details**
 *
 * - Every task has a stable `id`. Offering an id the queue already holds, or
 *   has finished, does nothing (a crawler can offer every link it sees).
 * - `offer` waits while `capacity` tasks wait to be taken (backpressure).
 *   Tasks coming back for a retry never wait, so workers cannot wait for
 *   themselves; they may pass the bound by the number in flight.
 * - Workers download with the `Downloader` in context, `concurrency` at once
 *   and `perHostConcurrency` per host. A failure whose error says it is
 *   `retryable` is tried again after a growing delay, up to `maxAttempts`;
 *   the last failure, or the first one that is not retryable, moves the task
 *   to the dead letters with its typed error; `requeueDeadLetters` puts them
 *   back once the cause is fixed.
 * - A task's destination is its own, and a task delivered again (a worker
 *   died, its lease lapsed) continues the `.part` left behind; a file already
 *   complete is kept when its expected checksum matches (`ifExists:
 *   "skip-if-match"` for tasks with a checksum, `"overwrite"` for the others,
 *   unless the worker options say otherwise). The task is finished only after
 *   the file is in place and `onSuccess` has run: delivery is at least once,
 *   and the file arrives once.
 * - `shutdown({ mode: "drain" })` refuses new offers and lets the workers
 *   finish what is queued and in flight; `"park"` interrupts downloads in
 *   flight (their `.part` files stay, resumable) and returns what did not run.
 *
 * **Gotchas**
 *
 * - On Redis, two workers can hold one task when a worker stalls for longer
 *   than the lease (Effect's store hands the task on and does not tell the
 *   first holder). Each worker therefore downloads a task only while it holds
 *   a lock of its own on the task id, renewed while it downloads: a second
 *   holder waits for the lock, then finds the file complete. A holder that
 *   loses its lock stops at once (its attempt fails with
 *   `TaskAbandonedError`). The downloader's `.part.lock` would refuse the
 *   second writer outright (`EBUSY`); the task lock makes it wait instead.
 *   Distinct tasks must have distinct destinations.
 * - On Redis the task, URL included, is stored as given: credentials belong
 *   in the client's auth layer, not in URLs.
 * - The memory store keeps nothing past the process: `shutdown({ mode:
 *   "park" })` returns its unfinished tasks to you.
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as UserHook from "@httpkit/core/UserHook"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Checksum from "./Checksum.ts"
import * as DownloadConfig from "./DownloadConfig.ts"
import * as Downloader from "./Downloader.ts"
import type { DownloadResult } from "./DownloadResult.ts"
import * as CallOptions from "./internal/callOptions.ts"
import * as HostLimit from "./internal/hostLimit.ts"
import * as Observers from "./internal/observers.ts"
import { exactly, own, ownData } from "./internal/own.ts"
import * as PoolLimits from "./internal/poolLimits.ts"
import * as QueuePool from "./internal/queuePool.ts"
import { firstLine } from "./internal/text.ts"
import type * as Progress from "./Progress.ts"

import { QueueShutdownError, QueueUnavailableError, TaskAbandonedError } from "./DownloadError.ts"
import * as Store from "./DownloadQueueStore.ts"
import { DeadLetter, type DeadLetterError, type QueueTask, type ShutdownMode, type TaskInput } from "./QueueTask.ts"

/**
 * Where tasks are, and the queue's state.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats extends Store.Counts {
  readonly backend: string
  readonly capacity: number
  /** `open`, `draining`, `parking` or `closed`. */
  readonly state: "open" | "draining" | "parking" | "closed"
}

/**
 * One attempt of a task, as hooks see it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Attempt {
  /** 1 for the first. */
  readonly attempt: number
  /** The queue's attempts per task. */
  readonly maxAttempts: number
}

/**
 * How workers run.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerOptions<E = never, R = never> {
  /** Downloads at once, an integer of at least 1 (otherwise `runWorkers` fails with `DownloadConfigError`). @default 4 */
  readonly concurrency?: number | undefined
  /** Downloads at once per host (host and port), an integer of at least 1. @default 2 */
  readonly perHostConcurrency?: number | undefined
  /**
   * When the workers stop: at `shutdown` (a long-running worker), or as soon
   * as the queue is idle: nothing waiting, retrying or in flight (a crawl that
   * ends by itself; on Redis, in flight anywhere).
   *
   * @default "shutdown"
   */
  readonly until?: "shutdown" | "idle" | undefined
  /**
   * Options for every download. `ifExists` defaults to `"skip-if-match"` for
   * tasks with an expected checksum (a task delivered again after its file
   * was completed is kept, not refetched) and to `"overwrite"` otherwise.
   * Checked as a download checks its own: a bad one (`ifExists: "skip"`)
   * fails `runWorkers` with `DownloadConfigError`, before a task is taken.
   */
  readonly options?: Omit<Downloader.DownloadOptions, "onProgress" | "checksum"> | undefined
  /**
   * An attempt begins (the task is claimed; its download starts).
   *
   * `onStart`, `onProgress` and `onError` observe, as a batch's callbacks do:
   * one that throws (or whose effect dies or fails) changes nothing in the
   * attempt or in the `WorkerReport`, and one warning per hook counts its
   * throws when `runWorkers` ends.
   */
  readonly onStart?: ((task: QueueTask, attempt: Attempt) => Effect.Effect<void, never, R>) | undefined
  /** A download's progress events (at most one per `progressInterval`); keep it quick. */
  readonly onProgress?: ((task: QueueTask, progress: Progress.Progress) => void) | undefined
  /**
   * The file is in place. May offer new tasks (a crawler). The task is
   * finished only when this succeeds; a failure (a throw or a defect
   * included) counts as a failed attempt (`TaskAbandonedError`), except
   * `QueueShutdownError`: during a drain new tasks are refused, and the task
   * is still finished.
   */
  readonly onSuccess?:
    | ((task: QueueTask, result: DownloadResult, attempt: Attempt) => Effect.Effect<void, E, R>)
    | undefined
  /** An attempt failed; `final` when the task goes to the dead letters. */
  readonly onError?:
    | ((
      task: QueueTask,
      error: DeadLetterError,
      attempt: Attempt & { readonly final: boolean }
    ) => Effect.Effect<void, never, R>)
    | undefined
}

/**
 * What one `runWorkers` did.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerReport {
  /** Tasks finished with their file in place (skipped ones included). */
  readonly succeeded: number
  /** Of those, files found complete already (a task delivered again). */
  readonly skipped: number
  /** Attempts that failed and will be tried again. */
  readonly retried: number
  /** Tasks moved to the dead letters. */
  readonly deadLettered: number
  /** Tasks interrupted in flight by a park (put back in the queue). */
  readonly parked: number
}

/**
 * What a shutdown did.
 *
 * @category models
 * @since 0.1.0
 */
export interface ShutdownResult {
  readonly mode: ShutdownMode
  /**
   * Tasks that did not run to their end. Memory store: removed from the
   * queue and handed to you. Redis store: the ones interrupted in this
   * process, put back in Redis for other workers (nothing is removed).
   */
  readonly parked: ReadonlyArray<QueueTask>
}

/**
 * The operations of a download queue.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /**
   * Queues a task; does nothing when its id is known (queued, in flight or
   * finished), and succeeds with whether it queued it. Waits while the queue
   * is full. Fails with `QueueShutdownError` once a shutdown began (a wait
   * for room included), and with `DownloadConfigError` for a task without an
   * id or with an invalid checksum.
   */
  readonly offer: (
    task: TaskInput
  ) => Effect.Effect<boolean, QueueShutdownError | QueueUnavailableError | DownloadConfig.DownloadConfigError>
  /** Queues tasks one after the other; succeeds with how many it queued (known ids are not). */
  readonly offerAll: (
    tasks: Iterable<TaskInput>
  ) => Effect.Effect<number, QueueShutdownError | QueueUnavailableError | DownloadConfig.DownloadConfigError>
  /** Tasks not finished: waiting, retrying and in flight. */
  readonly size: Effect.Effect<number, QueueUnavailableError>
  readonly stats: Effect.Effect<Stats, QueueUnavailableError>
  /** Tasks given up, oldest first, each with its last typed error. */
  readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>, QueueUnavailableError>
  /**
   * Puts dead letters back in the queue once their cause is fixed: every
   * one, or those whose task id is in `ids`, oldest first. Each becomes a
   * task again with its attempts from zero (its id is queued once, as an
   * offer would: a letter whose task is queued already is only removed),
   * waiting for room as an offer does, and leaves the dead letters in the
   * same step: a process that dies midway leaves each letter either a dead
   * letter or a queued task, never both or neither. A letter whose task is
   * in flight stays. Succeeds with how many tasks it queued. Fails with
   * `QueueShutdownError` once a shutdown began (its `id` is the first of
   * `ids`, or empty).
   */
  readonly requeueDeadLetters: (
    options?: { readonly ids?: Iterable<string> | undefined }
  ) => Effect.Effect<number, QueueShutdownError | QueueUnavailableError>
  /**
   * Runs workers that take tasks and download them with the `Downloader` in
   * context, until `shutdown` (or until idle, see `until`). Interrupting it
   * parks its tasks in flight. A store failure is logged and retried; it
   * never ends the workers.
   */
  readonly runWorkers: <E = never, R = never>(
    options?: WorkerOptions<E, R>
  ) => Effect.Effect<WorkerReport, DownloadConfig.DownloadConfigError, Downloader.Downloader | R>
  /**
   * Stops the queue: it takes no new task, and running workers finish
   * (`drain`, the default) or are interrupted (`park`); waits for them.
   * Without running workers, a drain parks what waits. Calling it again
   * waits for the first call's result.
   */
  readonly shutdown: (options?: { readonly mode?: ShutdownMode | undefined }) => Effect.Effect<ShutdownResult>
}

/**
 * A download queue.
 *
 * @category services
 * @since 0.1.0
 */
export class DownloadQueue extends Context.Service<DownloadQueue, Service>()("@httpkit/downloader/DownloadQueue") {}

/**
 * A task as given, checked and copied by own keys onto objects without a
 * prototype (the store's and the dead letters' Schemas read an absent
 * `checksum` or `expected` with `in`); a string says what is wrong.
 */
const normalize = (input: TaskInput): QueueTask | string => {
  const id = own(input, "id")
  const url = own(input, "url")
  const destination = own(input, "destination")
  const checksum = own(input, "checksum")
  if (typeof id !== "string" || id === "") return "a queued task needs a non-empty string id"
  if (typeof url !== "string" || url === "") return `task ${JSON.stringify(id)}: url must be a non-empty string`
  if (typeof destination !== "string" || destination === "") {
    return `task ${JSON.stringify(id)}: destination must be a non-empty string`
  }
  if (checksum === undefined) return exactly({ id, url, destination })
  const spec = Checksum.resolve(checksum)
  if (typeof spec === "string") {
    return `task ${JSON.stringify(id)}: ${
      ConfigProblem.format({ setting: "checksum", received: ConfigProblem.show(checksum), expected: spec })
    }`
  }
  // Resolved once: the checksum kept is the one just checked (a getter read twice could give another).
  return exactly({ id, url, destination, checksum: Checksum.canonicalOf(spec) })
}

/**
 * A pool's concurrencies, `until` and the options for every download, read by own keys; any bad one fails
 * naming it (`options.ifExists`), before a task is taken.
 */
const workerLimits = (options: Pick<WorkerOptions, "concurrency" | "perHostConcurrency" | "until" | "options">) =>
  Effect.suspend(() => {
    const limits = PoolLimits.read("worker options", options)
    const until: unknown = own(options, "until") ?? "shutdown"
    const problems = [
      ...(limits instanceof DownloadConfig.DownloadConfigError ? limits.problems ?? [] : []),
      ...(until === "shutdown" || until === "idle"
        ? []
        : [{ setting: "until", received: ConfigProblem.show(until), expected: `"shutdown" or "idle"` }]),
      ...CallOptions.problems(own(options, "options"), ["options"])
    ]
    if (problems.length > 0) {
      return Effect.fail(
        new DownloadConfig.DownloadConfigError({ message: ConfigProblem.message("worker options", problems), problems })
      )
    }
    return Effect.succeed({ ...(limits as PoolLimits.PoolLimits), until: until as "shutdown" | "idle" })
  })

/** How long a worker waits for another process's `.part` lock: past the 30 s after which a silent one is taken over. */
const lockWaitMillis = 35_000
const lockPollMillis = 500

/**
 * `download`, tried again while another process holds the file's `.part`
 * lock (`FileSystemError` `EBUSY` on `lock`): a worker that stalled past its
 * lease still holds it, and the task's next holder waits for it to finish or
 * go stale rather than spend its attempts (a short stall used to dead-letter
 * a healthy task within seconds).
 */
const whileLockBusy = <A, E, R>(download: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(download, {
    while: (error) => {
      const e = error as { readonly _tag?: unknown; readonly operation?: unknown; readonly code?: unknown }
      return e._tag === "FileSystemError" && e.operation === "lock" && e.code === "EBUSY"
    },
    schedule: Schedule.spaced(lockPollMillis),
    times: Math.ceil(lockWaitMillis / lockPollMillis)
  })

const hasExpected = (task: QueueTask): boolean => {
  const checksum = own(task, "checksum")
  return typeof checksum === "string" || (checksum !== undefined && own(checksum, "expected") !== undefined)
}

/** An error's own `retryable` (a `DownloadConfigError` has none: a polluted prototype's must not count). */
const isRetryable = (error: DeadLetterError): boolean => {
  const retryable = own(error as { readonly retryable?: unknown }, "retryable")
  return typeof retryable === "boolean" ? retryable : false
}

const errorText = (error: unknown): string => {
  if (error instanceof Error) return error.message
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

/**
 * A download queue over the `Store.DownloadQueueStore` in context. Closing its
 * scope parks what is in flight.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Service, never, Store.DownloadQueueStore | Scope.Scope> = Effect.gen(function*() {
  const store = yield* Store.DownloadQueueStore
  let state: Stats["state"] = "open"
  const stopSignal = Deferred.makeUnsafe<ShutdownMode>()
  const finished = Deferred.makeUnsafe<ShutdownResult>()
  /** Running worker pools, each done when its deferred completes. */
  const pools = new Set<Deferred.Deferred<void>>()
  /** Tasks a park interrupted in this process. */
  const interrupted = new Map<string, QueueTask>()

  const offer: Service["offer"] = (input) =>
    Effect.suspend((): ReturnType<Service["offer"]> => {
      const id = typeof own(input, "id") === "string" ? own(input, "id")! : ""
      if (state !== "open") return Effect.fail(new QueueShutdownError({ id }))
      const task = normalize(input)
      if (typeof task === "string") {
        // Without a prototype: the error's Schema reads an absent `problems` with `in` (RELIABILITY 10).
        return Effect.fail(new DownloadConfig.DownloadConfigError(exactly({ message: task })))
      }
      return Effect.raceFirst(
        store.offer(task),
        Effect.flatMap(Deferred.await(stopSignal), () => Effect.fail(new QueueShutdownError({ id })))
      )
    })

  const requeueDeadLetters: Service["requeueDeadLetters"] = (options) =>
    Effect.suspend(() => {
      const given = own(options ?? {}, "ids")
      const ids = given === undefined ? undefined : new Set(given)
      const refused = new QueueShutdownError({ id: ids?.values().next().value ?? "" })
      if (state !== "open") return Effect.fail(refused)
      return Effect.raceFirst(
        store.requeueDeadLetters(ids),
        Effect.flatMap(Deferred.await(stopSignal), () => Effect.fail(refused))
      )
    }).pipe(Effect.withSpan("DownloadQueue.requeueDeadLetters"))

  const stats = Effect.map(store.counts, (counts): Stats => ({
    ...counts,
    backend: store.backend,
    capacity: store.capacity,
    state
  }))

  const stopQueue: Service["shutdown"] = (options) =>
    Effect.suspend(() => {
      if (state !== "open") return Deferred.await(finished)
      const mode = own(options ?? {}, "mode") ?? "drain"
      const hadPools = pools.size > 0
      state = mode === "drain" ? "draining" : "parking"
      return Effect.gen(function*() {
        yield* Deferred.succeed(stopSignal, mode)
        yield* Effect.forEach([...pools], Deferred.await, { discard: true })
        const removed = mode === "park" || !hadPools
          ? yield* Effect.catch(store.removeWaiting, (error) =>
            Effect.as(Effect.logWarning(`DownloadQueue: ${error.message}`), []))
          : []
        const parked = new Map<string, QueueTask>(interrupted)
        for (const task of removed) {
          parked.set(task.id, task)
        }
        state = "closed"
        const result: ShutdownResult = { mode, parked: [...parked.values()] }
        yield* Deferred.succeed(finished, result)
        return result
      })
    })

  const shutdown: Service["shutdown"] = Effect.fn("DownloadQueue.shutdown")(function*(options) {
    return yield* stopQueue(options)
  })

  const runWorkers = <E = never, R = never>(
    options: WorkerOptions<E, R> = {}
  ): Effect.Effect<WorkerReport, DownloadConfig.DownloadConfigError, Downloader.Downloader | R> =>
    Effect.gen(function*() {
      const { concurrency, perHostConcurrency, until } = yield* workerLimits(options)
      const report = { succeeded: 0, skipped: 0, retried: 0, deadLettered: 0, parked: 0 }
      if (state !== "open") return report
      const downloader = yield* Downloader.Downloader
      const context = yield* Effect.context<R>()
      const withHost = HostLimit.make(perHostConcurrency)
      const base = ownData(own(options, "options") ?? {})
      // The observers' throws change nothing (one warning per hook at the end); onSuccess's fail the attempt.
      const observers = Observers.make()
      const onStart = observers.effect("onStart", own(options, "onStart"))
      const onProgress = observers.plain("onProgress", own(options, "onProgress"))
      const onSuccess = own(options, "onSuccess")
      const onError = observers.effect("onError", own(options, "onError"))
      /** Tasks in flight in this pool. */
      const running = new Map<string, QueueTask>()

      const downloadOptions = (task: QueueTask): Downloader.DownloadOptions => {
        const checksum = own(task, "checksum")
        return {
          ...base,
          ...(checksum === undefined ? {} : { checksum }),
          ifExists: own(base, "ifExists") ?? (hasExpected(task) ? "skip-if-match" : "overwrite"),
          ...(onProgress === undefined
            ? {}
            : { onProgress: (progress: Progress.Progress) => onProgress(task, progress) })
        }
      }

      /** A failed attempt: retried (the effect fails) or, at the end, a dead letter (the task is finished). */
      const failed = (task: QueueTask, attempt: number, error: DeadLetterError) =>
        Effect.gen(function*() {
          const final = attempt >= store.maxAttempts || !isRetryable(error)
          if (onError !== undefined) yield* onError(task, error, { attempt, maxAttempts: store.maxAttempts, final })
          if (!final) {
            report.retried++
            return yield* Effect.fail(error)
          }
          const failedAt = yield* Clock.currentTimeMillis
          yield* store.addDeadLetter(new DeadLetter({ task, attempts: attempt, error, failedAt }))
          report.deadLettered++
        })

      const handle = (task: QueueTask, attempt: number, release: Effect.Effect<void>) =>
        Effect.gen(function*() {
          const info: Attempt = { attempt, maxAttempts: store.maxAttempts }
          if (onStart !== undefined) yield* onStart(task, info)
          const exit = yield* Effect.exit(
            store.exclusive(
              task.id,
              withHost(task.url, whileLockBusy(downloader.download(task.url, task.destination, downloadOptions(task))))
            )
          )
          yield* release
          if (Exit.isFailure(exit)) {
            if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.failCause(exit.cause)
            const error = Cause.findErrorOption(exit.cause)
            return yield* failed(
              task,
              attempt,
              error._tag === "Some"
                ? error.value
                : new TaskAbandonedError({
                  id: task.id,
                  reason: `the download died: ${firstLine(Cause.pretty(exit.cause))}`,
                  retryable: true
                })
            )
          }
          if (onSuccess !== undefined) {
            // A hook that throws, or returns something other than an effect (`undefined`, a Promise), fails the
            // attempt as a failure does (UserHook: never a fiber death that leaves the task in flight).
            const hook = yield* Effect.exit(UserHook.call("onSuccess", onSuccess, task, exit.value, info))
            if (Exit.isFailure(hook)) {
              if (Cause.hasInterruptsOnly(hook.cause)) return yield* Effect.failCause(hook.cause)
              const error = Cause.findErrorOption(hook.cause)
              if (!(error._tag === "Some" && error.value instanceof QueueShutdownError)) {
                return yield* failed(
                  task,
                  attempt,
                  new TaskAbandonedError({
                    id: task.id,
                    reason: `onSuccess failed: ${
                      error._tag === "Some" ? errorText(error.value) : firstLine(Cause.pretty(hook.cause))
                    }`,
                    retryable: true
                  })
                )
              }
            }
          }
          report.succeeded++
          if (exit.value.skipped) report.skipped++
        }).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              report.parked++
              interrupted.set(task.id, task)
            })
          )
        )

      /** One worker: one task, start to end; store failures are logged and waited out. */
      const work = (release: Effect.Effect<void>) =>
        store.take((task, attempt) =>
          Effect.suspend(() => {
            running.set(task.id, task)
            interrupted.delete(task.id)
            return Effect.ensuring(
              handle(task, attempt, release),
              Effect.sync(() => running.delete(task.id))
            )
          })
        ).pipe(
          Effect.catchCause((cause) => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
            const error = Cause.findErrorOption(cause)
            if (error._tag === "Some" && error.value instanceof QueueUnavailableError) {
              // The slot is held while waiting: a store that fails at once must not make workers spin.
              return Effect.andThen(Effect.logWarning(`DownloadQueue: ${error.value.message}`), Effect.sleep(1000))
            }
            // A failed attempt: already counted, and the store retries it.
            return error._tag === "Some" ? Effect.void : Effect.logError("DownloadQueue: a worker failed", cause)
          }),
          Effect.provideContext(context)
        )

      /** Resolves once nothing is waiting, retrying or in flight (here or, on Redis, anywhere). */
      const idle = Effect.gen(function*() {
        while (true) {
          if (running.size === 0) {
            const counts = yield* Effect.result(store.counts)
            if (
              counts._tag === "Success" && running.size === 0 &&
              counts.success.queued + counts.success.delayed + counts.success.inFlight === 0
            ) return
          }
          yield* Effect.sleep(store.pollMillis)
        }
      })

      const stopOnSignal = Effect.flatMap(Deferred.await(stopSignal), (mode) => mode === "park" ? Effect.void : idle)
      const stop = until === "idle" ? Effect.raceFirst(idle, stopOnSignal) : stopOnSignal

      const done = Deferred.makeUnsafe<void>()
      pools.add(done)
      yield* QueuePool.run({ concurrency, work, stop }).pipe(
        Effect.ensuring(Effect.suspend(() => {
          pools.delete(done)
          return Effect.andThen(
            observers.warn("runWorkers", "the workers went on"),
            Deferred.succeed(done, undefined)
          )
        }))
      )
      return report
    })

  yield* Effect.addFinalizer(() =>
    state === "open"
      ? Effect.flatMap(shutdown({ mode: "park" }), (result) =>
        store.backend === "memory" && result.parked.length > 0
          ? Effect.logWarning(`DownloadQueue: ${result.parked.length} unfinished tasks dropped with the memory queue`)
          : Effect.void)
      : Effect.void
  )

  return {
    offer,
    offerAll: (tasks) =>
      Effect.map(Effect.forEach(tasks, offer), (queued) => queued.filter((wasQueued) => wasQueued).length),
    size: Effect.map(store.counts, (counts) => counts.queued + counts.delayed + counts.inFlight),
    stats,
    deadLetters: store.deadLetters,
    requeueDeadLetters,
    runWorkers,
    shutdown
  }
})

/**
 * The queue over the `Store.DownloadQueueStore` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<DownloadQueue, never, Store.DownloadQueueStore> = Layer.effect(DownloadQueue, make)

/**
 * A queue in this process's memory.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (
  options: Store.MemoryOptions = {}
): Layer.Layer<DownloadQueue, DownloadConfig.DownloadConfigError> =>
  layer.pipe(Layer.provide(Store.layerMemory(options)))

/**
 * A queue in Redis, shared by every process using the same `name`, on the
 * `Redis` service in context (`NodeRedis.layer({ url })`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (
  options: Store.RedisOptions
): Layer.Layer<DownloadQueue, DownloadConfig.DownloadConfigError, Redis.Redis> =>
  layer.pipe(Layer.provide(Store.layerRedis(options)))

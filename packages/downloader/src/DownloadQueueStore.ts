/**
 * Where a `DownloadQueue` keeps its tasks: the store contract, and its two
 * implementations, in this process's memory (`layerMemory`) and in Redis on
 * Effect's `PersistedQueue` (`layerRedis`), shared by processes and machines.
 * `test/support/queueSuite.ts` runs one suite over both.
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as LagTimer from "@httpkit/core/LagTimer"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PersistedQueue from "effect/persistence/PersistedQueue"
import * as Redis from "effect/persistence/Redis"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Str from "effect/String"
import { randomUUID } from "node:crypto"
import { DownloadConfigError } from "./DownloadConfig.ts"
import { QueueUnavailableError, TaskAbandonedError } from "./DownloadError.ts"
import { own } from "./internal/own.ts"
import * as QueueMemory from "./internal/queueMemory.ts"
import * as QueueRedis from "./internal/queueRedis.ts"
import { firstLine } from "./internal/text.ts"
import { DeadLetter, QueueTask } from "./QueueTask.ts"

/**
 * Where tasks are, as a store counts them.
 *
 * @category models
 * @since 0.1.0
 */
export interface Counts {
  /** Waiting to be taken. */
  readonly queued: number
  /** Waiting for a retry's delay to pass. */
  readonly delayed: number
  /** Taken by a worker (on Redis: by any worker, a dead one's until its lease lapses). */
  readonly inFlight: number
  readonly deadLetters: number
}

/**
 * The contract of a queue backend: where tasks wait, how they are handed to
 * one worker at a time, retried and remembered.
 *
 * @category models
 * @since 0.1.0
 */
export interface Store {
  /** `memory` or `redis`: named in errors and logs. */
  readonly backend: string
  /** Tasks waiting to be taken at most, before `offer` waits. */
  readonly capacity: number
  /** Attempts per task, the first included. */
  readonly maxAttempts: number
  /** How often a worker pool looks whether the queue is idle, in milliseconds. */
  readonly pollMillis: number
  /**
   * Adds a task unless its id is known (queued, in flight or finished); waits
   * while the queue is full. Succeeds with whether this offer queued it
   * (`false`: the id was known).
   */
  readonly offer: (task: QueueTask) => Effect.Effect<boolean, QueueUnavailableError>
  /**
   * Takes the next task (waiting while there is none), counts an attempt,
   * and runs `handle`: its success finishes the task; a failure makes it
   * visible again after the retry delay (at `maxAttempts`, finished as a dead
   * letter by the store); an interruption puts it back without counting the
   * attempt.
   */
  readonly take: <A, E, R>(
    handle: (task: QueueTask, attempt: number) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | QueueUnavailableError, R>
  /**
   * Runs `effect` while holding the task's lock: no other holder of `id`
   * (in any process sharing the store) runs at the same time. Fails with
   * `TaskAbandonedError` when the lock is lost.
   */
  readonly exclusive: <A, E, R>(
    id: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | QueueUnavailableError | TaskAbandonedError, R>
  readonly addDeadLetter: (letter: DeadLetter) => Effect.Effect<void, QueueUnavailableError>
  readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>, QueueUnavailableError>
  /**
   * Moves dead letters (every one, or those whose task id is in `ids`) back
   * into the queue, oldest first, as new tasks: their attempts start from
   * zero, and each waits for room as an offer does. Each letter moves in one
   * step (on Redis, one script for a batch of them): it is never lost, and
   * never both a dead letter and a queued task. A letter whose id is queued
   * already is removed without queueing the task twice; one whose id is in
   * flight stays a dead letter (it may be the letter its worker is writing).
   * Succeeds with how many tasks it queued.
   */
  readonly requeueDeadLetters: (ids: ReadonlySet<string> | undefined) => Effect.Effect<number, QueueUnavailableError>
  readonly counts: Effect.Effect<Counts, QueueUnavailableError>
  /**
   * Removes and returns the tasks this store keeps for this process alone
   * (the memory store: all that wait); a shared store keeps its tasks for
   * other workers and returns none.
   */
  readonly removeWaiting: Effect.Effect<ReadonlyArray<QueueTask>, QueueUnavailableError>
}

/**
 * The queue's backend.
 *
 * @category services
 * @since 0.1.0
 */
export class DownloadQueueStore
  extends Context.Service<DownloadQueueStore, Store>()("@httpkit/downloader/DownloadQueueStore")
{}

/**
 * Options every store takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface StoreOptions {
  /** Tasks waiting to be taken at most; `offer` waits while the queue holds this many. @default 1000 */
  readonly capacity?: number | undefined
  /** Attempts per task, the first included. @default 5 */
  readonly maxAttempts?: number | undefined
  /** Delay before the first retry, doubled for each one after. @default "1 second" */
  readonly retryDelay?: DurationInput.Input | undefined
  /** The longest delay between two attempts. @default "1 minute" */
  readonly maxRetryDelay?: DurationInput.Input | undefined
  /** Dead letters kept, the oldest dropped first. @default 10000 */
  readonly maxDeadLetters?: number | undefined
}

/**
 * Options of the memory store.
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryOptions extends StoreOptions {
  /** Ids of finished tasks remembered for de-duplication, the oldest forgotten first. @default 100000 */
  readonly maxIds?: number | undefined
}

/**
 * Options of the Redis store.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisOptions extends StoreOptions {
  /** The queue's name: every process using this name (and prefix) shares one queue. */
  readonly name: string
  /** Prefix of every key. @default "httpkit:dq:" */
  readonly prefix?: string | undefined
  /** How often an idle worker looks for tasks offered by other processes (and for full-queue room). @default "500 millis" */
  readonly pollInterval?: DurationInput.Input | undefined
  /**
   * How long a task stays with a worker that stops renewing its claim (a
   * process killed): the task then goes to another worker. Its lock expires
   * likewise.
   *
   * @default "30 seconds"
   */
  readonly lease?: DurationInput.Input | undefined
  /** How often a worker renews its claims and locks; well under `lease`. @default lease / 3 */
  readonly leaseRefresh?: DurationInput.Input | undefined
  /** The longest wait for one answer from Redis (offers, counts, locks, dead letters). @default "5 seconds" */
  readonly timeout?: DurationInput.Input | undefined
}

/**
 * The problems found in a store's options, named by field, in the shape of every httpkit configuration error
 * (`@httpkit/core/ConfigProblem`); thrown nowhere, failed with at the end.
 */
class Problems {
  readonly found: Array<ConfigProblem.ConfigProblem> = []
  add(name: string, value: unknown, expected: string): void {
    this.found.push({ setting: name, received: ConfigProblem.show(value), expected })
  }
  /** A positive integer, or `fallback` when absent. */
  positiveInteger(value: unknown, fallback: number, name: string): number {
    if (value === undefined) return fallback
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) return value
    this.add(name, value, "an integer of at least 1")
    return fallback
  }
  /**
   * A duration in milliseconds (non-negative, finite; `"20s"` and any `Duration.Input`, read by own fields:
   * `DurationInput.fromInput`), or `fallback` when absent.
   */
  millis(value: unknown, fallback: Duration.Input, name: string): number {
    if (value === undefined) return Duration.toMillis(Duration.fromInputUnsafe(fallback))
    const millis = DurationInput.fromInput(value)
    if (millis !== undefined) return millis
    this.add(name, value, DurationInput.accepted)
    return Duration.toMillis(Duration.fromInputUnsafe(fallback))
  }
  /** Fails with every problem found, or succeeds with `value`. */
  check<A>(value: A): Effect.Effect<A, DownloadConfigError> {
    return this.found.length === 0
      ? Effect.succeed(value)
      : Effect.fail(
        new DownloadConfigError({
          message: ConfigProblem.message("queue store options", this.found),
          problems: this.found
        })
      )
  }
}

interface RetryPolicy {
  readonly capacity: number
  readonly maxAttempts: number
  readonly retryDelayMillis: number
  readonly maxRetryDelayMillis: number
  readonly maxDeadLetters: number
}

const retryPolicy = (options: StoreOptions, problems: Problems): RetryPolicy => ({
  capacity: problems.positiveInteger(own(options, "capacity"), 1000, "capacity"),
  maxAttempts: problems.positiveInteger(own(options, "maxAttempts"), 5, "maxAttempts"),
  retryDelayMillis: problems.millis(own(options, "retryDelay"), "1 second", "retryDelay"),
  maxRetryDelayMillis: problems.millis(own(options, "maxRetryDelay"), "1 minute", "maxRetryDelay"),
  maxDeadLetters: problems.positiveInteger(own(options, "maxDeadLetters"), 10_000, "maxDeadLetters")
})

/** The delay before attempt `attempts + 1`: `retryDelay` doubled per attempt made, at most `maxRetryDelay`. */
const retryDelayFor = (policy: RetryPolicy, attempts: number): number =>
  Math.min(policy.retryDelayMillis * 2 ** Math.max(0, attempts - 1), policy.maxRetryDelayMillis)

/**
 * A store in this process's memory.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (options: MemoryOptions = {}): Effect.Effect<Store, DownloadConfigError> =>
  Effect.suspend(() => {
    const problems = new Problems()
    const policy = retryPolicy(options, problems)
    const maxIds = problems.positiveInteger(own(options, "maxIds"), 100_000, "maxIds")
    return Effect.map(problems.check(policy), (policy) => memoryStore(policy, maxIds))
  })

const memoryStore = (policy: RetryPolicy, maxIds: number): Store => {
  const queue = QueueMemory.make<QueueTask>({
    capacity: policy.capacity,
    maxAttempts: policy.maxAttempts,
    retryDelayMillis: (attempts) => retryDelayFor(policy, attempts),
    maxIds
  })
  const dead: Array<DeadLetter> = []
  const addDeadLetter = (letter: DeadLetter) =>
    Effect.sync(() => {
      dead.push(letter)
      if (dead.length > policy.maxDeadLetters) dead.splice(0, dead.length - policy.maxDeadLetters)
    })
  return {
    backend: "memory",
    capacity: policy.capacity,
    maxAttempts: policy.maxAttempts,
    pollMillis: 20,
    offer: (task) => queue.offer(task),
    take: (handle) =>
      queue.take(handle, (task, attempts, cause) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          addDeadLetter(
            new DeadLetter({
              task,
              attempts,
              error: new TaskAbandonedError({
                id: task.id,
                reason: firstLine(Cause.pretty(cause)),
                retryable: false
              }),
              failedAt: now
            })
          ))),
    exclusive: (_id, effect) => effect,
    addDeadLetter,
    deadLetters: Effect.sync(() => dead.slice()),
    requeueDeadLetters: (ids) =>
      Effect.gen(function*() {
        let queued = 0
        for (const letter of dead.filter((letter) => ids === undefined || ids.has(letter.task.id))) {
          // The letter is taken in the step that queues its task, once there is room.
          const requeued = yield* queue.requeue(letter.task, () => {
            const at = dead.indexOf(letter)
            if (at < 0) return false
            dead.splice(at, 1)
            return true
          })
          if (requeued === "queued") queued++
        }
        return queued
      }),
    counts: Effect.sync(() => ({ ...queue.counts(), deadLetters: dead.length })),
    removeWaiting: queue.removeWaiting
  }
}

/**
 * The memory store as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<DownloadQueueStore, DownloadConfigError> =>
  Layer.effect(DownloadQueueStore, makeMemory(options))

// --- the Redis store ---

/** A Redis failure, told without credentials. */
const describeRedis = (cause: unknown): string => {
  const inner = cause instanceof Redis.RedisError ? cause.cause : cause
  const text = inner instanceof Error ? inner.message : String(inner)
  return firstLine(text.replace(/\/\/[^/@\s]*@/g, "//***@"))
}

const unavailable = (operation: string, detail: string) =>
  new QueueUnavailableError({ backend: "redis", operation, detail, retryable: true })

const decodeTask = Schema.decodeUnknownEffect(QueueTask)
/** A task as Effect's `PersistedQueue` encodes its element (`Schema.toCodecJson` of the queue's schema). */
const encodeTask = Schema.encodeUnknownEffect(Schema.toCodecJson(QueueTask))

/** Dead letters moved back into the queue by one script at most. */
const requeueBatch = 100

/** A dead letter as Redis keeps it: its list, its exact text there, and its task's element for a new payload. */
interface StoredLetter {
  readonly letter: DeadLetter
  readonly list: "dead" | "failed"
  readonly text: string
  readonly element: Effect.Effect<unknown>
}

/**
 * A store in Redis, shared by every process that uses the same `name` and
 * `prefix`: tasks wait, are claimed and retried in Effect's `PersistedQueue`
 * (its Redis store), with our dead letters, counts and task locks beside it.
 *
 * **Details**
 *
 * - A claimed task stays with its worker while the worker renews its lease
 *   (every `leaseRefresh`); a worker that stops (killed) loses it after
 *   `lease`, and another worker takes it. The attempt it was on counts.
 * - Redis calls of ours (offers, counts, locks, dead letters) are bounded by
 *   `timeout` and fail with `QueueUnavailableError`; Effect's store retries
 *   its own polling and acknowledgements. A stall of this process's event
 *   loop does not count against `timeout` (`@httpkit/core/LagTimer`): an
 *   answer that came during it is read; every call still ends within
 *   `2 * timeout + 1 s`.
 * - `capacity` is checked before each offer: several producers may pass it
 *   by one offer each.
 * - De-duplication records of finished tasks stay until Effect's
 *   `PersistedQueue.layerCleanup` removes them (30 days by default, when it
 *   runs); until then an id offered again is ignored.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRedis = (
  options: RedisOptions
): Effect.Effect<Store, DownloadConfigError, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const problems = new Problems()
    const policy = retryPolicy(options, problems)
    const givenName: unknown = own(options, "name")
    const name = typeof givenName === "string" ? givenName : ""
    if (name === "") problems.add("name", givenName, "a non-empty string")
    const givenPrefix: unknown = own(options, "prefix") ?? "httpkit:dq:"
    const prefix = typeof givenPrefix === "string" ? givenPrefix : ""
    if (typeof givenPrefix !== "string") problems.add("prefix", givenPrefix, "a string")
    const pollMillis = Math.max(1, problems.millis(own(options, "pollInterval"), "500 millis", "pollInterval"))
    const leaseMillis = Math.max(1, problems.millis(own(options, "lease"), "30 seconds", "lease"))
    const refreshMillis = Math.max(
      1,
      problems.millis(own(options, "leaseRefresh"), Math.floor(leaseMillis / 3), "leaseRefresh")
    )
    const timeoutMillis = Math.max(1, problems.millis(own(options, "timeout"), "5 seconds", "timeout"))
    // A renewal every lease or less often lets every lock lapse between two renewals.
    if (refreshMillis >= leaseMillis) {
      problems.add("leaseRefresh", own(options, "leaseRefresh"), `a duration shorter than lease (${leaseMillis} ms)`)
    }
    yield* problems.check(undefined)
    const keys = QueueRedis.keysFor(prefix, name)
    const redis = yield* Redis.Redis

    /**
     * A Redis call of ours, bounded by `timeout` of responsive time
     * (`LagTimer`): a stall of this process's event loop is not Redis's
     * silence, so an answer that came during it is read, not timed out.
     */
    const bounded = <A, E>(operation: string, effect: Effect.Effect<A, E>): Effect.Effect<A, QueueUnavailableError> =>
      Effect.raceFirst(
        Effect.mapError(effect, (error) => unavailable(operation, describeRedis(error))),
        Effect.flatMap(
          LagTimer.sleep(timeoutMillis),
          () => Effect.fail(unavailable(operation, `no answer within ${timeoutMillis} ms`))
        )
      )

    const store = yield* PersistedQueue.makeStoreRedis({
      prefix,
      pollInterval: pollMillis,
      lockExpiration: leaseMillis,
      lockRefreshInterval: refreshMillis
    })
    const factory = yield* Effect.provideService(PersistedQueue.makeFactory, PersistedQueue.PersistedQueueStore, store)
    const queue = yield* factory.make({
      name,
      schema: QueueTask,
      maxAttempts: policy.maxAttempts,
      retrySchedule: Schedule.min([
        Schedule.exponential(policy.retryDelayMillis),
        Schedule.spaced(policy.maxRetryDelayMillis)
      ])
    })

    const evalCounts = redis.eval(QueueRedis.counts)
    const evalPushDead = redis.eval(QueueRedis.pushDead)
    const evalRenew = redis.eval(QueueRedis.renew)
    const evalRelease = redis.eval(QueueRedis.release)

    const counts = Effect.map(bounded("count", evalCounts(keys)), (replies): Counts => ({
      queued: Number(replies[0] ?? 0),
      delayed: Number(replies[1] ?? 0),
      inFlight: Number(replies[2] ?? 0),
      deadLetters: Number(replies[3] ?? 0) + Number(replies[4] ?? 0)
    }))

    const offer = (task: QueueTask) =>
      Effect.gen(function*() {
        // A known id is ignored at once: it never waits for room.
        const known = yield* bounded("offer", redis.send<string | null>("ZSCORE", keys.ids, task.id))
        if (known !== null && known !== undefined) return false
        while (true) {
          const now = yield* counts
          if (now.queued + now.delayed < policy.capacity) break
          yield* Effect.sleep(pollMillis)
        }
        // Two producers offering one id at once may both be told `true`; it is queued once.
        yield* bounded("offer", queue.offer(task, { id: task.id }))
        return true
      })

    const take = <A, E, R>(handle: (task: QueueTask, attempt: number) => Effect.Effect<A, E, R>) =>
      queue.take((task, metadata) => handle(task, metadata.attempts)).pipe(
        Effect.catchIf(
          (error): error is PersistedQueue.PersistedQueueError => error instanceof PersistedQueue.PersistedQueueError,
          (error) => Effect.fail(unavailable("take", describeRedis(error.cause ?? error.message)))
        )
      )

    const exclusive = <A, E, R>(id: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const key = keys.claim(id)
        const token = randomUUID()
        // Another holder (a worker whose lease lapsed while it still runs) keeps it until it ends or dies.
        // Until when the lock is surely ours: a lease counted from when its SET or renewal was sent (Redis
        // started it no earlier). The work stops then, whether or not a renewal is still on its way: a renewal
        // that took up to `timeout` used to let the work run past the lease, beside the next holder's.
        let validUntil = 0
        while (true) {
          const sentAt = yield* Clock.currentTimeMillis
          const set = yield* bounded("lock", redis.send("SET", key, token, "NX", "PX", String(leaseMillis)))
          if (set === "OK") {
            validUntil = sentAt + leaseMillis
            break
          }
          yield* Effect.sleep(Math.min(250, refreshMillis))
        }
        const lapsed = (detail: string) =>
          new TaskAbandonedError({
            id,
            reason: `its lock could not be renewed within the lease: ${detail}`,
            retryable: true
          })
        const renewing = Effect.gen(function*() {
          while (true) {
            yield* Effect.sleep(refreshMillis)
            const sentAt = yield* Clock.currentTimeMillis
            if (sentAt >= validUntil) return yield* Effect.fail(lapsed("the lease ended before a renewal was sent"))
            const renewed = yield* Effect.result(Effect.raceFirst(
              bounded("lock", evalRenew(key, token, leaseMillis)),
              Effect.flatMap(
                Effect.sleep(validUntil - sentAt),
                () => Effect.fail(unavailable("lock", "no answer before the lease ended"))
              )
            ))
            if (renewed._tag === "Success" && renewed.success === 1) {
              validUntil = sentAt + leaseMillis
            } else if (renewed._tag === "Success") {
              return yield* Effect.fail(
                new TaskAbandonedError({ id, reason: "its lock expired and was taken", retryable: true })
              )
            } else if ((yield* Clock.currentTimeMillis) >= validUntil) {
              return yield* Effect.fail(lapsed(renewed.failure.detail))
            }
          }
        })
        return yield* Effect.raceFirst(effect, renewing).pipe(
          Effect.ensuring(Effect.ignore(bounded("unlock", evalRelease(key, token))))
        )
      })

    /** Every dead letter, oldest first, with where it is kept and what its task's payload in the queue is. */
    const readLetters = Effect.gen(function*() {
      const ours = yield* bounded("read dead letters", redis.send<Array<string>>("LRANGE", keys.dead, "0", "-1"))
      const effects = yield* bounded("read dead letters", redis.send<Array<string>>("LRANGE", keys.failed, "0", "-1"))
      const letters: Array<StoredLetter> = []
      for (const text of ours) {
        const decoded = yield* Effect.result(QueueRedis.parseDeadLetter(text))
        if (decoded._tag === "Success") {
          const letter = decoded.success
          letters.push({ letter, list: "dead", text, element: Effect.orDie(encodeTask(letter.task)) })
        } else yield* Effect.logWarning(`DownloadQueue: a dead letter in ${keys.dead} does not decode`)
      }
      // Effect's own records: a worker that died during a task's last attempt, or a task that does not decode.
      for (const text of effects) {
        const record = QueueRedis.parseFailedRecord(text)
        if (record === undefined) continue
        const task = yield* Effect.result(decodeTask(record.element))
        letters.push({
          letter: new DeadLetter({
            task: task._tag === "Success" ? task.success : { id: record.id, url: "", destination: "" },
            attempts: record.attempts,
            error: new TaskAbandonedError({ id: record.id, reason: firstLine(record.lastFailure), retryable: false }),
            failedAt: record.failedAt
          }),
          list: "failed",
          text,
          // As Effect stored it: queued again, it decodes (or not) as it did.
          element: Effect.succeed(record.element)
        })
      }
      return letters.toSorted((a, b) => a.letter.failedAt - b.letter.failedAt)
    })

    const deadLetters = Effect.map(readLetters, (letters) => letters.map((stored) => stored.letter))

    const evalRequeue = redis.eval(QueueRedis.requeueDead)

    const requeueDeadLetters = (ids: ReadonlySet<string> | undefined) =>
      Effect.gen(function*() {
        const chosen = (yield* readLetters).filter((stored) => ids === undefined || ids.has(stored.letter.task.id))
        let queued = 0
        let next = 0
        while (next < chosen.length) {
          const moves: Array<QueueRedis.Requeue> = []
          for (const stored of chosen.slice(next, next + requeueBatch)) {
            // The id as Effect's store writes it (lone surrogates replaced), first in the payload.
            const id = Str.toWellFormed(stored.letter.task.id)
            const element = yield* stored.element
            moves.push({ list: stored.list, text: stored.text, id, payload: JSON.stringify({ id, element }) })
          }
          // A batch moves in one script, while the queue has room; the rest waits for room as an offer does.
          const statuses = yield* bounded("requeue dead letters", evalRequeue(keys, policy.capacity, moves))
          const done = statuses.filter((status) => Number(status) !== QueueRedis.Requeued.full)
          queued += done.filter((status) => Number(status) === QueueRedis.Requeued.queued).length
          next += done.length
          if (done.length < moves.length) yield* Effect.sleep(pollMillis)
        }
        return queued
      })

    const addDeadLetter = (letter: DeadLetter) =>
      Effect.gen(function*() {
        const payload = yield* Effect.orDie(QueueRedis.deadLetterJson(letter))
        yield* bounded("record a dead letter", evalPushDead(keys.dead, payload, policy.maxDeadLetters))
      })

    const result: Store = {
      backend: "redis",
      capacity: policy.capacity,
      maxAttempts: policy.maxAttempts,
      pollMillis,
      offer,
      take,
      exclusive,
      addDeadLetter,
      deadLetters,
      requeueDeadLetters,
      counts,
      removeWaiting: Effect.succeed([])
    }
    return result
  })

/**
 * The Redis store as a layer, on the `Redis` service in context
 * (`NodeRedis.layer({ url })` from `@effect/platform-node`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (
  options: RedisOptions
): Layer.Layer<DownloadQueueStore, DownloadConfigError, Redis.Redis> =>
  Layer.effect(DownloadQueueStore, makeRedis(options))

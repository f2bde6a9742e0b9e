/**
 * Many downloads at once: `downloadAll` runs a list of tasks within a total
 * and a per-host concurrency, collects every success and every typed
 * failure (one file failing does not stop the others), reports aggregate
 * progress (files and bytes), and `retryFailed` runs the failures again.
 *
 * ```ts
 * const batch = yield* downloader.downloadAll(tasks, { concurrency: 8, perHostConcurrency: 2 })
 * const again = batch.failed.length > 0 ? yield* downloader.retryFailed(batch) : batch
 * ```
 *
 * @since 0.1.0
 */
import * as Redact from "@httpkit/core/Redact"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Checksum from "./Checksum.ts"
import { DownloadConfigError } from "./DownloadConfig.ts"
import { type DownloadError, DownloadErrorSchema } from "./DownloadError.ts"
import { DownloadResult } from "./DownloadResult.ts"
import * as CallOptions from "./internal/callOptions.ts"
import * as HostLimit from "./internal/hostLimit.ts"
import * as Observers from "./internal/observers.ts"
import { exactly, own } from "./internal/own.ts"
import * as PoolLimits from "./internal/poolLimits.ts"
import type * as Progress from "./Progress.ts"

/**
 * One file of a batch.
 *
 * @category models
 * @since 0.1.0
 */
export interface DownloadTask {
  readonly url: string
  /** A file path, or a folder (existing, or ending in `/`) where the name comes from the server or the URL. */
  readonly destination: string
  /** Your own id for the task, kept in the result. */
  readonly id?: string | undefined
  readonly checksum?: Checksum.Input | undefined
}

/**
 * A failed task in a result: the task, with its URL redacted (user info,
 * token-like query parameters), and the typed error. `retryFailed` uses the
 * URL as given, which the result keeps out of sight.
 *
 * @category models
 * @since 0.1.0
 */
export const Failure = Schema.Struct({
  index: Schema.Number,
  id: Schema.optionalKey(Schema.String),
  url: Schema.String,
  destination: Schema.String,
  /** The task's checksum as `Checksum.canonical` writes it: what `retryFailed` verifies. */
  checksum: Schema.optionalKey(
    Schema.Union([
      Schema.String,
      Schema.Struct({ algorithm: Checksum.Algorithm })
    ])
  ),
  error: DownloadErrorSchema
})

/**
 * @category models
 * @since 0.1.0
 */
export type Failure = typeof Failure.Type

/**
 * The aggregate progress of a batch.
 *
 * @category models
 * @since 0.1.0
 */
export interface BatchProgress {
  readonly files: number
  readonly succeeded: number
  readonly failed: number
  /**
   * Bytes of the batch's files so far: each file's length once it succeeded,
   * otherwise the most it reached (resumed bytes included, a failed file's
   * kept), so the figure never goes down.
   */
  readonly bytes: number
}

/**
 * What a batch did.
 *
 * @category models
 * @since 0.1.0
 */
export class BatchResult extends Schema.Class<BatchResult>("@httpkit/downloader/BatchResult")({
  succeeded: Schema.Array(DownloadResult),
  failed: Schema.Array(Failure),
  /** Succeeded files over all files (1 for an empty batch). */
  successRate: Schema.Number,
  /** Bytes received over the network by the files that succeeded (their `bytesTransferred`). */
  bytes: Schema.Number,
  durationMillis: Schema.Number
}) {
  override toString(): string {
    return `BatchResult(${this.succeeded.length} succeeded, ${this.failed.length} failed, ${this.bytes} bytes)`
  }
}

/**
 * The URLs of a result's failed tasks as given (`failed[i]` has
 * `urls[i]`), for `retryFailed`: a failure itself holds its URL redacted, so
 * that printing, logging or encoding a result shows no secret. A result
 * decoded from its encoding has none; its failures are retried at their
 * redacted URLs.
 */
const givenUrls = new WeakMap<BatchResult, ReadonlyArray<string>>()

/** A result whose failures' URLs as given are `urls`. */
const remembering = (result: BatchResult, urls: ReadonlyArray<string>): BatchResult => {
  givenUrls.set(result, urls)
  return result
}

/**
 * Options of a batch; `options` apply to every file.
 *
 * @category models
 * @since 0.1.0
 */
export interface BatchOptions<Options> {
  /**
   * Files in progress at once, an integer of at least 1 (otherwise every
   * task fails with `DownloadConfigError`). @default 4
   */
  readonly concurrency?: number | undefined
  /** Files in progress at once per host (host and port), an integer of at least 1. @default 2 */
  readonly perHostConcurrency?: number | undefined
  /**
   * Options for every file (its own `checksum` wins), checked as a download checks its own: a bad one fails every
   * task with `DownloadConfigError` naming it (`options.ifExists`), before any request.
   */
  readonly options?: Options | undefined
  /**
   * A file's download begins (it holds its concurrency slots until its `onSuccess` or `onError`). The
   * callbacks observe: one that throws changes nothing in the batch (a warning counts the throws at its end); an
   * `async` one is not awaited, and its rejection is counted as a throw.
   */
  readonly onStart?: ((task: DownloadTask) => void) | undefined
  readonly onSuccess?: ((task: DownloadTask, result: DownloadResult) => void) | undefined
  readonly onError?: ((task: DownloadTask, error: DownloadError | DownloadConfigError) => void) | undefined
  /** Aggregate progress: at each file's own progress event and at each file's end. */
  readonly onProgress?: ((progress: BatchProgress) => void) | undefined
}

/** How a batch runs one file. */
export type DownloadOne<Options> = (
  task: DownloadTask,
  options: Options & { readonly onProgress?: ((progress: Progress.Progress) => void) | undefined }
) => Effect.Effect<DownloadResult, DownloadError | DownloadConfigError>

/**
 * Runs `tasks` with `download`, each file once, within the concurrencies.
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = <Options extends object>(
  download: DownloadOne<Options>,
  tasks: ReadonlyArray<DownloadTask>,
  options: BatchOptions<Options> = {},
  indices: ReadonlyArray<number> = tasks.map((_, index) => index)
): Effect.Effect<BatchResult> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const startedAt = clock.currentTimeMillisUnsafe()
    // Options and tasks are read by their own keys only (RELIABILITY 10).
    const limits = PoolLimits.read("batch options", options)
    // The options for every file are checked once, as the layer checks its own (internal/callOptions.ts).
    const problems = [
      ...(limits instanceof DownloadConfigError ? limits.problems ?? [] : []),
      ...CallOptions.problems(own(options, "options"), ["options"])
    ]
    const refused = problems.length === 0 ? undefined : CallOptions.error("batch options", problems)
    const { concurrency, perHostConcurrency } = limits instanceof DownloadConfigError ? PoolLimits.defaults : limits
    const withinHost = HostLimit.make(perHostConcurrency)
    // The callbacks observe; one that throws is counted and reported once at the end, never ends the batch.
    const observers = Observers.make()
    const onStart = observers.plain("onStart", own(options, "onStart"))
    const onSuccess = observers.plain("onSuccess", own(options, "onSuccess"))
    const onError = observers.plain("onError", own(options, "onError"))
    const onProgress = observers.plain("onProgress", own(options, "onProgress"))
    const base = (own(options, "options") ?? {}) as Options

    const succeeded: Array<{ readonly index: number; readonly result: DownloadResult }> = []
    const failed: Array<Failure> = []
    // The most each file reached, and their sum: a restart, a failure or an end never lowers it.
    const reached = new Map<number, number>()
    let reachedBytes = 0
    const reach = (index: number, bytes: number) => {
      const before = reached.get(index) ?? 0
      if (bytes <= before) {
        return
      }
      reached.set(index, bytes)
      reachedBytes += bytes - before
    }
    const report = () => {
      if (onProgress === undefined) return
      onProgress({ files: indices.length, succeeded: succeeded.length, failed: failed.length, bytes: reachedBytes })
    }

    const one = (index: number) => {
      const task = tasks[index]!
      const id = own(task, "id")
      const checksum = own(task, "checksum")
      const perFile = {
        ...base,
        ...(checksum === undefined ? {} : { checksum }),
        onProgress: (progress: Progress.Progress) => {
          reach(index, progress.bytes)
          report()
        }
      }
      const started = Effect.suspend(() => {
        onStart?.(task)
        return download(task, perFile)
      })
      // Bad concurrencies fail every task, in the result, before any starts (the batch itself never fails).
      return (refused === undefined ? withinHost(task.url, started) : Effect.fail(refused)).pipe(
        Effect.matchEffect({
          onSuccess: (result) =>
            Effect.sync(() => {
              reach(index, result.bytes)
              succeeded.push({ index, result })
              onSuccess?.(task, result)
              report()
            }),
          onFailure: (error) =>
            Effect.sync(() => {
              // Without a prototype: the result's Schema reads an absent `id` or `checksum` with `in`.
              failed.push(exactly({
                index,
                ...(id === undefined ? {} : { id }),
                url: Redact.url(task.url),
                destination: task.destination,
                ...(checksum === undefined ? {} : { checksum: Checksum.canonical(checksum) }),
                error
              }))
              onError?.(task, error)
              report()
            })
        })
      )
    }

    yield* Effect.forEach(indices, one, { concurrency, discard: true })
    yield* observers.warn("downloadAll", "the batch went on")
    const durationMillis = Math.max(0, clock.currentTimeMillisUnsafe() - startedAt)
    const ordered = succeeded.toSorted((a, b) => a.index - b.index).map((entry) => entry.result)
    const failedInOrder = failed.toSorted((a, b) => a.index - b.index)
    return remembering(
      new BatchResult({
        succeeded: ordered,
        failed: failedInOrder,
        successRate: indices.length === 0 ? 1 : ordered.length / indices.length,
        bytes: ordered.reduce((sum, result) => sum + result.bytesTransferred, 0),
        durationMillis
      }),
      failedInOrder.map((failure) => tasks[failure.index]!.url)
    )
  })

/**
 * Runs a result's failed tasks again and merges: the earlier successes, the
 * new successes, and what failed again.
 *
 * @category constructors
 * @since 0.1.0
 */
export const retryFailed = <Options extends object>(
  download: DownloadOne<Options>,
  previous: BatchResult,
  options: BatchOptions<Options> = {}
): Effect.Effect<BatchResult> =>
  Effect.gen(function*() {
    const urls = givenUrls.get(previous)
    const tasks: Array<DownloadTask> = previous.failed.map((failure, i) => {
      const id = own(failure, "id")
      const checksum = own(failure, "checksum")
      return {
        url: urls?.[i] ?? failure.url,
        destination: failure.destination,
        ...(id === undefined ? {} : { id }),
        ...(checksum === undefined ? {} : { checksum })
      }
    })
    const again = yield* run(download, tasks, options)
    const all = previous.succeeded.length + previous.failed.length
    const succeeded = [...previous.succeeded, ...again.succeeded]
    return remembering(
      new BatchResult({
        succeeded,
        // The indices of the first batch, so a failure still names its original task.
        failed: again.failed.map((failure) => exactly({ ...failure, index: previous.failed[failure.index]!.index })),
        successRate: all === 0 ? 1 : succeeded.length / all,
        bytes: previous.bytes + again.bytes,
        durationMillis: previous.durationMillis + again.durationMillis
      }),
      again.failed.map((failure) => tasks[failure.index]!.url)
    )
  })

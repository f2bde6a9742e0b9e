/**
 * `Downloader`: downloads that resume where the bytes stopped, verify what
 * arrived, and never leave a partial or corrupt file at the destination.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const downloader = yield* Downloader
 *   const result = yield* downloader.download("https://example.com/model.bin", "models/", {
 *     checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 *     onProgress: (p) => process.stdout.write(`\r${Progress.format(p)}`)
 *   })
 * })
 * program.pipe(Effect.provide(Downloader.layer()), Effect.provide(ResilientClient.layer()))
 * ```
 *
 * **Details**
 *
 * - Bytes go to `DEST.part` beside the destination, with a sidecar
 *   `DEST.part.json` (the redacted URL, the validators, the length, the
 *   bytes known to be on disk). The next run continues it with `Range` and
 *   `If-Range`; a file that changed on the server starts over from zero.
 * - The file reaches the destination only when it is whole, verified
 *   against the expected checksum (resumed bytes included), synced, and
 *   renamed in one step; the folder is synced after the rename.
 * - A body that breaks mid-way is continued from its last byte written, on
 *   the client's retry delays; every request goes through the
 *   `ResilientClient` in context (auth, breaker, limits, typed errors).
 * - Files at or above `segmentThreshold` whose server takes ranges are
 *   fetched over `segments` connections into one preallocated file.
 *
 * **Gotchas**
 *
 * - The bytes are stored as the server sends them: a `Content-Encoding:
 *   gzip` body is saved compressed (the downloader asks for `identity`).
 * - Without a `checksum`, the result says `verified: false`: lengths and
 *   validators are checked, the content is not.
 *
 * @since 0.1.0
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Redact from "@httpkit/core/Redact"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import * as Batch from "./Batch.ts"
import type * as Checksum from "./Checksum.ts"
import * as DownloadConfig from "./DownloadConfig.ts"
import { type DownloadError, FileSystemError } from "./DownloadError.ts"
import type { DownloadResult } from "./DownloadResult.ts"
import * as Deadline from "./internal/deadline.ts"
import * as Destination from "./internal/destination.ts"
import { fetchFile } from "./internal/fetchFile.ts"
import * as FileIo from "./internal/fileIo.ts"
import * as Job from "./internal/job.ts"
import * as Metrics from "./internal/metrics.ts"
import * as Observers from "./internal/observers.ts"
import { exactly, own, ownData, spanOptions } from "./internal/own.ts"
import * as PartLock from "./internal/partLock.ts"
import * as Precheck from "./internal/precheck.ts"
import * as ResumePlan from "./internal/resumePlan.ts"
import * as SizeLimit from "./internal/sizeLimit.ts"
import type * as Progress from "./Progress.ts"

/**
 * Per-download options; the layer's configuration gives the defaults. They
 * are checked before any request or file change, those the layer takes too
 * with the layer's own Schema: a bad one (`ifExists: "skip"`,
 * `resume: "yes"`) fails with `DownloadConfigError`, never read as a default.
 *
 * @category models
 * @since 0.1.0
 */
export interface DownloadOptions {
  /** A checksum to compute and, with an expected digest, to verify: `"sha256:<hex>"` or `{ algorithm, expected }`. */
  readonly checksum?: Checksum.Input | undefined
  /** Continue a `.part` left by an earlier run. @default true */
  readonly resume?: boolean | undefined
  /** When the destination exists. @default "fail" */
  readonly ifExists?: DownloadConfig.IfExists | undefined
  /** Extra request headers (an `Authorization` here is a secret like any other: never logged or stored). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Connections for this file: 1 for a single stream; absent, by size (`segments` above `segmentThreshold`). */
  readonly segments?: number | undefined
  /**
   * Called with each progress event (at most one per `progressInterval`, and a last one). One that throws (or an
   * `async` one that rejects) changes nothing in the download; its throws are counted and logged as one warning
   * when the download ends (`Downloader.download: onProgress threw TypeError 3 time(s); the download went on`).
   */
  readonly onProgress?: ((progress: Progress.Progress) => void) | undefined
  /** When the file changes on the server, start over; otherwise fail with `ContentChangedError`. @default true */
  readonly restartOnChange?: boolean | undefined
  /** Allow the destination to be a symbolic link: the link is replaced by the file, its target left as it is. @default false */
  readonly allowSymlinks?: boolean | undefined
  /** Create the destination's folder when missing. @default false */
  readonly createFolders?: boolean | undefined
  /**
   * The largest file taken, in bytes on disk or as a size (`"10 GiB"`): a larger announced size fails before any
   * byte is written, a body of unknown length as soon as it would pass it (`FileTooLargeError`). @default no limit
   */
  readonly maxBytes?: number | string | undefined
  /**
   * The most this download may take, retries, continuations, restarts and segments included (`"30 min"`, or
   * milliseconds); when it passes, the download stops with its `.part` kept and fails with `DownloadTimeoutError`.
   * @default no deadline
   */
  readonly timeout?: number | string | undefined
}

/**
 * What a download reports as it goes: progress events, then its result.
 *
 * @category models
 * @since 0.1.0
 */
export type DownloadEvent = Progress.Progress | DownloadResult

/**
 * The operations of a downloader.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /**
   * Downloads `url` to `destination`: a file path, or a folder (an existing
   * one, or a path ending in `/`) where the name comes from
   * `Content-Disposition` or the URL, made safe.
   */
  readonly download: (
    url: string,
    destination: string,
    options?: DownloadOptions
  ) => Effect.Effect<DownloadResult, DownloadError | DownloadConfig.DownloadConfigError>
  /** The same download as a stream of progress events that ends with the result. */
  readonly downloadWithProgress: (
    url: string,
    destination: string,
    options?: Omit<DownloadOptions, "onProgress">
  ) => Stream.Stream<DownloadEvent, DownloadError | DownloadConfig.DownloadConfigError>
  /**
   * Downloads many files, `concurrency` at a time and `perHostConcurrency` per
   * host; never fails: every failure is in the result, typed.
   */
  readonly downloadAll: (
    tasks: ReadonlyArray<Batch.DownloadTask>,
    options?: Batch.BatchOptions<Omit<DownloadOptions, "onProgress" | "checksum">>
  ) => Effect.Effect<Batch.BatchResult>
  /** Runs a batch's failed tasks again; the result merges both runs. */
  readonly retryFailed: (
    result: Batch.BatchResult,
    options?: Batch.BatchOptions<Omit<DownloadOptions, "onProgress" | "checksum">>
  ) => Effect.Effect<Batch.BatchResult>
  /** The resolved configuration. */
  readonly config: DownloadConfig.Resolved
}

/**
 * The downloader.
 *
 * @category services
 * @since 0.1.0
 */
export class Downloader extends Context.Service<Downloader, Service>()("@httpkit/downloader/Downloader") {}

/**
 * Builds a downloader over the `ResilientClient` in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: DownloadConfig.Options = {}) {
  const config = yield* DownloadConfig.resolve(options)
  const client = yield* ResilientClient.ResilientClient
  return makeWith(config, client)
})

/**
 * A downloader with resolved configuration over `client`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith = (config: DownloadConfig.Resolved, client: ResilientClient.Service): Service => {
  const download: Service["download"] = (url, destination, options = {}) =>
    Effect.suspend(() => {
      const owned = ownData(options)
      const onProgress = own(owned, "onProgress")
      // Not a function: passed on as given, for the download's option check to refuse (internal/callOptions.ts).
      if (typeof onProgress !== "function") return measured(url, destination, owned)
      // An `onProgress` that throws (or an async one that rejects) changes nothing in the download, as in
      // `downloadAll` and the queue: its throws are counted, one warning when the download ends.
      const observers = Observers.make()
      return Effect.ensuring(
        measured(url, destination, exactly({ ...owned, onProgress: observers.plain("onProgress", onProgress) })),
        observers.warn("Downloader.download", "the download went on")
      )
    })

  /** A download, counted in `DownloadMetrics` unless the configuration turns metrics off. */
  const measured = (url: string, destination: string, options: DownloadOptions) =>
    Effect.suspend(() => {
      const tally = Metrics.tally(url)
      const download = run(config, client, url, destination, options, tally)
      const counted = !config.metrics ? download : Effect.gen(function*() {
        const clock = yield* Clock.Clock
        const startedAt = clock.currentTimeMillisUnsafe()
        return yield* Effect.onExit(
          download,
          (exit) => Metrics.ended(tally, exit, clock.currentTimeMillisUnsafe() - startedAt)
        )
      })
      // One span per download (the client's own spans nest under it), its URL redacted. Effect walks the context's
      // span annotations with `for...in`: given as an object without a prototype, no polluted name becomes an attribute.
      return Effect.withSpan(
        counted,
        "Downloader.download",
        spanOptions({ attributes: { "url.full": Redact.url(url), "httpkit.download.destination": destination } })
      ).pipe(Effect.updateService(References.TracerSpanAnnotations, exactly))
    })

  const downloadWithProgress: Service["downloadWithProgress"] = (url, destination, options = {}) =>
    Stream.callback<DownloadEvent, DownloadError | DownloadConfig.DownloadConfigError>(
      (queue) =>
        Effect.gen(function*() {
          const result = yield* measured(url, destination, {
            ...ownData(options),
            onProgress: (progress) => {
              Queue.offerUnsafe(queue, progress)
            }
          })
          Queue.offerUnsafe(queue, result)
          yield* Queue.end(queue)
        }).pipe(
          Effect.catch((error) => Queue.fail(queue, error)),
          Effect.forkScoped
        ),
      { bufferSize: 64, strategy: "sliding" }
    )

  const downloadOne: Batch.DownloadOne<Omit<DownloadOptions, "onProgress" | "checksum">> = (task, options) =>
    measured(task.url, task.destination, ownData(options))

  return {
    download,
    downloadWithProgress,
    downloadAll: Effect.fn("Downloader.downloadAll")(function*(tasks, options) {
      return yield* Batch.run(downloadOne, tasks, options)
    }),
    retryFailed: Effect.fn("Downloader.retryFailed")(function*(result, options) {
      return yield* Batch.retryFailed(downloadOne, result, options)
    }),
    config
  }
}

/** One download, start to finish: each stage in its own module, the order here. */
const run = (
  config: DownloadConfig.Resolved,
  client: ResilientClient.Service,
  url: string,
  destination: string,
  options: DownloadOptions,
  tally: Metrics.Tally
): Effect.Effect<DownloadResult, DownloadError | DownloadConfig.DownloadConfigError> =>
  Effect.gen(function*() {
    const job = yield* Job.make(config, client, url, options, tally)
    const stage = Deadline.stage()
    // One deadline over everything after the options' check (`timeout`; none by default).
    return yield* Deadline.within(
      job.redactedUrl,
      job.timeout,
      stage,
      Effect.gen(function*() {
        // What the server says, before anything is opened: a 404 fails here, and so does a size above `maxBytes`.
        const remote = yield* Precheck.precheck(client, url, job.headers)
        yield* SizeLimit.checkAnnounced(job.redactedUrl, job.maxBytes, remote.size)
        yield* Deadline.enter(stage, "prepare")
        const paths = yield* Destination.resolve(job, remote, destination)
        return yield* exclusively(job, paths, (lock) =>
          Effect.gen(function*() {
            const skipped = yield* Destination.checkExisting(job, paths)
            if (skipped !== undefined) return skipped
            const part = yield* Destination.checkPart(job, paths)
            const plan = yield* ResumePlan.make(job, remote, paths, part)
            const handle = yield* FileIo.openPart(job.redactedUrl, paths.partPath, plan.resumedBytes === 0)
            yield* Deadline.enter(stage, "transfer")
            // A file refused for its size leaves nothing behind (sizeLimit.ts): removed once closed, under the lock.
            return yield* SizeLimit.removeRefused(
              job.redactedUrl,
              paths,
              Effect.ensuring(fetchFile(job, remote, paths, handle, plan, lock), FileIo.closeQuietly(handle))
            )
          }))
      })
    )
  })

/** `.part` files being written by this process, so that two downloads never share one. */
const active = new Set<string>()

/**
 * Runs `use` as the only writer of the download's `.part`: in this process
 * (a set of parts in use) and across processes (a lock, partLock.ts;
 * a lock left by a killed process is taken over). A second writer fails at
 * once with `FileSystemError` `EBUSY`.
 */
const exclusively = <A, E>(
  job: Job.Job,
  paths: Destination.Paths,
  use: (lock: PartLock.PartLock) => Effect.Effect<A, E>
): Effect.Effect<A, E | FileSystemError> =>
  Effect.suspend(() => {
    const { partPath } = paths
    if (active.has(partPath)) {
      return Effect.fail(
        new FileSystemError({ url: job.redactedUrl, retryable: true, operation: "lock", path: partPath, code: "EBUSY" })
      )
    }
    active.add(partPath)
    const staleAfter = Math.max(30_000, 10 * job.config.checkpointInterval)
    return Effect.ensuring(
      // Taken uninterruptibly: a lock created is always released.
      Effect.acquireUseRelease(PartLock.acquire(job.redactedUrl, partPath, staleAfter), use, (lock) => lock.release),
      Effect.sync(() => active.delete(partPath))
    )
  })

/**
 * The downloader with the given options, over the `ResilientClient` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: DownloadConfig.Options = {}
): Layer.Layer<Downloader, DownloadConfig.DownloadConfigError, ResilientClient.ResilientClient> =>
  Layer.effect(Downloader, make(options))

/**
 * The downloader configured from the environment (`HTTPKIT_DOWNLOAD_*`, see
 * `DownloadConfig.fromConfig`), over the `ResilientClient` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  prefix = "httpkit_download"
): Layer.Layer<Downloader, DownloadConfig.DownloadConfigError, ResilientClient.ResilientClient> =>
  Layer.effect(
    Downloader,
    Effect.gen(function*() {
      const config = yield* DownloadConfig.fromConfig(prefix)
      return makeWith(config, yield* ResilientClient.ResilientClient)
    })
  )

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
import * as Redact from "@httpkit/client/Redact"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { type FileHandle, open } from "node:fs/promises"
import * as Path from "node:path"
import * as Batch from "./Batch.ts"
import * as Checksum from "./Checksum.ts"
import * as DownloadConfig from "./DownloadConfig.ts"
import {
  ChecksumMismatchError,
  DestinationExistsError,
  type DownloadError,
  FileSystemError,
  InsufficientSpaceError,
  UnsafeFileNameError
} from "./DownloadError.ts"
import { DownloadResult } from "./DownloadResult.ts"
import * as FileName from "./FileName.ts"
import * as FileIo from "./internal/fileIo.ts"
import * as HashFollower from "./internal/hashFollower.ts"
import * as Metrics from "./internal/metrics.ts"
import { own, ownData } from "./internal/own.ts"
import * as PartLock from "./internal/partLock.ts"
import * as Precheck from "./internal/precheck.ts"
import * as Remote from "./internal/remote.ts"
import * as Sidecar from "./internal/sidecar.ts"
import * as Transfer from "./internal/transfer.ts"
import * as Progress from "./Progress.ts"

/**
 * Per-download options; the layer's configuration gives the defaults.
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
  /** Called with each progress event (at most one per `progressInterval`, and a last one). */
  readonly onProgress?: ((progress: Progress.Progress) => void) | undefined
  /** When the file changes on the server, start over; otherwise fail with `ContentChangedError`. @default true */
  readonly restartOnChange?: boolean | undefined
  /** Allow the destination to be a symbolic link. @default false */
  readonly allowSymlinks?: boolean | undefined
  /** Create the destination's folder when missing. @default false */
  readonly createFolders?: boolean | undefined
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

/** `.part` files being written by this process, so that two downloads never share one. */
const active = new Set<string>()

const quote = (name: string): string => JSON.stringify(name)

/** Segments for a file of `size` bytes over `count` connections: equal parts, none under 1 MiB. */
const plan = (size: number, count: number): Array<Sidecar.Segment> => {
  const parts = Math.max(1, Math.min(count, Math.floor(size / (1024 * 1024))))
  const step = Math.ceil(size / parts)
  const segments: Array<Sidecar.Segment> = []
  for (let start = 0; start < size; start += step) segments.push({ start, end: Math.min(size, start + step), done: 0 })
  return segments.length === 0 ? [{ start: 0, end: 0, done: 0 }] : segments
}

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
  const download: Service["download"] = (url, destination, options = {}) => measured(url, destination, ownData(options))

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
      // One span per download (the client's own spans nest under it), its URL redacted.
      return Effect.withSpan(counted, "Downloader.download", {
        attributes: { "url.full": Redact.url(url), "httpkit.download.destination": destination }
      })
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
    downloadAll: (tasks, options) => Batch.run(downloadOne, tasks, options),
    retryFailed: (result, options) => Batch.retryFailed(downloadOne, result, options),
    config
  }
}

/** One download, start to finish. */
const run = (
  config: DownloadConfig.Resolved,
  client: ResilientClient.Service,
  url: string,
  destination: string,
  options: DownloadOptions,
  tally: Metrics.Tally
): Effect.Effect<DownloadResult, DownloadError | DownloadConfig.DownloadConfigError> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const startedAt = clock.currentTimeMillisUnsafe()
    const redactedUrl = Redact.url(url)
    const checksumInput = own(options, "checksum")
    const resolvedChecksum = checksumInput === undefined ? undefined : Checksum.resolve(checksumInput)
    if (typeof resolvedChecksum === "string") {
      return yield* Effect.fail(new DownloadConfig.DownloadConfigError({ message: resolvedChecksum }))
    }
    const checksum: Checksum.Spec | undefined = resolvedChecksum
    const segmentsOption = own(options, "segments")
    if (
      segmentsOption !== undefined && (!Number.isInteger(segmentsOption) || segmentsOption < 1 || segmentsOption > 64)
    ) {
      return yield* Effect.fail(
        new DownloadConfig.DownloadConfigError({ message: "segments must be an integer from 1 to 64" })
      )
    }
    const ifExists = own(options, "ifExists") ?? config.ifExists
    const resume = own(options, "resume") ?? config.resume
    const allowSymlinks = own(options, "allowSymlinks") ?? config.allowSymlinks
    const headers: Record<string, string> = Object.create(null)
    const given = own(options, "headers")
    if (given !== undefined) { for (const name of Object.keys(given)) headers[name.toLowerCase()] = given[name]! }

    // What the server says, before anything is opened: a 404 fails here.
    const remote = yield* Precheck.precheck(client, url, headers)

    // Where the file goes.
    const target = Path.resolve(destination)
    const targetEntry = yield* FileIo.entry(redactedUrl, target)
    const intoFolder = targetEntry.kind === "directory" || /[/\\]$/.test(destination)
    let path = target
    if (intoFolder) {
      const chosen = FileName.choose({ contentDisposition: remote.contentDisposition, url })
      if (!chosen.ok) {
        return yield* Effect.fail(
          new UnsafeFileNameError({ url: redactedUrl, retryable: false, name: quote(url), reason: chosen.reason })
        )
      }
      const inside = FileName.resolveInside(target, chosen.name)
      if (inside === undefined) {
        return yield* Effect.fail(
          new UnsafeFileNameError({
            url: redactedUrl,
            retryable: false,
            name: quote(chosen.name),
            reason: "the path leaves the download folder"
          })
        )
      }
      path = inside
    }
    const folder = Path.dirname(path)
    if (own(options, "createFolders") ?? config.createFolders) yield* FileIo.makeFolder(redactedUrl, folder)
    const partPath = `${path}.part`
    const sidecarPath = Sidecar.pathFor(partPath)

    if (active.has(partPath)) {
      return yield* Effect.fail(
        new FileSystemError({ url: redactedUrl, retryable: true, operation: "lock", path: partPath, code: "EBUSY" })
      )
    }
    active.add(partPath)
    // Across processes, a lock file beside the part (partLock.ts); a lock left by a killed process is taken over.
    const staleAfter = Math.max(30_000, 10 * config.checkpointInterval)
    return yield* Effect.ensuring(
      Effect.flatMap(
        PartLock.acquire(redactedUrl, partPath, staleAfter),
        (lock) => Effect.ensuring(transfer(lock), lock.release)
      ),
      Effect.sync(() => active.delete(partPath))
    )

    function transfer(lock: PartLock.PartLock) {
      return Effect.gen(function*() {
        // The destination: not a link unless allowed; an existing file per `ifExists`.
        const existing = yield* FileIo.entry(redactedUrl, path)
        if (existing.kind === "symlink" && !allowSymlinks) {
          return yield* Effect.fail(
            new UnsafeFileNameError({
              url: redactedUrl,
              retryable: false,
              name: quote(Path.basename(path)),
              reason: "the destination is a symbolic link (set allowSymlinks to write through it)"
            })
          )
        }
        if (existing.kind === "directory" || existing.kind === "other") {
          return yield* Effect.fail(
            new FileSystemError({ url: redactedUrl, retryable: false, operation: "open", path, code: "EISDIR" })
          )
        }
        if (existing.kind !== "missing") {
          if (ifExists === "fail" || (ifExists === "skip-if-match" && checksum?.expected === undefined)) {
            return yield* Effect.fail(
              new DestinationExistsError({ url: redactedUrl, retryable: false, destination: path })
            )
          }
          if (ifExists === "skip-if-match" && checksum?.expected !== undefined) {
            const digest = yield* digestOfFile(redactedUrl, path, checksum.algorithm)
            if (digest.digest === checksum.expected) {
              const now = clock.currentTimeMillisUnsafe()
              return new DownloadResult({
                url: redactedUrl,
                path,
                bytes: digest.bytes,
                bytesTransferred: 0,
                checksum: { algorithm: checksum.algorithm, digest: digest.digest },
                verified: true,
                resumed: false,
                restarts: 0,
                continuations: 0,
                segments: 0,
                skipped: true,
                durationMillis: now - startedAt,
                bytesPerSecond: 0
              })
            }
          }
        }
        const partEntry = yield* FileIo.entry(redactedUrl, partPath)
        if (partEntry.kind === "symlink" || partEntry.kind === "directory" || partEntry.kind === "other") {
          return yield* Effect.fail(
            new UnsafeFileNameError({
              url: redactedUrl,
              retryable: false,
              name: quote(Path.basename(partPath)),
              reason: "the .part path is not a regular file (a planted link is never followed)"
            })
          )
        }

        // What an earlier run left, and whether it belongs to this file.
        let restarts = 0
        let segments: Array<Sidecar.Segment> | undefined
        if (resume && partEntry.kind === "file") {
          const state = yield* Sidecar.read(redactedUrl, sidecarPath)
          if (state !== undefined && state.url === redactedUrl) {
            const same = state.size === remote.size && Remote.joinable(remote) &&
              (remote.etag === undefined ? state.lastModified === remote.lastModified : state.etag === remote.etag)
            if (same) {
              // Never trust more than the file holds (the sidecar is written after the bytes it counts are synced).
              segments = state.segments.map((segment) => ({
                ...segment,
                done: Math.max(0, Math.min(segment.done, partEntry.size - segment.start))
              }))
            } else if (state.segments.some((segment) => segment.done > 0)) {
              restarts = 1
            }
          }
        }
        const resumedBytes = segments === undefined ? 0 : segments.reduce((sum, segment) => sum + segment.done, 0)
        const segmentCount = segmentsOption ??
          (remote.size !== undefined && remote.size >= config.segmentThreshold ? config.segments : 1)
        const segmented = segments !== undefined
          ? segments.length > 1
          : segmentCount > 1 && remote.size !== undefined && remote.acceptsRanges && Remote.joinable(remote) &&
            !remote.encoded
        if (segments === undefined) {
          segments = segmented && remote.size !== undefined
            ? plan(remote.size, segmentCount)
            : [{ start: 0, ...(remote.size === undefined ? {} : { end: remote.size }), done: 0 }]
        }

        // Room for what is still to come.
        if (remote.size !== undefined) {
          const needed = Math.max(0, remote.size - resumedBytes)
          const available = yield* FileIo.availableBytes(redactedUrl, folder)
          if (needed > available) {
            return yield* Effect.fail(
              new InsufficientSpaceError({ url: redactedUrl, retryable: false, path: folder, needed, available })
            )
          }
        }

        const handle = yield* FileIo.openPart(redactedUrl, partPath, resumedBytes === 0)
        return yield* Effect.ensuring(
          fetchAll(handle, segments, resumedBytes, restarts, segmented, lock),
          FileIo.closeQuietly(handle)
        )
      })
    }

    function fetchAll(
      handle: FileHandle,
      initial: Array<Sidecar.Segment>,
      resumedBytes: number,
      initialRestarts: number,
      segmented: boolean,
      lock: PartLock.PartLock
    ) {
      /** The checksum's follower; replaced when the download restarts from zero, closed when it ends. */
      let follower: HashFollower.Follower | undefined
      return Effect.gen(function*() {
        const meter = Progress.meter({
          url: redactedUrl,
          destination: path,
          total: remote.size,
          startedAt,
          initialBytes: resumedBytes,
          intervalMillis: config.progressInterval
        })
        const onProgress = own(options, "onProgress")
        let bytesNow = resumedBytes
        const context: Transfer.Context = {
          client,
          url,
          redactedUrl,
          headers,
          handle,
          partPath,
          writeBatch: config.writeBatch,
          restartOnChange: own(options, "restartOnChange") ?? config.restartOnChange,
          maxRestarts: config.maxRestarts,
          maxStalls: config.maxStalls ?? client.config.retry.maxAttempts,
          backoff: client.config.retry,
          known: remote,
          single: !segmented,
          onBytes: (bytes) => {
            bytesNow += bytes
            if (onProgress === undefined) return
            const event = meter.update(bytesNow, clock.currentTimeMillisUnsafe())
            if (event !== undefined) onProgress(event)
          },
          onRestart: () => {
            bytesNow = 0
            restartFollower()
          },
          restarts: initialRestarts,
          continuations: 0,
          transferred: 0
        }
        let live: Array<Transfer.Segment> = initial.map((segment) => ({
          start: segment.start,
          end: segment.end,
          done: segment.done,
          writer: undefined
        }))

        // The checksum follows the bytes on disk from offset 0, in a worker for large files (hashFollower.ts).
        /** Bytes from offset 0 written without a gap: each segment's, as long as the one before is whole. */
        const prefix = (): number => {
          let end = 0
          for (const segment of live) {
            if (segment.start > end) break
            end = segment.start + Transfer.doneOf(segment)
            if (segment.end === undefined || end < segment.end) break
          }
          return end
        }
        const makeFollower = () =>
          checksum === undefined
            ? undefined
            : remote.size === undefined || remote.size >= HashFollower.threadedFrom
            ? HashFollower.threaded(partPath, checksum.algorithm, prefix)
            : HashFollower.atEnd(handle, checksum.algorithm)
        follower = makeFollower()
        function restartFollower() {
          follower?.close()
          follower = makeFollower()
        }
        if (segmented && resumedBytes === 0 && remote.size !== undefined) {
          // Preallocate: every segment writes inside the file's final length.
          yield* FileIo.attempt(redactedUrl, "truncate", partPath, () => handle.truncate(remote.size))
        }

        tally.resumed = resumedBytes > 0
        const syncTally = () => {
          tally.transferred = context.transferred
          tally.restarts = context.restarts
          tally.continuations = context.continuations
          tally.segments = live.length
        }

        /**
         * Writes what the segments gathered, syncs it, then records it: the sidecar never claims unsynced bytes.
         * Uninterruptible, so that a checkpoint under way when the transfer ends completes before the file is
         * renamed and its sidecar removed (an interrupted one would land its sidecar after that).
         */
        const checkpoint = Effect.uninterruptible(Effect.gen(function*() {
          const segments = live
          // Gathered bytes go to the OS first, so a crash loses at most one interval, not one write batch.
          yield* FileIo.attempt(redactedUrl, "write", partPath, async () => {
            await Promise.all(segments.map((segment) => segment.writer?.flush()))
          })
          const known = context.known
          const snapshot = segments.map((segment) => ({
            start: segment.start,
            ...(segment.end === undefined ? {} : { end: segment.end }),
            done: Transfer.doneOf(segment)
          }))
          syncTally()
          yield* FileIo.attempt(redactedUrl, "sync", partPath, () => handle.datasync())
          yield* Sidecar.write(redactedUrl, sidecarPath, {
            version: 1,
            url: redactedUrl,
            ...(known.size === undefined ? {} : { size: known.size }),
            ...(known.etag === undefined ? {} : { etag: known.etag }),
            ...(known.lastModified === undefined ? {} : { lastModified: known.lastModified }),
            segments: snapshot
          })
          yield* Metrics.reportBytes(tally)
          yield* lock.refresh
        }))
        const finalCheckpoint = Effect.ignore(checkpoint)

        const fetchLive = Effect.suspend(() =>
          Effect.forEach(live, (segment) => Transfer.fetchSegment(context, segment), {
            concurrency: "unbounded",
            discard: true
          })
        ).pipe(
          // Checkpoints while the bytes come; a last one however the transfer ends (failure, interruption).
          Effect.raceFirst(Effect.forever(Effect.andThen(Effect.sleep(config.checkpointInterval), checkpoint))),
          Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : finalCheckpoint)
        )

        yield* checkpoint
        const first = yield* Effect.exit(fetchLive)
        if (Exit.isFailure(first)) syncTally()
        if (Exit.isFailure(first)) {
          const error = Exit.findErrorOption(first)
          const rangeRefused = context.single === false && error._tag === "Some" &&
            error.value._tag === "RangeNotHonouredError"
          if (!rangeRefused) return yield* Effect.failCause(first.cause)
          // A segment's range was not honoured: everything starts over as one stream, nothing of the segments kept.
          yield* Effect.annotateCurrentSpan("fallback", "single-stream")
          context.single = true
          context.restarts++
          live = [{ start: 0, end: undefined, done: 0, writer: undefined }]
          yield* FileIo.attempt(redactedUrl, "truncate", partPath, () => handle.truncate(0))
          restartFollower()
          bytesNow = 0
          yield* fetchLive
        }

        syncTally()

        // Whole, verified, synced, renamed.
        const size = live.reduce((end, segment) => Math.max(end, segment.end ?? segment.writer?.written() ?? 0), 0)
        let digest: string | undefined
        if (checksum !== undefined) {
          const following = follower!
          digest = yield* FileIo.attempt(redactedUrl, "read", partPath, () => following.digest(size))
          if (checksum.expected !== undefined && digest !== checksum.expected) {
            tally.mismatch = checksum.algorithm
            yield* FileIo.removeIfPresent(redactedUrl, partPath)
            yield* FileIo.removeIfPresent(redactedUrl, sidecarPath)
            return yield* Effect.fail(
              new ChecksumMismatchError({
                url: redactedUrl,
                retryable: false,
                destination: path,
                algorithm: checksum.algorithm,
                expected: checksum.expected,
                actual: digest
              })
            )
          }
        }
        yield* FileIo.attempt(redactedUrl, "sync", partPath, () => handle.sync())
        // Not cut short half-way: a rename without its folder sync and sidecar removal would leave a stale sidecar.
        yield* Effect.uninterruptible(finish(partPath, path, sidecarPath))
        syncTally()
        const finishedAt = clock.currentTimeMillisUnsafe()
        if (onProgress !== undefined) onProgress(meter.finish(size, finishedAt))
        const durationMillis = Math.max(0, finishedAt - startedAt)
        return new DownloadResult({
          url: redactedUrl,
          path,
          bytes: size,
          bytesTransferred: context.transferred,
          ...(checksum === undefined || digest === undefined
            ? {}
            : { checksum: { algorithm: checksum.algorithm, digest } }),
          verified: checksum?.expected !== undefined,
          resumed: resumedBytes > 0,
          restarts: context.restarts,
          continuations: context.continuations,
          segments: live.length,
          skipped: false,
          durationMillis,
          bytesPerSecond: durationMillis === 0 ? 0 : Math.round((context.transferred * 1000) / durationMillis)
        })
      }).pipe(Effect.ensuring(Effect.sync(() => follower?.close())))
    }

    /** The rename into place, then the folder's sync, then the sidecar goes. */
    function finish(from: string, to: string, sidecar: string) {
      return Effect.gen(function*() {
        // Checked again just before the rename: a link planted during the download is not written through.
        const now = yield* FileIo.entry(redactedUrl, to)
        if (now.kind === "symlink" && !allowSymlinks) {
          return yield* Effect.fail(
            new UnsafeFileNameError({
              url: redactedUrl,
              retryable: false,
              name: quote(Path.basename(to)),
              reason: "the destination became a symbolic link during the download"
            })
          )
        }
        if (now.kind !== "missing" && ifExists === "fail") {
          return yield* Effect.fail(new DestinationExistsError({ url: redactedUrl, retryable: false, destination: to }))
        }
        yield* FileIo.rename(redactedUrl, from, to)
        yield* FileIo.syncFolder(redactedUrl, Path.dirname(to))
        yield* FileIo.removeIfPresent(redactedUrl, sidecar)
        yield* FileIo.removeIfPresent(redactedUrl, FileIo.temporaryFor(sidecar))
      })
    }
  })

/** The digest and length of a file on disk. */
const digestOfFile = (url: string, path: string, algorithm: Checksum.Algorithm) =>
  FileIo.attempt(url, "read", path, async () => {
    const handle = await open(path, "r")
    try {
      const { size } = await handle.stat()
      const hash = Checksum.hasher(algorithm)
      await Checksum.hashRange(handle, hash, 0, size)
      return { digest: hash.digest("hex"), bytes: size }
    } finally {
      await handle.close()
    }
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

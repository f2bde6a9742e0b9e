/**
 * A download from its open `.part` to its result: every segment fetched
 * (one stream, or several connections into one preallocated file), with
 * checkpoints while the bytes come, progress events, the checksum followed
 * off the main thread, the fall back to one stream when a segment's range
 * is refused, then verification and the move into place.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { FileHandle } from "node:fs/promises"
import { BodyLengthError, ChecksumMismatchError, type DownloadError } from "../DownloadError.ts"
import { DownloadResult } from "../DownloadResult.ts"
import * as Progress from "../Progress.ts"
import * as Checkpoint from "./checkpoint.ts"
import * as Destination from "./destination.ts"
import * as FileIo from "./fileIo.ts"
import * as HashFollower from "./hashFollower.ts"
import type { Job } from "./job.ts"
import { exactly, own } from "./own.ts"
import type * as PartLock from "./partLock.ts"
import type { Remote } from "./remote.ts"
import type * as ResumePlan from "./resumePlan.ts"
import * as Transfer from "./transfer.ts"

/** Bytes from offset 0 written without a gap: each segment's, as long as the one before is whole. */
const contiguousPrefix = (segments: ReadonlyArray<Transfer.Segment>): number => {
  let end = 0
  for (const segment of segments) {
    if (segment.start > end) break
    end = segment.start + Transfer.doneOf(segment)
    if (segment.end === undefined || end < segment.end) break
  }
  return end
}

/** Fetches, verifies and moves into place the file `plan` describes. */
export const fetchFile = (
  job: Job,
  remote: Remote,
  paths: Destination.Paths,
  handle: FileHandle,
  plan: ResumePlan.Plan,
  lock: PartLock.PartLock
): Effect.Effect<DownloadResult, DownloadError> => {
  const { redactedUrl, checksum, tally } = job
  const { partPath } = paths
  let live: Array<Transfer.Segment> = plan.segments.map((segment) => ({
    start: segment.start,
    // Absent for a stream of unknown length: read by own key, never from a polluted prototype.
    end: own(segment, "end"),
    done: segment.done,
    writer: undefined
  }))

  // The checksum follows the bytes on disk from offset 0, in a worker for large files (hashFollower.ts).
  const makeFollower = () =>
    checksum === undefined
      ? undefined
      : remote.size === undefined || remote.size >= HashFollower.threadedFrom
      ? HashFollower.threaded(partPath, checksum.algorithm, () => contiguousPrefix(live))
      : HashFollower.atEnd(handle, checksum.algorithm)
  let follower: HashFollower.Follower | undefined
  const restartFollower = () => {
    follower?.close()
    follower = makeFollower()
  }

  const meter = Progress.meter({
    url: redactedUrl,
    destination: paths.path,
    total: remote.size,
    startedAt: job.startedAt,
    initialBytes: plan.resumedBytes,
    intervalMillis: job.config.progressInterval
  })
  let bytesNow = plan.resumedBytes
  const context: Transfer.Context = {
    client: job.client,
    url: job.url,
    redactedUrl,
    headers: job.headers,
    handle,
    partPath,
    beforeWrite: lock.beforeWrite,
    writeBatch: job.config.writeBatch,
    restartOnChange: job.restartOnChange,
    maxRestarts: job.config.maxRestarts,
    maxStalls: job.config.maxStalls ?? job.client.config.retry.maxAttempts,
    maxBytes: job.maxBytes,
    backoff: job.client.config.retry,
    // A resumed part's bytes keep the coding they were written with: a 206 of another is not joined to them.
    known: plan.coding === undefined ? remote : { ...remote, coding: plan.coding },
    single: !plan.segmented,
    onBytes: (bytes) => {
      bytesNow += bytes
      if (job.onProgress === undefined) return
      // The size may change with the content (a restart from zero on a new file) or be learned late.
      meter.setTotal(context.known.size)
      const event = meter.update(bytesNow, job.clock.currentTimeMillisUnsafe())
      if (event !== undefined) job.onProgress(event)
    },
    onRestart: () => {
      bytesNow = 0
      restartFollower()
    },
    restarts: plan.restarts,
    continuations: 0,
    transferred: 0
  }
  /** Segments fetched at once: the plan's, or 1 once the download fell back to one stream. */
  const connections = () => context.single ? 1 : plan.connections
  /** Whether the file keeps bytes an earlier run left: a restart from zero in this run dropped them. */
  const keptEarlierBytes = () => plan.resumedBytes > 0 && context.restarts === plan.restarts
  const syncTally = () => {
    tally.resumed = keptEarlierBytes()
    tally.transferred = context.transferred
    tally.restarts = context.restarts
    tally.continuations = context.continuations
    tally.segments = connections()
  }

  const checkpoint = Checkpoint.make(job, paths, handle, lock, {
    segments: () => live,
    known: () => context.known,
    syncTally
  })
  const fetchLive = Effect.suspend(() =>
    // In file order, each connection taking the next segment not yet taken (resumePlan.split).
    Effect.forEach(live, (segment) => Transfer.fetchSegment(context, segment), {
      concurrency: connections(),
      discard: true
    })
  ).pipe(
    // Checkpoints while the bytes come; a last one however the transfer ends (failure, interruption).
    Effect.raceFirst(Effect.forever(Effect.andThen(Effect.sleep(job.config.checkpointInterval), checkpoint))),
    Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.ignore(checkpoint))
  )

  /** A segment's range was refused: everything starts over as one stream, nothing of the segments kept. */
  const fallBackToOneStream = Effect.gen(function*() {
    yield* Effect.annotateCurrentSpan("fallback", "single-stream")
    context.single = true
    context.restarts++
    live = [{ start: 0, end: undefined, done: 0, writer: undefined }]
    yield* FileIo.attempt(redactedUrl, "truncate", partPath, () => handle.truncate(0))
    restartFollower()
    bytesNow = 0
    yield* fetchLive
  })

  /** The digest of the whole file, compared with the expected one; a mismatch removes the part and its sidecar. */
  const verify = (size: number) =>
    Effect.gen(function*() {
      if (checksum === undefined || follower === undefined) return undefined
      const following = follower
      const digest = yield* FileIo.attempt(redactedUrl, "read", partPath, () => following.digest(size))
      if (checksum.expected === undefined || digest === checksum.expected) return digest
      tally.mismatch = checksum.algorithm
      yield* FileIo.removeIfPresent(redactedUrl, partPath)
      yield* FileIo.removeIfPresent(redactedUrl, paths.sidecarPath)
      return yield* Effect.fail(
        new ChecksumMismatchError({
          url: redactedUrl,
          retryable: false,
          destination: paths.path,
          algorithm: checksum.algorithm,
          expected: checksum.expected,
          actual: digest
        })
      )
    })

  return Effect.gen(function*() {
    tally.resumed = plan.resumedBytes > 0
    follower = makeFollower()
    if (plan.segmented && plan.resumedBytes === 0 && remote.size !== undefined) {
      // Preallocate: every segment writes inside the file's final length.
      const size = remote.size
      yield* FileIo.attempt(redactedUrl, "truncate", partPath, () => handle.truncate(size))
    }
    yield* checkpoint
    const first = yield* Effect.exit(fetchLive)
    syncTally()
    if (Exit.isFailure(first)) {
      const error = Exit.findErrorOption(first)
      const rangeRefused = !context.single && error._tag === "Some" && error.value._tag === "RangeNotHonouredError"
      if (!rangeRefused) return yield* Effect.failCause(first.cause)
      yield* fallBackToOneStream
      syncTally()
    }

    // Every segment of known length whole, or nothing moves: a transfer that ended early (a bug, here or below
    // us) must not put a file with a hole of zeros at the destination when no checksum would notice.
    for (const segment of live) {
      if (segment.end === undefined || Transfer.doneOf(segment) === segment.end - segment.start) continue
      return yield* Effect.fail(
        new BodyLengthError({
          url: redactedUrl,
          retryable: false,
          expected: segment.end - segment.start,
          received: Transfer.doneOf(segment)
        })
      )
    }

    // Whole, verified, synced, moved into place.
    // A stream of unknown length ends where its bytes end: those written now, or those an earlier run left (a part
    // already whole, which a 416 naming its length completed without a body).
    const size = live.reduce(
      (end, segment) => Math.max(end, segment.end ?? segment.start + Transfer.doneOf(segment)),
      0
    )
    // A `.part` an earlier run left longer than the file (or a sidecar that lied) keeps nothing past the end.
    yield* FileIo.attempt(redactedUrl, "truncate", partPath, () => handle.truncate(size))
    const digest = yield* verify(size)
    yield* FileIo.attempt(redactedUrl, "sync", partPath, () => handle.sync())
    yield* Destination.moveIntoPlace(job, paths, handle, lock)
    const finishedAt = job.clock.currentTimeMillisUnsafe()
    meter.setTotal(size)
    job.onProgress?.(meter.finish(size, finishedAt))
    const durationMillis = Math.max(0, finishedAt - job.startedAt)
    // Without a prototype: the class's Schema reads an absent `checksum` with `in` (RELIABILITY 10).
    return new DownloadResult(exactly({
      url: redactedUrl,
      path: paths.path,
      bytes: size,
      bytesTransferred: context.transferred,
      ...(checksum === undefined || digest === undefined
        ? {}
        : { checksum: { algorithm: checksum.algorithm, digest } }),
      verified: checksum?.expected !== undefined,
      resumed: keptEarlierBytes(),
      restarts: context.restarts,
      continuations: context.continuations,
      segments: connections(),
      skipped: false,
      durationMillis,
      bytesPerSecond: durationMillis === 0 ? 0 : Math.round((context.transferred * 1000) / durationMillis)
    }))
  }).pipe(Effect.ensuring(Effect.sync(() => follower?.close())))
}

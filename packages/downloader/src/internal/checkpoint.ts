/**
 * A checkpoint of a download in progress: what the segments gathered is
 * written, the `.part` is synced, and only then does the sidecar record how
 * far each segment got, so the sidecar never claims a byte that a crash
 * could lose. Run every `checkpointInterval` while the bytes come, and once
 * more however the transfer ends.
 */
import * as Effect from "effect/Effect"
import type { FileHandle } from "node:fs/promises"
import type { FileSystemError } from "../DownloadError.ts"
import type { Paths } from "./destination.ts"
import * as FileIo from "./fileIo.ts"
import type { Job } from "./job.ts"
import * as Metrics from "./metrics.ts"
import type * as PartLock from "./partLock.ts"
import type { Remote } from "./remote.ts"
import * as Sidecar from "./sidecar.ts"
import * as Transfer from "./transfer.ts"

/** What a checkpoint reads at the moment it runs (the segments and the validators can change over a download). */
export interface Source {
  readonly segments: () => ReadonlyArray<Transfer.Segment>
  readonly known: () => Remote
  /** Copies the transfer's counters into the job's tally. */
  readonly syncTally: () => void
}

/**
 * The checkpoint of a download. Uninterruptible, so that a checkpoint under
 * way when the transfer ends completes before the file is renamed and its
 * sidecar removed (an interrupted one would land its sidecar after that).
 */
export const make = (
  job: Job,
  paths: Paths,
  handle: FileHandle,
  lock: PartLock.PartLock,
  source: Source
): Effect.Effect<void, FileSystemError> =>
  Effect.uninterruptible(Effect.gen(function*() {
    const segments = source.segments()
    // Gathered bytes go to the OS first, so a crash loses at most one interval, not one write batch. A refused
    // write (a full disk) fails the checkpoint, after it records the bytes that were written: the next run
    // resumes from there instead of from zero.
    const flushed = yield* Effect.result(FileIo.attempt(job.redactedUrl, "write", paths.partPath, async () => {
      await Promise.all(segments.map((segment) => segment.writer?.flush()))
    }))
    const known = source.known()
    const snapshot = segments.map((segment) => ({
      start: segment.start,
      ...(segment.end === undefined ? {} : { end: segment.end }),
      done: Transfer.doneOf(segment)
    }))
    source.syncTally()
    yield* FileIo.attempt(job.redactedUrl, "sync", paths.partPath, () => handle.datasync())
    // A lock taken over (this process stalled past its staleness) fails here: no sidecar of ours over the new owner's.
    yield* lock.confirm
    yield* Sidecar.write(job.redactedUrl, paths.sidecarPath, {
      version: 1,
      url: job.redactedUrl,
      ...(known.size === undefined ? {} : { size: known.size }),
      ...(known.etag === undefined ? {} : { etag: known.etag }),
      ...(known.lastModified === undefined ? {} : { lastModified: known.lastModified }),
      // The coding of the bytes written: the next run appends only bytes of the same one.
      contentCoding: known.coding,
      segments: snapshot
    })
    yield* Metrics.reportBytes(job.tally)
    if (flushed._tag === "Failure") return yield* Effect.fail(flushed.failure)
  }))

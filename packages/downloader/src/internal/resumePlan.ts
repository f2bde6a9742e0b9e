/**
 * What a download starts from: the `.part` an earlier run left (when its
 * sidecar names the same file under a joinable validator), or nothing; one
 * stream or segments; and whether the folder has room for the rest.
 */
import * as Effect from "effect/Effect"
import { FileSystemError, InsufficientSpaceError } from "../DownloadError.ts"
import type { Paths } from "./destination.ts"
import * as FileIo from "./fileIo.ts"
import type { Job } from "./job.ts"
import { own } from "./own.ts"
import * as Remote from "./remote.ts"
import * as Sidecar from "./sidecar.ts"

/** Where a download starts. */
export interface Plan {
  readonly segments: ReadonlyArray<Sidecar.Segment>
  /** Bytes already on disk from an earlier run. */
  readonly resumedBytes: number
  /** 1 when an earlier run's part belonged to another version of the file (its bytes are dropped). */
  readonly restarts: number
  readonly segmented: boolean
  /** Segments fetched at once: 1 for a single stream; never more than the segments still to fetch. */
  readonly connections: number
  /**
   * The content coding of the bytes an earlier run left (its sidecar's; `identity` for a sidecar of an earlier
   * version), which every byte appended must share; `undefined` when nothing is resumed.
   */
  readonly coding: string | undefined
}

/** Least bytes per segment, when there are no more segments than connections. */
const minSegmentBytes = 1024 * 1024

/** Segments each connection takes in turn, where the file is large enough for pieces of `minPieceBytes`. */
const piecesPerConnection = 8

/** Least bytes per segment when there are more segments than connections. */
const minPieceBytes = 4 * 1024 * 1024

/**
 * Segments for a file of `size` bytes over `connections`, in file order:
 * `connections` equal parts of at least 1 MiB, or, when the file is large
 * enough, up to 8 per connection of at least 4 MiB. Each connection takes the
 * next segment not yet taken, so the bytes on disk grow from offset 0 roughly
 * in order and the checksum, which follows them from there, keeps up: with
 * one segment per connection, it could hash the second only after the first
 * was whole, and three quarters of a 4-segment file after the transfer.
 */
export const split = (size: number, connections: number): Array<Sidecar.Segment> => {
  const parts = Math.max(
    1,
    Math.min(connections, Math.floor(size / minSegmentBytes)),
    Math.min(connections * piecesPerConnection, Math.floor(size / minPieceBytes))
  )
  const step = Math.ceil(size / parts)
  const segments: Array<Sidecar.Segment> = []
  for (let start = 0; start < size; start += step) segments.push({ start, end: Math.min(size, start + step), done: 0 })
  return segments.length === 0 ? [{ start: 0, end: 0, done: 0 }] : segments
}

/** The segments an earlier run recorded, when its sidecar describes this very file; `restarts` 1 when it does not. */
const earlier = (job: Job, remote: Remote.Remote, paths: Paths, part: FileIo.Entry) =>
  Effect.gen(function*() {
    const none = { segments: undefined, restarts: 0, coding: undefined }
    if (!job.resume || part.kind !== "file") return none
    const state = yield* Sidecar.read(job.redactedUrl, paths.sidecarPath)
    if (state === undefined || state.url !== job.redactedUrl) return none
    const same = state.size === remote.size && Remote.joinable(remote) &&
      (remote.etag === undefined ? state.lastModified === remote.lastModified : state.etag === remote.etag)
    if (!same) {
      return { ...none, restarts: state.segments.some((segment) => segment.done > 0) ? 1 : 0 }
    }
    // Never trust more than the file holds (the sidecar is written after the bytes it counts are synced).
    const segments = state.segments.map((segment) => ({
      ...segment,
      done: Math.max(0, Math.min(segment.done, part.size - segment.start))
    }))
    // The bytes are appended to only by answers of the coding they were written with (transfer.ts).
    return { segments, restarts: 0, coding: Remote.codingOf(own(state, "contentCoding")) }
  })

/**
 * The plan for a download of `remote` into `paths`; fails with
 * `InsufficientSpaceError` when the folder's file system has less room than
 * the bytes still to come.
 */
export const make = (
  job: Job,
  remote: Remote.Remote,
  paths: Paths,
  part: FileIo.Entry
): Effect.Effect<Plan, FileSystemError | InsufficientSpaceError> =>
  Effect.gen(function*() {
    const found = yield* earlier(job, remote, paths, part)
    const resumedBytes = found.segments?.reduce((sum, segment) => sum + segment.done, 0) ?? 0
    const count = job.segments ??
      (remote.size !== undefined && remote.size >= job.config.segmentThreshold ? job.config.segments : 1)
    const segmented = found.segments !== undefined
      ? found.segments.length > 1
      : count > 1 && remote.size !== undefined && remote.acceptsRanges && Remote.joinable(remote) &&
        !Remote.isEncoded(remote)
    const segments = found.segments ??
      (segmented && remote.size !== undefined
        ? split(remote.size, count)
        : [{ start: 0, ...(remote.size === undefined ? {} : { end: remote.size }), done: 0 }])

    if (remote.size !== undefined) {
      const needed = Math.max(0, remote.size - resumedBytes)
      const available = yield* FileIo.availableBytes(job.redactedUrl, paths.folder)
      if (needed > available) {
        return yield* Effect.fail(
          new InsufficientSpaceError({ url: job.redactedUrl, retryable: false, path: paths.folder, needed, available })
        )
      }
    }
    // A segmented part resumed is fetched over the connections asked for, or the configured number for segments;
    // never more than the segments still to fetch.
    const asked = found.segments !== undefined ? job.segments ?? job.config.segments : count
    const unfinished = segments.filter((segment) =>
      segment.end === undefined || segment.done < segment.end - segment.start
    ).length
    const connections = segmented ? Math.max(1, Math.min(asked, unfinished)) : 1
    return { segments, resumedBytes, restarts: found.restarts, segmented, connections, coding: found.coding }
  })

/**
 * `maxBytes`: the largest file a download takes, counted in bytes on disk
 * (as sent). An announced size above it (the precheck's, a `200`'s
 * `Content-Length`, a `206`'s total) fails before any byte of that answer is
 * written; a body of unknown length is cut where it would pass the limit
 * (`transfer.ts` counts every chunk before handing it to the writer, so the
 * `.part` never holds more than `maxBytes` bytes). A refused file is not
 * resumable: what this download wrote (the `.part`, its sidecar) is removed.
 */
import * as Effect from "effect/Effect"
import { type FileSystemError, FileTooLargeError } from "../DownloadError.ts"
import type { Paths } from "./destination.ts"
import * as FileIo from "./fileIo.ts"

/** Fails when `size`, an announced length, is above `limit`. */
export const checkAnnounced = (
  redactedUrl: string,
  limit: number | undefined,
  size: number | undefined
): Effect.Effect<void, FileTooLargeError> =>
  limit === undefined || size === undefined || size <= limit
    ? Effect.void
    : Effect.fail(new FileTooLargeError({ url: redactedUrl, retryable: false, limit, announced: size }))

/** The error for a body of unknown length whose next chunk would end at `received`, past `limit`. */
export const passed = (redactedUrl: string, limit: number, received: number): FileTooLargeError =>
  new FileTooLargeError({ url: redactedUrl, retryable: false, limit, received })

/**
 * Removes the `.part` and its sidecar when `effect` fails with
 * `FileTooLargeError` (run under the `.part`'s lock, after the file is
 * closed): the bytes of a refused file would only hold the disk, and a
 * new run with the same limit would refuse them again.
 */
export const removeRefused = <A, E extends { readonly _tag: string }>(
  redactedUrl: string,
  paths: Paths,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E | FileSystemError> =>
  Effect.tapError(effect, (error) =>
    error._tag !== "FileTooLargeError" ? Effect.void : Effect.gen(function*() {
      yield* FileIo.removeIfPresent(redactedUrl, paths.partPath)
      yield* FileIo.removeIfPresent(redactedUrl, paths.sidecarPath)
      yield* FileIo.removeIfPresent(redactedUrl, FileIo.temporaryFor(paths.sidecarPath))
    }))

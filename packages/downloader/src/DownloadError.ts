/**
 * The downloader's own typed errors. A download fails with one of these or
 * with one of the client's (`ClientError`, passed through unchanged: a 404 is
 * still a `NotFoundError`, a dropped connection that kept failing is still a
 * `ConnectionError`).
 *
 * Each error is a flat tagged class, as the client's are, handled with
 * `Effect.catchTag`; each says whether trying again later could succeed
 * (`retryable`). URLs are redacted (credentials and token-like query
 * parameters) when the error is made; no header value is ever kept.
 *
 * @since 0.1.0
 */
import * as ClientErrors from "@httpkit/client/ClientError"
import * as Own from "@httpkit/core/Own"
import * as Schema from "effect/Schema"
import { DownloadConfigError } from "./DownloadConfig.ts"

const common = {
  /** The URL, with credentials and token-like query parameters redacted. */
  url: Schema.String,
  /** Whether another attempt could succeed. */
  retryable: Schema.Boolean
}

/**
 * The digest of the downloaded bytes is not the expected one. Nothing was
 * left at the destination and the bad `.part` was removed.
 *
 * @category errors
 * @since 0.1.0
 */
export class ChecksumMismatchError extends Own.fields(
  Schema.TaggedError<ChecksumMismatchError>()("ChecksumMismatchError", {
    ...common,
    destination: Schema.String,
    algorithm: Schema.String,
    /** The expected digest, lower-case hex. */
    expected: Schema.String,
    /** The digest of what arrived, lower-case hex. */
    actual: Schema.String
  })
) {
  override get message(): string {
    return `checksum mismatch for ${this.url}: ${this.algorithm} expected ${this.expected}, got ${this.actual}`
  }
}

/**
 * The folder's file system has less free space than the download needs
 * (the announced size, less what a `.part` already holds).
 *
 * @category errors
 * @since 0.1.0
 */
export class InsufficientSpaceError extends Own.fields(
  Schema.TaggedError<InsufficientSpaceError>()("InsufficientSpaceError", {
    ...common,
    /** The folder that was checked. */
    path: Schema.String,
    /** Bytes still to write. */
    needed: Schema.Number,
    /** Bytes available to this process. */
    available: Schema.Number
  })
) {
  override get message(): string {
    return `not enough space in ${this.path} for ${this.url}: ${this.needed} bytes needed, ${this.available} available`
  }
}

/**
 * The destination exists and `ifExists` is `"fail"` (the default), or is
 * `"skip-if-match"` without an expected checksum to compare it with.
 *
 * @category errors
 * @since 0.1.0
 */
export class DestinationExistsError extends Own.fields(
  Schema.TaggedError<DestinationExistsError>()("DestinationExistsError", {
    ...common,
    destination: Schema.String
  })
) {
  override get message(): string {
    return `the destination exists: ${this.destination} (set ifExists to "overwrite" or "skip-if-match")`
  }
}

/**
 * A file name from the network (`Content-Disposition` or the URL) or given
 * as the destination could not be made safe, or the path it resolves to is a
 * symbolic link (refused unless `allowSymlinks`) or leaves the folder.
 *
 * @category errors
 * @since 0.1.0
 */
export class UnsafeFileNameError extends Own.fields(
  Schema.TaggedError<UnsafeFileNameError>()("UnsafeFileNameError", {
    ...common,
    /** The name, JSON-quoted so that control characters show. */
    name: Schema.String,
    reason: Schema.String
  })
) {
  override get message(): string {
    return `unsafe file name ${this.name} for ${this.url}: ${this.reason}`
  }
}

/**
 * The file changed on the server during a download (another `ETag`,
 * `Last-Modified` or length, or a 200 to a resumed range request) and
 * restarting from zero is not allowed (`restartOnChange: false`), or the
 * restart limit was reached.
 *
 * @category errors
 * @since 0.1.0
 */
export class ContentChangedError extends Own.fields(
  Schema.TaggedError<ContentChangedError>()("ContentChangedError", {
    ...common,
    /** What showed the change. */
    reason: Schema.String
  })
) {
  override get message(): string {
    return `the content changed on the server for ${this.url}: ${this.reason}`
  }
}

/**
 * A range request was answered with another range than the one asked for
 * (`Content-Range` does not start at the requested offset, runs past its
 * end or announces another total), or a segment's server ignores ranges.
 * Nothing was written at the wrong offset.
 *
 * @category errors
 * @since 0.1.0
 */
export class RangeNotHonouredError extends Own.fields(
  Schema.TaggedError<RangeNotHonouredError>()("RangeNotHonouredError", {
    ...common,
    /** The `Range` asked for. */
    requested: Schema.String,
    /** The `Content-Range` received, or the status when there was none. */
    received: Schema.String
  })
) {
  override get message(): string {
    return `range not honoured for ${this.url}: asked ${this.requested}, got ${this.received}`
  }
}

/**
 * A body carried more bytes than its `Content-Length` (or its range)
 * announced, or ended cleanly before it: nothing past the announced length
 * is kept, and a short body is never taken for a complete one.
 *
 * @category errors
 * @since 0.1.0
 */
export class BodyLengthError extends Own.fields(
  Schema.TaggedError<BodyLengthError>()("BodyLengthError", {
    ...common,
    /** The announced length, in bytes. */
    expected: Schema.Number,
    /** The bytes that came (for a longer body: at least this many). */
    received: Schema.Number
  })
) {
  override get message(): string {
    const what = this.received > this.expected ? "longer" : "shorter"
    return `the body of ${this.url} is ${what} than the ${this.expected} bytes announced (${this.received} received)`
  }
}

/**
 * The file is larger than `maxBytes`: its announced size (`Content-Length`,
 * a `Content-Range` total, the `HEAD`'s) is above the limit, and the download
 * failed before writing any byte of it; or a body of unknown length would
 * have passed the limit, and the download failed before writing the bytes
 * past it. A refused file is not resumable: the `.part` and its sidecar that
 * this download wrote are removed (a refusal on the precheck's announced size
 * opens nothing, and leaves an earlier run's `.part` as it was).
 *
 * @category errors
 * @since 0.1.0
 */
export class FileTooLargeError extends Own.fields(
  Schema.TaggedError<FileTooLargeError>()("FileTooLargeError", {
    ...common,
    /** The limit (`maxBytes`), in bytes. */
    limit: Schema.Number,
    /** The size the server announced, when it announced one above the limit. */
    announced: Schema.optionalKey(Schema.Number),
    /** For a body of unknown length: the bytes that had come, the one that would pass the limit included (at least `limit + 1`). */
    received: Schema.optionalKey(Schema.Number)
  })
) {
  override get message(): string {
    const announced = Own.own(this, "announced")
    const what = announced !== undefined
      ? `${announced} bytes announced`
      : `more than the limit received (at least ${Own.own(this, "received") ?? this.limit + 1} bytes)`
    return `the file at ${this.url} is larger than maxBytes (${this.limit} bytes): ${what}`
  }
}

/**
 * The download's own deadline (`timeout`) passed: the precheck, the requests,
 * retries, continuations, restarts and segments together took longer. The
 * download was interrupted as a cancellation is: its sockets closed, its
 * `.part` kept with a last checkpoint in its sidecar, so a new run resumes it
 * (hence `retryable`).
 *
 * @category errors
 * @since 0.1.0
 */
export class DownloadTimeoutError extends Own.fields(
  Schema.TaggedError<DownloadTimeoutError>()("DownloadTimeoutError", {
    ...common,
    /** The deadline that passed (`timeout`), in milliseconds. */
    timeoutMillis: Schema.Number,
    /**
     * What the download was doing: `precheck` (the `HEAD` and its probe), `prepare` (the destination, the lock, the
     * `.part`) or `transfer` (the requests, bodies, retries and continuations, to the checksum and the move).
     */
    phase: Schema.String
  })
) {
  override get message(): string {
    return `download timeout after ${this.timeoutMillis} ms (during ${this.phase}) for ${this.url}`
  }
}

/**
 * A file system operation failed: a missing folder, no permission, a
 * read-only file system, a full disk. `code` is the operating system's
 * (`ENOENT`, `EACCES`, `EROFS`, `ENOSPC`...), or `EBUSY` for a `.part`
 * another download is writing, `EFTYPE` for a FIFO, socket or device
 * where a file should be, or `EMLINK` for a helper file with another name
 * (a hard link) that writing would change.
 *
 * @category errors
 * @since 0.1.0
 */
export class FileSystemError extends Own.fields(
  Schema.TaggedError<FileSystemError>()("FileSystemError", {
    ...common,
    /** What was being done: `open`, `write`, `sync`, `rename`, `stat`, `remove`... (`folder`: the destination's folder is missing) */
    operation: Schema.String,
    path: Schema.String,
    /** The operating system's error code, or `UNKNOWN`. */
    code: Schema.String
  })
) {
  override get message(): string {
    if (this.operation === "folder" && this.code === "ENOENT") {
      return `the folder ${this.path} does not exist (createFolders: true creates it) for ${this.url}`
    }
    return `${this.operation} ${this.path} failed (${this.code}) while downloading ${this.url}`
  }
}

/**
 * The queue's store failed (Redis refused, lost the connection or did not
 * answer in time). Nothing was lost: what was not stored can be offered
 * again.
 *
 * @category errors
 * @since 0.1.0
 */
export class QueueUnavailableError extends Own.fields(
  Schema.TaggedError<QueueUnavailableError>()("QueueUnavailableError", {
    /** `memory` or `redis`. */
    backend: Schema.String,
    /** What the queue was doing: `offer`, `take`, `stats`, `lock`... */
    operation: Schema.String,
    /** What went wrong (never a password). */
    detail: Schema.String,
    retryable: Schema.Boolean
  })
) {
  override get message(): string {
    return `the download queue's ${this.backend} store failed to ${this.operation}: ${this.detail}`
  }
}

/**
 * The queue is shutting down or shut down: it takes no new task.
 *
 * @category errors
 * @since 0.1.0
 */
export class QueueShutdownError extends Own.fields(
  Schema.TaggedError<QueueShutdownError>()("QueueShutdownError", {
    /** The id of the task that was refused. */
    id: Schema.String
  })
) {
  override get message(): string {
    return `the download queue is shut down: task ${JSON.stringify(this.id)} was not queued`
  }
}

/**
 * A task's attempt ended without a download outcome: its worker died or
 * stalled past its lease (Redis), lost the task's lock, or its `onSuccess`
 * failed.
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskAbandonedError extends Own.fields(
  Schema.TaggedError<TaskAbandonedError>()("TaskAbandonedError", {
    id: Schema.String,
    reason: Schema.String,
    retryable: Schema.Boolean
  })
) {
  override get message(): string {
    return `task ${JSON.stringify(this.id)} was abandoned: ${this.reason}`
  }
}

/**
 * The downloader's own errors.
 *
 * @category errors
 * @since 0.1.0
 */
export type DownloaderError =
  | ChecksumMismatchError
  | InsufficientSpaceError
  | DestinationExistsError
  | UnsafeFileNameError
  | ContentChangedError
  | RangeNotHonouredError
  | BodyLengthError
  | FileTooLargeError
  | DownloadTimeoutError
  | FileSystemError

/**
 * Everything a download can fail with: the downloader's errors and the
 * client's, unchanged.
 *
 * @category errors
 * @since 0.1.0
 */
export type DownloadError = DownloaderError | ClientErrors.ClientError

/**
 * What a `DownloadQueue` itself fails with (its tasks fail with `DownloadError`).
 *
 * @category errors
 * @since 0.1.0
 */
export type QueueError = QueueUnavailableError | QueueShutdownError | TaskAbandonedError

/**
 * Every error a download can fail with, its options' `DownloadConfigError`
 * included, as one `Schema`: batch results carry their failures as data.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DownloadErrorSchema = Schema.Union([
  ChecksumMismatchError,
  InsufficientSpaceError,
  DestinationExistsError,
  UnsafeFileNameError,
  ContentChangedError,
  RangeNotHonouredError,
  BodyLengthError,
  FileTooLargeError,
  DownloadTimeoutError,
  FileSystemError,
  DownloadConfigError,
  ClientErrors.ConnectionError,
  ClientErrors.TimeoutError,
  ClientErrors.AuthenticationError,
  ClientErrors.NotFoundError,
  ClientErrors.InvalidRequestError,
  ClientErrors.ServerTimeoutError,
  ClientErrors.RateLimitedError,
  ClientErrors.ServiceUnavailableError,
  ClientErrors.ServerError,
  ClientErrors.ClientStatusError,
  ClientErrors.BulkheadFullError,
  ClientErrors.CircuitOpenError,
  ClientErrors.DecodeError,
  ClientErrors.ResponseTooLargeError,
  ClientErrors.RedirectError,
  ClientErrors.BodyNotReplayableError,
  ClientErrors.RateLimitExceededError,
  ClientErrors.RateLimiterUnavailableError
])

/**
 * The tasks of a `DownloadQueue`: what the queue stores (a download with a
 * stable id), and what it keeps of a task that kept failing (a dead letter
 * with its typed error). Both are Schema data: they cross processes through
 * Redis.
 *
 * @since 0.1.0
 */
import * as Redact from "@httpkit/core/Redact"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type * as Batch from "./Batch.ts"
import * as Checksum from "./Checksum.ts"
import { DownloadErrorSchema, QueueUnavailableError, TaskAbandonedError } from "./DownloadError.ts"
import { ownData } from "./internal/own.ts"

/** The fields of a task, read by Effect's Schema (which reads an absent optional field with `in`). */
const Fields = Schema.Struct({
  id: Schema.String,
  url: Schema.String,
  /** A file path, or a folder (existing, or ending in `/`) where the name comes from the server or the URL. */
  destination: Schema.String,
  /** `"sha256:<hex>"`, or `{ algorithm }` to compute a digest without verifying it. */
  checksum: Schema.optionalKey(
    Schema.Union([
      Schema.String,
      Schema.Struct({ algorithm: Checksum.Algorithm, expected: Schema.optionalKey(Schema.String) })
    ])
  )
})

/** Any object, passed on as it is: `Fields` then reads the copy `ownData` makes of it, never the object itself. */
const anObject = <A>(expected: string) =>
  Schema.declare((input: unknown): input is A => typeof input === "object" && input !== null, { expected })

/** A copy by own keys onto objects without a prototype, both ways. */
const ownCopy = <A, B>() =>
  SchemaTransformation.transform<A, B>({
    decode: (input) => ownData(input) as unknown as A,
    encode: (input) => ownData(input) as unknown as B
  })

/**
 * A task as the queue stores it: a `Batch.DownloadTask` with a required,
 * stable `id` (the key of de-duplication and of the task's lock).
 *
 * **Details**
 *
 * Read and written by own keys only (RELIABILITY 10): Effect's Schema reads
 * an absent optional field (`checksum`, `expected`) with `in`, so a task
 * read back from Redis under a polluted `Object.prototype` would take the
 * polluted value, and one written would carry it. This schema copies what it
 * is given onto objects without a prototype before the fields are read, both
 * ways, and decodes to such objects.
 *
 * @category models
 * @since 0.1.0
 */
export const QueueTask = anObject<typeof Fields.Encoded>("a queue task").pipe(
  Schema.decodeTo(Fields, ownCopy<typeof Fields.Encoded, typeof Fields.Encoded>()),
  Schema.decodeTo(anObject<typeof Fields.Type>("a queue task"), ownCopy<typeof Fields.Type, typeof Fields.Type>())
)

/**
 * @category models
 * @since 0.1.0
 */
export type QueueTask = typeof QueueTask.Type

/**
 * What `offer` takes: a `Batch.DownloadTask` whose `id` is required.
 *
 * @category models
 * @since 0.1.0
 */
export type TaskInput = Batch.DownloadTask & { readonly id: string }

/**
 * How a shutdown treats work in flight: `"drain"` finishes it (and what is
 * queued), `"park"` interrupts it and leaves it for later.
 *
 * @category models
 * @since 0.1.0
 */
export const ShutdownMode = Schema.Literals(["drain", "park"])

/**
 * @category models
 * @since 0.1.0
 */
export type ShutdownMode = typeof ShutdownMode.Type

/**
 * Every error a dead letter can hold, as one `Schema`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DeadLetterError = Schema.Union([DownloadErrorSchema, TaskAbandonedError, QueueUnavailableError])

/**
 * @category models
 * @since 0.1.0
 */
export type DeadLetterError = typeof DeadLetterError.Type

/**
 * A task that kept failing (or failed in a way retrying cannot fix), with
 * its last typed error.
 *
 * @category models
 * @since 0.1.0
 */
export class DeadLetter extends Schema.Class<DeadLetter>("@httpkit/downloader/DeadLetter")({
  task: QueueTask,
  /** Attempts made, the last included. */
  attempts: Schema.Number,
  error: DeadLetterError,
  /** When it was given up, in milliseconds since the epoch. */
  failedAt: Schema.Number
}) {
  /** For printing and logs: the task's URL redacted. */
  toJSON(): unknown {
    return {
      task: { ...this.task, url: Redact.url(this.task.url) },
      attempts: this.attempts,
      error: this.error,
      failedAt: this.failedAt
    }
  }
  /** For `util.inspect`, `console.log` and Effect's console loggers: the task's URL redacted. */
  [Symbol.for("nodejs.util.inspect.custom")](): unknown {
    return this.toJSON()
  }
  override toString(): string {
    return `DeadLetter(${this.task.id}, ${this.error._tag} after ${this.attempts} attempts)`
  }
}

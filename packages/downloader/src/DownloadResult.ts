/**
 * What a finished download reports.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Checksum from "./Checksum.ts"

/**
 * A finished download.
 *
 * @category models
 * @since 0.1.0
 */
export class DownloadResult extends Schema.Class<DownloadResult>("@httpkit/downloader/DownloadResult")({
  /** The URL, redacted. */
  url: Schema.String,
  /** The absolute path of the file. */
  path: Schema.String,
  /** The file's length in bytes. */
  bytes: Schema.Number,
  /** Bytes received over the network in this run (less than `bytes` after a resume; 0 when skipped). */
  bytesTransferred: Schema.Number,
  /** The digest computed over the whole file, when a checksum was asked for. */
  checksum: Schema.optionalKey(Schema.Struct({ algorithm: Checksum.Algorithm, digest: Schema.String })),
  /** Whether the digest was compared with an expected one (and matched). Without one, the file is not verified. */
  verified: Schema.Boolean,
  /** Whether the run continued bytes already on disk from an earlier run. */
  resumed: Schema.Boolean,
  /** Times the download started over from zero because the file changed or a range was refused. */
  restarts: Schema.Number,
  /** Times a broken body was continued from its last byte. */
  continuations: Schema.Number,
  /** Connections that fetched parts of the file (1 for a single stream). */
  segments: Schema.Number,
  /** The destination existed with the expected checksum, so nothing was downloaded. */
  skipped: Schema.Boolean,
  durationMillis: Schema.Number,
  /** `bytesTransferred` per second of `durationMillis`. */
  bytesPerSecond: Schema.Number
}) {}

/**
 * @httpkit/downloader: resumable, verified, atomic downloads over `ResilientClient`.
 *
 * @since 0.1.0
 */

/**
 * Checksum algorithms, expected digests and incremental hashing.
 *
 * @since 0.1.0
 */
export * as Checksum from "./Checksum.ts"

/**
 * The downloader's configuration: options in code and `HTTPKIT_DOWNLOAD_*` variables.
 *
 * @since 0.1.0
 */
export * as DownloadConfig from "./DownloadConfig.ts"

/**
 * The `Downloader` service and its layers.
 *
 * @since 0.1.0
 */
export * as Downloader from "./Downloader.ts"

/**
 * The downloader's typed errors.
 *
 * @since 0.1.0
 */
export * as DownloadError from "./DownloadError.ts"

/**
 * What a finished download reports.
 *
 * @since 0.1.0
 */
export * as DownloadResult from "./DownloadResult.ts"

/**
 * Safe file names from `Content-Disposition` and URLs.
 *
 * @since 0.1.0
 */
export * as FileName from "./FileName.ts"

/**
 * Progress events, their meter and formatting.
 *
 * @since 0.1.0
 */
export * as Progress from "./Progress.ts"

/**
 * The downloader's metrics: files, bytes, resumes, restarts, segments, checksum failures, durations.
 *
 * @since 0.1.0
 */
export * as DownloadMetrics from "./DownloadMetrics.ts"

/**
 * Many downloads at once: `downloadAll`, `retryFailed`, their results.
 *
 * @since 0.1.0
 */
export * as Batch from "./Batch.ts"

/**
 * A bounded queue of downloads with workers, in memory or shared through Redis.
 *
 * @since 0.1.0
 */
export * as DownloadQueue from "./DownloadQueue.ts"

/**
 * Where a `DownloadQueue` keeps its tasks: the store contract, in memory and on Redis.
 *
 * @since 0.1.0
 */
export * as DownloadQueueStore from "./DownloadQueueStore.ts"

/**
 * The tasks of a `DownloadQueue` and its dead letters, as Schema data.
 *
 * @since 0.1.0
 */
export * as QueueTask from "./QueueTask.ts"

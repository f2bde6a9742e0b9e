/**
 * One download's settings, resolved once from the per-call options over the
 * downloader's configuration and read by own keys only: what every stage of
 * a download (destination, resume plan, transfer, finish) reads, as one
 * object instead of variables shared by closures.
 */
import type * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as Redact from "@httpkit/core/Redact"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Checksum from "../Checksum.ts"
import * as DownloadConfig from "../DownloadConfig.ts"
import type { DownloadOptions } from "../Downloader.ts"
import type * as Progress from "../Progress.ts"
import * as CallOptions from "./callOptions.ts"
import type * as Metrics from "./metrics.ts"
import { own } from "./own.ts"

const sizeOf = (value: number | string | undefined): number | undefined =>
  value === undefined ? undefined : DownloadConfig.bytesOf(value)

/** One download's settings. */
export interface Job {
  readonly url: string
  /** The URL with credentials and token-like parameters redacted: for errors, results, the sidecar. */
  readonly redactedUrl: string
  readonly config: DownloadConfig.Resolved
  readonly client: ResilientClient.Service
  readonly checksum: Checksum.Spec | undefined
  /** Connections asked for by this call; `undefined`: by size. */
  readonly segments: number | undefined
  readonly ifExists: DownloadConfig.IfExists
  readonly resume: boolean
  readonly allowSymlinks: boolean
  readonly createFolders: boolean
  readonly restartOnChange: boolean
  /** The largest file taken, in bytes; `undefined`: no limit. */
  readonly maxBytes: number | undefined
  /** The download's deadline, in milliseconds; `undefined`: none. */
  readonly timeout: number | undefined
  /** Extra request headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly onProgress: ((progress: Progress.Progress) => void) | undefined
  readonly clock: Clock.Clock
  /** When the download started (the clock's milliseconds). */
  readonly startedAt: number
  /** What the download counts for its metrics. */
  readonly tally: Metrics.Tally
}

/**
 * Resolves a download's options; any bad one (`internal/callOptions.ts`: a checksum, a segment count, an
 * `ifExists` or a flag the layer would refuse too) fails with `DownloadConfigError`, before any request.
 */
export const make = (
  config: DownloadConfig.Resolved,
  client: ResilientClient.Service,
  url: string,
  options: DownloadOptions,
  tally: Metrics.Tally
): Effect.Effect<Job, DownloadConfig.DownloadConfigError> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const problems = CallOptions.problems(options)
    if (problems.length > 0) return yield* Effect.fail(CallOptions.error("download options", problems))
    const checksumInput = own(options, "checksum")
    const checksum = checksumInput === undefined ? undefined : Checksum.resolve(checksumInput)
    if (typeof checksum === "string") {
      // Not reached: checked above, on the same copy of the options (narrows the type).
      const problem = { setting: "checksum", received: ConfigProblem.show(checksumInput), expected: checksum }
      return yield* Effect.fail(CallOptions.error("download options", [problem]))
    }
    const segments = own(options, "segments")
    const headers: Record<string, string> = Object.create(null)
    const given = own(options, "headers")
    if (given !== undefined) { for (const name of Object.keys(given)) headers[name.toLowerCase()] = given[name]! }
    return {
      url,
      redactedUrl: Redact.url(url),
      config,
      client,
      checksum,
      segments,
      ifExists: own(options, "ifExists") ?? config.ifExists,
      resume: own(options, "resume") ?? config.resume,
      allowSymlinks: own(options, "allowSymlinks") ?? config.allowSymlinks,
      createFolders: own(options, "createFolders") ?? config.createFolders,
      restartOnChange: own(options, "restartOnChange") ?? config.restartOnChange,
      // Checked above with the layer's schema: a size string or bytes, a duration string or milliseconds.
      maxBytes: sizeOf(own(options, "maxBytes")) ?? config.maxBytes,
      timeout: DurationInput.toMillis(own(options, "timeout")) ?? config.timeout,
      headers,
      onProgress: own(options, "onProgress"),
      clock,
      startedAt: clock.currentTimeMillisUnsafe(),
      tally
    }
  })

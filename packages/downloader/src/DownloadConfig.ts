/**
 * The configuration of a `Downloader`, described with `Schema` so the same
 * fields load from code (`Downloader.layer(options)`) and from the
 * environment (`Downloader.layerConfig()`, variables under
 * `HTTPKIT_DOWNLOAD_`: `HTTPKIT_DOWNLOAD_SEGMENTS`,
 * `HTTPKIT_DOWNLOAD_SEGMENT_THRESHOLD`, `HTTPKIT_DOWNLOAD_IF_EXISTS`,
 * `HTTPKIT_DOWNLOAD_MAX_BYTES`, `HTTPKIT_DOWNLOAD_TIMEOUT`, ...).
 *
 * Invalid configuration fails when the layer is built, with a
 * `DownloadConfigError` whose message names each setting at fault as the user
 * wrote it (`HTTPKIT_DOWNLOAD_SEGMENTS`, or `segments` in code), the value
 * received and what is expected. A variable under `HTTPKIT_DOWNLOAD_` that
 * the downloader does not read is reported as a warning with the closest
 * known name (`@httpkit/core/Settings`).
 * Sizes are bytes (a number) or a string with a unit (`"64 MiB"`, `"1.5GB"`);
 * durations are milliseconds or a duration as people write it (`250ms`,
 * `20s`, `1.5 min`, `"250 millis"`; `@httpkit/core/DurationInput`).
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import { accepted as DurationInputAccepted, DurationInput } from "@httpkit/core/DurationInput"
import * as Own from "@httpkit/core/Own"
import * as Settings from "@httpkit/core/Settings"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ownData } from "./internal/own.ts"

const PositiveInt = Schema.Int.annotate({ expected: "an integer" }).check(
  Schema.isGreaterThanOrEqualTo(1, { expected: "an integer of at least 1" })
)
const sizePattern = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$/i
const sizeExpected = "a size in bytes, or with a unit such as 64 MiB or 1.5GB (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)"
const ByteSize = Schema.Union([
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { expected: sizeExpected })),
  Schema.String.check(Schema.isPattern(sizePattern, { expected: sizeExpected }))
]).annotate({ expected: sizeExpected })

const maxBytesExpected = `${sizeExpected}, from 1 byte to 8 PiB`
/** A size limit: at least 1 byte (never `0` for "none", as curl reads it: absent is no limit), at most 8 PiB. */
const MaxBytes = ByteSize.check(
  Schema.makeFilter((value: number | string) => {
    const bytes = bytesOf(value)
    return Number.isSafeInteger(bytes) && bytes >= 1
  }, { expected: maxBytesExpected })
)

/** A deadline: a duration above zero. */
const Deadline = DurationInput.check(
  Schema.makeFilter((millis: number) => millis > 0 && Number.isFinite(millis), {
    expected: `${DurationInputAccepted}, above 0`
  })
)

/**
 * What to do when the destination already exists: fail (the default),
 * replace it, or keep it when its checksum matches the expected one (and
 * download it again when it does not).
 *
 * @category models
 * @since 0.1.0
 */
export const IfExists = Schema.Literals(["fail", "overwrite", "skip-if-match"])

/**
 * @category models
 * @since 0.1.0
 */
export type IfExists = typeof IfExists.Type

/**
 * Every configurable field; all optional, defaults in `defaults`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Options = Schema.Struct({
  /** Connections per file for a segmented download (files at or above `segmentThreshold` whose server takes ranges). */
  segments: Schema.optionalKey(
    PositiveInt.check(Schema.isLessThanOrEqualTo(64, { expected: "an integer from 1 to 64" }))
  ),
  /** Files this large or larger are fetched in `segments` parts; smaller ones in one stream. */
  segmentThreshold: Schema.optionalKey(ByteSize),
  /** Continue a `.part` left by an earlier run. */
  resume: Schema.optionalKey(Schema.Boolean),
  ifExists: Schema.optionalKey(IfExists),
  /** When the file changes on the server mid-download, start over (else fail with `ContentChangedError`). */
  restartOnChange: Schema.optionalKey(Schema.Boolean),
  /** Restarts from zero allowed per download. */
  maxRestarts: Schema.optionalKey(
    Schema.Int.annotate({ expected: "an integer" }).check(
      Schema.isGreaterThanOrEqualTo(0, { expected: "an integer of at least 0" })
    )
  ),
  /** Consecutive broken bodies without progress (under 64 KiB each) before the download fails; default: the client's `retry.maxAttempts`. */
  maxStalls: Schema.optionalKey(PositiveInt),
  /** Least time between two progress events. */
  progressInterval: Schema.optionalKey(DurationInput),
  /** How often the bytes on disk are synced and recorded in the sidecar, so a crash loses at most this much. */
  checkpointInterval: Schema.optionalKey(DurationInput),
  /** Bytes that may wait behind the write in flight before the body's reader waits for the disk (the most one write gathers). */
  writeBatch: Schema.optionalKey(ByteSize),
  /** Allow the destination to be a symbolic link (the `.part` never may). */
  allowSymlinks: Schema.optionalKey(Schema.Boolean),
  /** Create the destination's folder when it is missing. */
  createFolders: Schema.optionalKey(Schema.Boolean),
  /** Report `DownloadMetrics` (Effect `Metric`s). */
  metrics: Schema.optionalKey(Schema.Boolean),
  /**
   * The largest file taken, in bytes on disk (as sent: a gzip body counts compressed); absent: no limit. A larger
   * announced size fails before any byte is written, a body of unknown length as soon as it would pass it
   * (`FileTooLargeError`).
   */
  maxBytes: Schema.optionalKey(MaxBytes),
  /**
   * The most one download may take, start to end: the precheck, every request, retries, continuations, restarts and
   * segments; absent: none (the client's `timeout.idle` still bounds a stalled body). When it passes, the download is
   * interrupted as a cancellation is (its `.part` kept and checkpointed) and fails with `DownloadTimeoutError`.
   */
  timeout: Schema.optionalKey(Deadline)
})

/**
 * The options as written in code or configuration.
 *
 * @category models
 * @since 0.1.0
 */
export type Options = typeof Options.Encoded

/**
 * Options with every default filled in; sizes in bytes, durations in milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolved {
  readonly segments: number
  readonly segmentThreshold: number
  readonly resume: boolean
  readonly ifExists: IfExists
  readonly restartOnChange: boolean
  readonly maxRestarts: number
  readonly maxStalls: number | undefined
  readonly progressInterval: number
  readonly checkpointInterval: number
  readonly writeBatch: number
  readonly allowSymlinks: boolean
  readonly createFolders: boolean
  readonly metrics: boolean
  /** Bytes; `undefined`: no limit. */
  readonly maxBytes: number | undefined
  /** Milliseconds; `undefined`: no deadline. */
  readonly timeout: number | undefined
}

/**
 * The defaults.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults: Resolved = {
  segments: 4,
  segmentThreshold: 64 * 1024 * 1024,
  resume: true,
  ifExists: "fail",
  restartOnChange: true,
  maxRestarts: 3,
  maxStalls: undefined,
  progressInterval: 100,
  checkpointInterval: 1000,
  writeBatch: 1024 * 1024,
  allowSymlinks: false,
  createFolders: false,
  metrics: true,
  maxBytes: undefined,
  timeout: undefined
}

/**
 * Invalid downloader configuration or options. For the downloader's settings
 * (`resolve`, `fromConfig`), `problems` names each setting at fault as the
 * user wrote it (`HTTPKIT_DOWNLOAD_SEGMENTS`, or `segments` in code), the
 * value received and what is expected, and the message is
 * `invalid downloader configuration: <setting> is <received>, expected <expected>`
 * (`@httpkit/core/ConfigProblem`). Per-download options are checked with the
 * same fields and named the same way (`invalid download options: ifExists is
 * "skip", expected ...`; `options.ifExists` in a batch's or a pool's); a bad
 * queue task has only the message.
 *
 * @category errors
 * @since 0.1.0
 */
export class DownloadConfigError extends Own.fields(
  Schema.TaggedError<DownloadConfigError>()("DownloadConfigError", {
    message: Schema.String,
    /** Each setting at fault, when the error is about the downloader's settings. */
    problems: Schema.optionalKey(Schema.Array(ConfigProblem.ConfigProblem))
  })
) {}

const configError = (problems: ReadonlyArray<ConfigProblem.ConfigProblem>): DownloadConfigError =>
  new DownloadConfigError({ message: ConfigProblem.message("downloader configuration", problems), problems })

const unitBytes: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
  tb: 1e12,
  tib: 1024 ** 4
}

/**
 * Bytes from a number or a size string (`"64 MiB"`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const bytesOf = (value: number | string): number => {
  if (typeof value === "number") return value
  const match = sizePattern.exec(value)
  if (match === null) return Number.NaN
  return Math.round(Number(match[1]) * (unitBytes[(match[2] ?? "b").toLowerCase()] ?? Number.NaN))
}

const millis = (value: number | undefined, fallback: number): number => value ?? fallback

const decodeOptions = Schema.decodeUnknownEffect(Options)

/** How a source names its settings, and what it received. */
const namingOf = (
  name: (path: ReadonlyArray<PropertyKey>) => string,
  input: unknown
): ConfigProblem.Naming => ({
  setting: name,
  received: (path) => ConfigProblem.show(ConfigProblem.at(input, path))
})

/** A problem found after decoding, named like the decoding ones. */
const fieldProblem = (
  naming: ConfigProblem.Naming,
  field: string,
  expected: string
): ConfigProblem.ConfigProblem => ({
  setting: naming.setting([field]),
  received: naming.received([field]) ?? "set",
  expected
})

/**
 * Validates options and fills in the defaults; only the options' own keys count.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (options: Options = {}): Effect.Effect<Resolved, DownloadConfigError> => {
  const input = ownData(options)
  return resolveFrom(input, namingOf(ConfigProblem.optionPath, input))
}

const resolveFrom = (input: unknown, naming: ConfigProblem.Naming): Effect.Effect<Resolved, DownloadConfigError> =>
  decodeOptions(input, { errors: "all" }).pipe(
    Effect.mapError((error) => configError(ConfigProblem.fromIssue(error.issue, naming))),
    Effect.flatMap((decoded) => {
      const o = ownData(decoded)
      const d = defaults
      const resolved: Resolved = {
        segments: o.segments ?? d.segments,
        segmentThreshold: o.segmentThreshold === undefined ? d.segmentThreshold : bytesOf(o.segmentThreshold),
        resume: o.resume ?? d.resume,
        ifExists: o.ifExists ?? d.ifExists,
        restartOnChange: o.restartOnChange ?? d.restartOnChange,
        maxRestarts: o.maxRestarts ?? d.maxRestarts,
        maxStalls: o.maxStalls,
        progressInterval: millis(o.progressInterval, d.progressInterval),
        checkpointInterval: millis(o.checkpointInterval, d.checkpointInterval),
        writeBatch: o.writeBatch === undefined ? d.writeBatch : bytesOf(o.writeBatch),
        allowSymlinks: o.allowSymlinks ?? d.allowSymlinks,
        createFolders: o.createFolders ?? d.createFolders,
        metrics: o.metrics ?? d.metrics,
        maxBytes: o.maxBytes === undefined ? d.maxBytes : bytesOf(o.maxBytes),
        timeout: o.timeout ?? d.timeout
      }
      const problems: Array<ConfigProblem.ConfigProblem> = []
      if (!Number.isSafeInteger(resolved.segmentThreshold)) {
        problems.push(fieldProblem(naming, "segmentThreshold", `${sizeExpected}, at most 8 PiB`))
      }
      if (
        !Number.isSafeInteger(resolved.writeBatch) || resolved.writeBatch < 4096 ||
        resolved.writeBatch > 256 * 1024 * 1024
      ) problems.push(fieldProblem(naming, "writeBatch", "a size from 4096 bytes to 256 MiB"))
      return problems.length === 0 ? Effect.succeed(resolved) : Effect.fail(configError(problems))
    })
  )

/**
 * Reads the options from the current `ConfigProvider` under `prefix`, in
 * CONSTANT_CASE: with the default provider (the environment)
 * `HTTPKIT_DOWNLOAD_SEGMENTS`, `HTTPKIT_DOWNLOAD_SEGMENT_THRESHOLD`,
 * `HTTPKIT_DOWNLOAD_IF_EXISTS`, `HTTPKIT_DOWNLOAD_WRITE_BATCH`, and so on.
 *
 * **Details**
 *
 * A `DownloadConfigError` names the variables at fault
 * (`HTTPKIT_DOWNLOAD_SEGMENTS is "0", expected an integer of at least 1`).
 * A variable under the prefix that the downloader does not read is logged as
 * a warning with the closest known name, and otherwise ignored
 * (`@httpkit/core/Settings.warnUnknown`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfig = (prefix = "httpkit_download"): Effect.Effect<Resolved, DownloadConfigError> =>
  Settings.warnUnknown(Settings.downloader, prefix).pipe(
    Effect.andThen(Settings.read(Options, prefix)),
    Effect.flatMap(({ encoded, problems }) => {
      // Decoded by own keys only: Schema reads an absent optional field with `in` (RELIABILITY 10).
      const input = ownData(encoded)
      const resolved = resolveFrom(input, namingOf((path) => ConfigProblem.variableName(prefix, path), input))
      // What could not be read is reported with what is wrong in the rest, all at once.
      return problems.length === 0 ? resolved : resolved.pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.fail(configError(ConfigProblem.merge(problems, error.problems ?? []))),
          onSuccess: () => Effect.fail(configError(problems))
        })
      )
    })
  )

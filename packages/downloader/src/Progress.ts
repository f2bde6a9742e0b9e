/**
 * Download progress: the event a download reports (bytes, total when known,
 * speed over a sliding window, ETA), and the meter that makes them, at most
 * one per interval however fast the bytes arrive.
 *
 * ```ts
 * downloader.download(url, "big.iso", {
 *   onProgress: (p) => Effect.sync(() => process.stdout.write(`\r${Progress.format(p)}`))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { exactly, own } from "./internal/own.ts"

/**
 * One progress report.
 *
 * @category models
 * @since 0.1.0
 */
export class Progress extends Schema.Class<Progress>("@httpkit/downloader/Progress")({
  /** The URL, redacted. */
  url: Schema.String,
  destination: Schema.String,
  /** Bytes of the file on disk or received so far, resumed bytes included. */
  bytes: Schema.Number,
  /** The file's length, when the server announced it. */
  total: Schema.optionalKey(Schema.Number),
  /**
   * Bytes per second over the last few seconds (`windowMillis`), counted from
   * the first byte received (not from the start, which includes connecting
   * and waiting for the headers): 0 in the event of the first byte.
   */
  bytesPerSecond: Schema.Number,
  /** Seconds left at the current speed, when the total is known and the speed is not zero. */
  etaSeconds: Schema.optionalKey(Schema.Number),
  /** Milliseconds since the download started. */
  elapsedMillis: Schema.Number,
  /** Whether this is the last report (the bytes are all there). */
  done: Schema.Boolean
}) {}

/**
 * Makes progress events from byte counts, throttled.
 *
 * @category models
 * @since 0.1.0
 */
export interface Meter {
  /**
   * The bytes now; an event when the interval since the last one has passed, else `undefined`. Fewer bytes than
   * the last update mean a restart from zero: the speed counts afresh from there.
   */
  readonly update: (bytes: number, now: number) => Progress | undefined
  /** The last event, always emitted. */
  readonly finish: (bytes: number, now: number) => Progress
  /** Sets the total once it is known. */
  readonly setTotal: (total: number | undefined) => void
}

/**
 * Options of a meter.
 *
 * @category models
 * @since 0.1.0
 */
export interface MeterOptions {
  readonly url: string
  readonly destination: string
  readonly total: number | undefined
  /** When the download started (a `Clock` time in milliseconds): `elapsedMillis` counts from it, the speed does not. */
  readonly startedAt: number
  /** Bytes already on disk at the start (a resume): not counted in the speed. */
  readonly initialBytes: number
  /**
   * Least time between two events, in milliseconds.
   *
   * @default 100
   */
  readonly intervalMillis?: number | undefined
  /**
   * The speed is measured over this much of the recent past, in milliseconds.
   *
   * @default 5000
   */
  readonly windowMillis?: number | undefined
}

/**
 * A meter.
 *
 * @category constructors
 * @since 0.1.0
 */
export const meter = (options: MeterOptions): Meter => {
  // Read by own keys only (RELIABILITY 10).
  const interval = own(options, "intervalMillis") ?? 100
  const window = own(options, "windowMillis") ?? 5000
  let total = own(options, "total")
  // Samples (time, bytes) inside the window, oldest first: the first byte received, then one per event. The time
  // before the first byte (connecting, waiting for headers) is no transfer and must not lower the speed.
  const times: Array<number> = []
  const counts: Array<number> = []
  let lastEmit = Number.NEGATIVE_INFINITY
  /** Bytes that were on disk before this run's transfer (a resume): the speed starts after them. */
  let carried = options.initialBytes

  const event = (bytes: number, now: number, done: boolean): Progress => {
    let speed = 0
    if (times.length > 0) {
      while (times.length > 1 && now - times[0]! > window) {
        times.shift()
        counts.shift()
      }
      const elapsed = now - times[0]!
      speed = elapsed > 0 ? Math.max(0, ((bytes - counts[0]!) * 1000) / elapsed) : 0
      times.push(now)
      counts.push(bytes)
    }
    lastEmit = now
    const eta = total !== undefined && speed > 0 ? Math.max(0, (total - bytes) / speed) : undefined
    // Without a prototype: the class's Schema reads an absent `total` or `etaSeconds` with `in`.
    return new Progress(exactly({
      url: options.url,
      destination: options.destination,
      bytes,
      ...(total === undefined ? {} : { total }),
      bytesPerSecond: Math.round(speed),
      ...(eta === undefined || done ? {} : { etaSeconds: Math.round(eta * 10) / 10 }),
      elapsedMillis: Math.max(0, now - options.startedAt),
      done
    }))
  }

  return {
    update: (bytes, now) => {
      if (counts.length > 0 && bytes < counts[counts.length - 1]!) {
        // Fewer bytes than before: the download restarted from zero (new content). The old samples would show a
        // speed of 0 for a whole window; the speed counts afresh from here.
        times.length = 0
        counts.length = 0
        // Every byte from here on is new, resumed ones included in none.
        carried = 0
      }
      if (times.length === 0 && bytes > carried) {
        // The first byte: the speed counts from here, its own chunk included in the baseline.
        times.push(now)
        counts.push(bytes)
      }
      return now - lastEmit >= interval ? event(bytes, now, false) : undefined
    },
    finish: (bytes, now) => event(bytes, now, true),
    setTotal: (value) => {
      total = value
    }
  }
}

const units = ["B", "KiB", "MiB", "GiB", "TiB"] as const

/**
 * A byte count for people: `1.5 MiB`.
 *
 * @category utils
 * @since 0.1.0
 */
export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * One line for a terminal: `42.0% 10.5 MiB / 25.0 MiB 3.2 MiB/s ETA 4.5 s`.
 *
 * @category utils
 * @since 0.1.0
 */
export const format = (progress: Progress): string => {
  const share = progress.total === undefined || progress.total === 0
    ? ""
    : `${((100 * progress.bytes) / progress.total).toFixed(1)}% `
  const of = progress.total === undefined ? "" : ` / ${formatBytes(progress.total)}`
  const eta = progress.etaSeconds === undefined ? "" : ` ETA ${progress.etaSeconds} s`
  return `${share}${formatBytes(progress.bytes)}${of} ${formatBytes(progress.bytesPerSecond)}/s${eta}`
}

/**
 * What every rate-limit dialect reader of `ServerFeedback` shares: collecting
 * the relevant headers, reading a repeated header with its most cautious
 * value, the number forms the dialects use, and building a `Budget`.
 */
import * as Own from "../Own.ts"
import type { Budget, Dialect, Headers, Unit } from "../ServerFeedback.ts"

/** Header values longer than this (in characters) are ignored (public as `ServerFeedback.maxValueLength`). */
export const maxValueLength = 4_096

/** Repeated values of one header beyond this many are ignored. */
const maxRepeats = 16

/** Epoch milliseconds below which `now` is not trusted to tell deltas from dates (2017-07-14). */
const epochFloor = 1_500_000_000_000

/** The values of the relevant headers by lower-case name, trimmed; what every reader reads. */
export type HeaderValues = ReadonlyMap<string, ReadonlyArray<string>>

/** Header names (and prefixes) any dialect reads; others are not collected. */
const relevant = (name: string): boolean =>
  name === "retry-after" || name === "retry-after-ms" || name.startsWith("ratelimit") ||
  name.startsWith("x-ratelimit-") || name.startsWith("anthropic-ratelimit-")

/** The values of every relevant header by lower-case name: trimmed strings, oversize ones dropped. */
export const collect = (headers: Headers): HeaderValues => {
  const out = new Map<string, Array<string>>()
  if (headers === null || typeof headers !== "object") return out
  for (const rawName of Object.keys(headers)) {
    const name = rawName.toLowerCase()
    if (!relevant(name)) continue
    const raw: unknown = headers[rawName]
    const candidates: ReadonlyArray<unknown> = Array.isArray(raw) ? raw : [raw]
    let values = out.get(name)
    for (const candidate of candidates) {
      if (typeof candidate !== "string" || candidate.length > maxValueLength) continue
      if (values === undefined) {
        values = []
        out.set(name, values)
      }
      if (values.length >= maxRepeats) break
      values.push(candidate.trim())
    }
  }
  return out
}

/** Reads a header's values with `parse`, splitting comma-joined repeats, and keeps the most cautious one. */
export const pick = (
  values: ReadonlyArray<string> | undefined,
  parse: (text: string) => number | undefined,
  keep: "min" | "max"
): number | undefined => {
  if (values === undefined) return undefined
  let out: number | undefined
  for (const value of values) {
    for (const part of value.split(",", maxRepeats)) {
      const parsed = parse(part.trim())
      if (parsed === undefined || !Number.isFinite(parsed)) continue
      out = out === undefined ? parsed : keep === "min" ? Math.min(out, parsed) : Math.max(out, parsed)
    }
  }
  return out
}

/**
 * A non-negative number of milliseconds, rounded up (ignoring float noise
 * below a nanosecond, so `1.001 * 1000` stays 1001); a value too large to
 * count is `Number.MAX_SAFE_INTEGER` (a wait above any ceiling, never no
 * wait); `undefined`, `NaN` or negative is `undefined`.
 */
export const millis = (value: number | undefined): number | undefined =>
  value !== undefined && value >= 0
    ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.ceil(value - 1e-6)))
    : undefined

/** A number usable as a limit or remaining count. */
export const count = (value: number | undefined): number | undefined =>
  value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined

const integerPattern = /^\d{1,15}$/
const decimalPattern = /^\d{1,15}(?:\.\d{1,9})?$/

/** A non-negative integer of at most 15 digits, as structured fields allow. */
export const parseInteger = (text: string): number | undefined => integerPattern.test(text) ? Number(text) : undefined

/** A non-negative decimal number (at most 15 digits before the point and 9 after). */
export const parseDecimal = (text: string): number | undefined => decimalPattern.test(text) ? Number(text) : undefined

const longIntegerPattern = /^\d+$/
const longDecimalPattern = /^\d+(?:\.\d{1,9})?$/

/**
 * A reset number of any length (values are bounded by `maxValueLength`): one
 * too large to count is still a reset, read as the longest wait, never as none.
 */
export const parseResetInteger = (text: string): number | undefined =>
  longIntegerPattern.test(text) ? Number(text) : undefined

/** As `parseResetInteger`, with up to 9 decimals. */
export const parseResetDecimal = (text: string): number | undefined =>
  longDecimalPattern.test(text) ? Number(text) : undefined

/**
 * A reset number whose unit is not known: delta seconds, epoch seconds or
 * epoch milliseconds, told apart by magnitude against `now` (see the
 * `ServerFeedback` module documentation), in milliseconds from `now`.
 * `undefined` when `now` is unusable for an epoch value; at most
 * `Number.MAX_SAFE_INTEGER`.
 */
export const resetFromNumber = (value: number, now: number | undefined): number | undefined => {
  const reference = Math.max(now ?? 0, epochFloor) / 1000
  if (value < reference / 2) return value * 1000
  if (now === undefined) return undefined
  if (value < reference * 100) return Math.max(0, value * 1000 - now)
  // Epoch milliseconds, or a number too large to count (even `Infinity`): the longest wait, finite.
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, value - now))
}

/** Builds a budget, leaving out absent fields; `undefined` when it says nothing. */
export const budget = (
  source: Dialect,
  unit: Unit,
  fields: {
    readonly limit: number | undefined
    readonly remaining: number | undefined
    readonly resetAfterMillis: number | undefined
    readonly windowMillis?: number | undefined
  }
): Budget | undefined => {
  // Own keys only: callers leave `windowMillis` out, and an inherited one must not become the window.
  const limit = count(Own.own(fields, "limit"))
  const remaining = count(Own.own(fields, "remaining"))
  const resetAfterMillis = millis(Own.own(fields, "resetAfterMillis"))
  const windowMillis = millis(Own.own(fields, "windowMillis"))
  if (limit === undefined && remaining === undefined && resetAfterMillis === undefined) return undefined
  return {
    unit,
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(resetAfterMillis === undefined ? {} : { resetAfterMillis }),
    ...(windowMillis === undefined ? {} : { windowMillis }),
    source
  }
}

/**
 * Reads one budget sent as three headers: the smallest limit and remaining
 * (integers), and the latest reset, in milliseconds from now, by `parseReset`.
 */
export const budgetFromHeaders = (
  headers: HeaderValues,
  source: Dialect,
  unit: Unit,
  names: { readonly limit: string; readonly remaining: string; readonly reset: string },
  parseReset: (text: string) => number | undefined
): Budget | undefined =>
  budget(source, unit, {
    limit: pick(headers.get(names.limit), parseInteger, "min"),
    remaining: pick(headers.get(names.remaining), parseInteger, "min"),
    resetAfterMillis: pick(headers.get(names.reset), parseReset, "max")
  })

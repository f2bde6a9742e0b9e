/**
 * How long a server asks us to wait: `Retry-After` (RFC 9110, section
 * 10.2.3: whole seconds or an HTTP-date in any of its three forms) and
 * `retry-after-ms` (milliseconds, as OpenAI and others send it). One reader
 * for the client's retries and the rate limiter's server feedback alike.
 *
 * Parsing is Effect's (`Headers.parseRetryAfter`, `Headers.parseHttpDate`);
 * this module picks among repeated and competing headers. Malformed values
 * (`-3`, `120junk`, an impossible date) read as `undefined`, so callers fall
 * back to their own backoff instead of trusting them; a value too large to
 * count (`99999999999999999999`) reads as `Number.MAX_SAFE_INTEGER`
 * milliseconds, a wait above any ceiling, never as no wait.
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Headers from "effect/http/Headers"
import * as Result from "effect/Result"

/**
 * Parses an HTTP-date to milliseconds since the epoch.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseHttpDate = (value: string): number | undefined => {
  const parsed = Headers.parseHttpDate(value.trim())
  return Result.isSuccess(parsed) ? DateTime.toEpochMillis(parsed.success) : undefined
}

/**
 * A non-negative number of milliseconds, rounded up; a value too large to
 * count (beyond `Number.MAX_SAFE_INTEGER`, or infinite) is
 * `Number.MAX_SAFE_INTEGER`, a wait above any ceiling; `NaN` or negative is
 * `undefined`.
 */
const millis = (value: number): number | undefined =>
  value >= 0 ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.ceil(value - 1e-6))) : undefined

/**
 * The delay one `Retry-After` value asks for, in milliseconds from `now`
 * (epoch milliseconds). A date in the past is a delay of 0. Malformed or
 * negative values are `undefined`; a delay too large to count is
 * `Number.MAX_SAFE_INTEGER` (longer than any ceiling, so a caller with one
 * fails fast rather than retrying at once).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (value: string | undefined | null, now: number): number | undefined => {
  if (value === undefined || value === null) return undefined
  const parsed = Headers.parseRetryAfter(value.trim())
  return Result.isSuccess(parsed) ? millis(Duration.toMillis(Headers.retryAfterDelay(parsed.success, now))) : undefined
}

/**
 * Values longer than this (in characters) are ignored, except a number of
 * seconds: no date is that long, but leading zeros (`000…01`) or a huge
 * count (which is above any ceiling, not "no hint") can be.
 */
export const maxValueLength = 4_096

/** Repeated values of one header beyond this many are ignored. */
const maxRepeats = 16

// Any number of digits (values are bounded by `maxValueLength`): a huge wait is a huge wait, not no wait.
const integerPattern = /^\d+$/
const decimalPattern = /^\d+(?:\.\d{1,9})?$/

/** The values of a header however it came: absent, one string, or repeats; bounded in length and number. */
const valuesOf = (raw: unknown): ReadonlyArray<string> => {
  const candidates: ReadonlyArray<unknown> = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]
  const out: Array<string> = []
  for (const candidate of candidates) {
    if (out.length >= maxRepeats) break
    if (typeof candidate !== "string") continue
    if (candidate.length <= maxValueLength) out.push(candidate.trim())
    else if (longDigitsPattern.test(candidate)) out.push(significant(candidate.trim()))
  }
  return out
}

const longDigitsPattern = /^\s*\d+\s*$/

/** A long run of digits as a short one of the same size class: without leading zeros, and past 20 digits twenty 9s. */
const significant = (digits: string): string => {
  const trimmed = digits.replace(/^0+(?=\d)/, "")
  return trimmed.length > 20 ? "9".repeat(20) : trimmed
}

/**
 * The wait asked for by the values of `retry-after-ms` and `Retry-After`, in
 * milliseconds from `now`: `retry-after-ms` wins when one of its values is
 * valid (the largest); otherwise the largest valid `Retry-After` (each value
 * whole, or the seconds of a comma-joined repeat such as `5, 5`). Dates need
 * `now`; without it only delays count.
 *
 * @category parsing
 * @since 0.1.0
 */
export const fromValues = (
  retryAfterMs: ReadonlyArray<string> | undefined,
  retryAfter: ReadonlyArray<string> | undefined,
  now: number | undefined
): number | undefined => {
  let fromMillis: number | undefined
  for (const value of retryAfterMs ?? []) {
    for (const part of value.split(",", maxRepeats)) {
      const text = part.trim()
      const valid = decimalPattern.test(text) ? millis(Number(text)) : undefined
      if (valid !== undefined) fromMillis = fromMillis === undefined ? valid : Math.max(fromMillis, valid)
    }
  }
  if (fromMillis !== undefined) return fromMillis
  let out: number | undefined
  for (const value of retryAfter ?? []) {
    let parsed = integerPattern.test(value) || now !== undefined ? parse(value, now ?? 0) : undefined
    if (parsed === undefined && value.includes(",")) {
      // Repeats joined by a proxy (`5, 5`): only the seconds form survives a split on commas.
      for (const part of value.split(",", maxRepeats)) {
        const text = part.trim()
        const seconds = integerPattern.test(text) ? millis(Number(text) * 1000) : undefined
        if (seconds !== undefined) parsed = Math.max(parsed ?? 0, seconds)
      }
    }
    if (parsed !== undefined) out = out === undefined ? parsed : Math.max(out, parsed)
  }
  return out
}

/**
 * The wait a response's headers ask for, in milliseconds from `now`: see
 * `fromValues`. `headers` as Effect or Node hold them (lower-case names; a
 * value or an array of repeats).
 *
 * @category parsing
 * @since 0.1.0
 */
export const fromHeaders = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  now: number | undefined
): number | undefined => {
  const retryAfterMs = Object.hasOwn(headers, "retry-after-ms") ? valuesOf(headers["retry-after-ms"]) : undefined
  const retryAfter = Object.hasOwn(headers, "retry-after") ? valuesOf(headers["retry-after"]) : undefined
  return retryAfterMs === undefined && retryAfter === undefined ? undefined : fromValues(retryAfterMs, retryAfter, now)
}

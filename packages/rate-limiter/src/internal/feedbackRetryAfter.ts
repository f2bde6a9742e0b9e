/**
 * The `Retry-After` dialect of `ServerFeedback`: `Retry-After` (RFC 9110,
 * seconds or an HTTP-date) and OpenAI's `retry-after-ms`, which wins when it
 * is valid.
 */
import * as RetryAfter from "@httpkit/client/RetryAfter"
import { type HeaderValues, millis, parseDecimal, parseInteger, pick } from "./feedbackHeaders.ts"

/**
 * Milliseconds to wait: `retry-after-ms` (the largest valid value), else the
 * latest valid `Retry-After` (each repeat whole, or its comma-separated
 * seconds). HTTP-dates need `now`.
 */
export const readRetryAfter = (headers: HeaderValues, now: number | undefined): number | undefined => {
  const fromMillis = millis(pick(headers.get("retry-after-ms"), parseDecimal, "max"))
  if (fromMillis !== undefined) return fromMillis
  const values = headers.get("retry-after")
  if (values === undefined) return undefined
  let out: number | undefined
  for (const value of values) {
    let parsed = parseInteger(value) !== undefined || now !== undefined ? RetryAfter.parse(value, now ?? 0) : undefined
    if (parsed === undefined && value.includes(",")) {
      // Repeats joined by a proxy (`5, 5`): only the seconds form survives a split on commas.
      const seconds = pick([value], parseInteger, "max")
      parsed = seconds === undefined ? undefined : seconds * 1000
    }
    const valid = millis(parsed)
    if (valid !== undefined) out = out === undefined ? valid : Math.max(out, valid)
  }
  return out
}

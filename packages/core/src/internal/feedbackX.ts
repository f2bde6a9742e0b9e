/**
 * The `x` dialect of `ServerFeedback`: `X-RateLimit-Limit`,
 * `X-RateLimit-Remaining` and `X-RateLimit-Reset`, whose reset is delta
 * seconds, epoch seconds or epoch milliseconds, told apart by magnitude.
 */
import type { Budget } from "../ServerFeedback.ts"
import { budgetFromHeaders, type HeaderValues, parseResetDecimal, resetFromNumber } from "./feedbackHeaders.ts"

/** The one `requests` budget of the `X-RateLimit-*` headers, if they say anything. */
export const readX = (headers: HeaderValues, now: number | undefined): Array<Budget> => {
  const item = budgetFromHeaders(headers, "x", "requests", {
    limit: "x-ratelimit-limit",
    remaining: "x-ratelimit-remaining",
    reset: "x-ratelimit-reset"
  }, (text) => {
    const value = parseResetDecimal(text)
    return value === undefined ? undefined : resetFromNumber(value, now)
  })
  return item === undefined ? [] : [item]
}

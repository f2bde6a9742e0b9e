/**
 * The `anthropic` dialect of `ServerFeedback`:
 * `anthropic-ratelimit-<unit>-{limit,remaining,reset}` for `requests`,
 * `tokens`, `input-tokens` and `output-tokens`, whose resets are RFC 3339
 * date-times.
 */
import type { Budget, Unit } from "../ServerFeedback.ts"
import { budgetFromHeaders, type HeaderValues } from "./feedbackHeaders.ts"

const rfc3339Pattern = /^(\d{4})-(\d{2})-(\d{2})[t ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(z|[+-]\d{2}:\d{2})$/

/** An RFC 3339 date-time in epoch milliseconds; public, and documented, as `ServerFeedback.parseRfc3339`. */
export const parseRfc3339 = (value: string): number | undefined => {
  if (typeof value !== "string" || value.length > 64) return undefined
  const match = rfc3339Pattern.exec(value.trim().toLowerCase())
  if (match === null) return undefined
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number
  ]
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined
  const date = new Date(Date.UTC(year, month - 1, day))
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined
  }
  const fraction = match[7] === undefined ? 0 : Number(`0${match[7]}`) * 1000
  const zone = match[8]!
  let offset = 0
  if (zone !== "z") {
    const offsetHours = Number(zone.slice(1, 3))
    const offsetMinutes = Number(zone.slice(4, 6))
    if (offsetHours > 23 || offsetMinutes > 59) return undefined
    offset = (zone.startsWith("-") ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000
  }
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + fraction - offset
}

const units: ReadonlyArray<Unit> = ["requests", "tokens", "input-tokens", "output-tokens"]

/** The budgets Anthropic reports, in the order of `units`; resets need `now`. */
export const readAnthropic = (headers: HeaderValues, now: number | undefined): Array<Budget> => {
  const parseReset = (text: string): number | undefined => {
    if (now === undefined) return undefined
    const at = parseRfc3339(text)
    return at === undefined ? undefined : Math.max(0, at - now)
  }
  return units.flatMap((unit) =>
    budgetFromHeaders(headers, "anthropic", unit, {
      limit: `anthropic-ratelimit-${unit}-limit`,
      remaining: `anthropic-ratelimit-${unit}-remaining`,
      reset: `anthropic-ratelimit-${unit}-reset`
    }, parseReset) ?? []
  )
}

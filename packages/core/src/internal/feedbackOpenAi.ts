/**
 * The `openai` dialect of `ServerFeedback`:
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, whose resets are Go
 * `time.Duration` strings.
 */
import type { Budget, Unit } from "../ServerFeedback.ts"
import { budgetFromHeaders, type HeaderValues } from "./feedbackHeaders.ts"

const goUnits: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3,
  "\u03bcs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000
}
const goSegment = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|h|m|s)/y

/** A Go duration in milliseconds; public, and documented, as `ServerFeedback.parseGoDuration`. */
export const parseGoDuration = (value: string): number | undefined => {
  if (typeof value !== "string" || value.length > 64) return undefined
  const text = value.trim().toLowerCase()
  if (text === "0" || text === "+0") return 0
  let position = text.startsWith("+") ? 1 : 0
  if (position >= text.length) return undefined
  let total = 0
  while (position < text.length) {
    goSegment.lastIndex = position
    const match = goSegment.exec(text)
    if (match === null) return undefined
    total += Number(match[1]) * goUnits[match[2]!]!
    position = goSegment.lastIndex
  }
  return Number.isFinite(total) ? total : undefined
}

const units: ReadonlyArray<Unit> = ["requests", "tokens"]

/** The `requests` and `tokens` budgets OpenAI reports, in that order. */
export const readOpenAi = (headers: HeaderValues): Array<Budget> =>
  units.flatMap((unit) =>
    budgetFromHeaders(headers, "openai", unit, {
      limit: `x-ratelimit-limit-${unit}`,
      remaining: `x-ratelimit-remaining-${unit}`,
      reset: `x-ratelimit-reset-${unit}`
    }, parseGoDuration) ?? []
  )

/**
 * What a server says about its rate limits, read from response headers, and
 * how long every request sharing the key should hold off because of it.
 *
 * When one request gets a 429 with `Retry-After`, or a response reports an
 * empty budget, the whole key should slow down, not only that request.
 * `parse` reads every common dialect into one `Feedback`; `holdOff` turns it
 * into a wait for the key (for `LimiterStore.block`). Both are pure: no I/O,
 * no clock of their own (the caller passes `now`), and they never throw.
 *
 * **Dialects** (header names are read in lower case, as undici gives them)
 *
 * - `Retry-After` (RFC 9110): seconds or an HTTP-date, parsed by
 *   `@httpkit/client/RetryAfter`; OpenAI's `retry-after-ms` (milliseconds,
 *   decimals allowed) wins over it when both are valid.
 *   `retry-after: 30`, `retry-after: Wed, 21 Oct 2026 07:28:00 GMT`,
 *   `retry-after-ms: 1500`.
 * - `ietf`, the IETF httpapi drafts in all three shapes:
 *   - drafts 00 to 06: `RateLimit-Limit: 100`, `RateLimit-Remaining: 0`,
 *     `RateLimit-Reset: 5` (delta seconds), `RateLimit-Policy: 100;w=60`
 *     (the policy whose quota equals the limit gives the window);
 *   - draft 07: `RateLimit: limit=100, remaining=0, reset=5` (a Structured
 *     Field dictionary) with `RateLimit-Policy: 100;w=60`;
 *   - drafts 08 and later: `RateLimit: "default";r=0;t=5` (a list of named
 *     service limits) with `RateLimit-Policy: "default";q=100;w=60`, joined
 *     by name; a policy's `qu` other than `"requests"` (`content-bytes`,
 *     `concurrent-requests`) is not a unit we model, so its items are left out.
 * - `x`: `X-RateLimit-Limit: 5000`, `X-RateLimit-Remaining: 0`,
 *   `X-RateLimit-Reset: 1767225600` (see the reset rule below).
 * - `openai`: `x-ratelimit-limit-requests: 60`,
 *   `x-ratelimit-remaining-requests: 0`, `x-ratelimit-reset-requests: 1m30s`,
 *   and the same for `-tokens`; resets are Go durations (`6s`, `12ms`,
 *   `59.873s`, `1h2m3s`, `0s`, `500us`, `500µs`).
 * - `anthropic`: `anthropic-ratelimit-requests-limit: 50`,
 *   `anthropic-ratelimit-requests-remaining: 0`,
 *   `anthropic-ratelimit-requests-reset: 2026-01-01T00:00:30Z`, and the same
 *   for `tokens`, `input-tokens` and `output-tokens`; resets are RFC 3339.
 *
 * **Details**
 *
 * - Reset numbers of the `x` dialect (and, for servers that misuse them, the
 *   IETF resets) are told apart by magnitude. With `s` the current time
 *   in epoch seconds (never taken below 2017-07-14, so that a `TestClock` at
 *   0 does not turn every delta into a date): a value below `s / 2` (about 28
 *   years) is a delta in seconds; below `s * 100` it is epoch seconds
 *   (GitHub); anything larger is epoch milliseconds. A reset in the past is a
 *   wait of 0.
 * - A repeated header (an array, or values joined with commas) counts with
 *   its most cautious value: the smallest limit and remaining, the latest
 *   reset and `Retry-After`.
 * - Structured fields (`RateLimit`, `RateLimit-Policy`) follow RFC 9651: a
 *   malformed field is ignored as a whole, as the drafts require.
 * - Every time is in whole milliseconds, rounded up, so a caller waiting that
 *   long is never early.
 *
 * **Gotchas**
 *
 * - `holdOff` caps every wait at `maxMillis` (10 minutes by default): a server
 *   asking for an hour gets 10 minutes, after which the next answer says
 *   again. Apply your own overall deadline on top.
 * - Hostile values (negative, `NaN`, `Infinity`, numbers beyond 15 digits,
 *   values over 4096 characters, junk) are ignored, never thrown, and never
 *   yield a negative or infinite wait.
 * - `Retry-After` on statuses other than 429 (a 503, say) is left to the
 *   retry policy: `holdOff` only blocks the key for 429s and empty budgets.
 * - Absolute times (HTTP-dates, epoch resets, RFC 3339) are measured from
 *   `now`, so `now` must be the wall clock: under a `TestClock` at 0 they
 *   come out decades long (and `holdOff` caps them). Delta forms (`Retry-After`
 *   seconds, `retry-after-ms`, IETF resets, Go durations) do not depend on it.
 *
 * @since 0.1.0
 */
import * as RetryAfter from "@httpkit/client/RetryAfter"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * Response headers by lower-case name, as undici gives them; a repeated
 * header is an array.
 *
 * @category models
 * @since 0.1.0
 */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * What a budget counts.
 *
 * @category models
 * @since 0.1.0
 */
export type Unit = "requests" | "tokens" | "input-tokens" | "output-tokens"

/**
 * The header dialect a budget was read from.
 *
 * @category models
 * @since 0.1.0
 */
export type Dialect = "ietf" | "x" | "openai" | "anthropic"

/**
 * One budget the server reported. Fields the server did not send (or sent
 * malformed) are absent.
 *
 * @category models
 * @since 0.1.0
 */
export interface Budget {
  /** What the budget counts. */
  readonly unit: Unit
  /** The budget per window. */
  readonly limit?: number
  /** What is left of it. */
  readonly remaining?: number
  /** Milliseconds until (more of) the budget is available again. */
  readonly resetAfterMillis?: number
  /** The window of the policy, in milliseconds (IETF `w`), when the server tells it. */
  readonly windowMillis?: number
  /** The dialect it was read from. */
  readonly source: Dialect
}

/**
 * Everything a response said about rate limits.
 *
 * @category models
 * @since 0.1.0
 */
export interface Feedback {
  /** From `retry-after-ms`, else `Retry-After`: milliseconds to wait. */
  readonly retryAfterMillis?: number
  /** Every budget reported, in dialect order: `ietf`, `x`, `openai`, `anthropic`. */
  readonly budgets: ReadonlyArray<Budget>
}

/**
 * Options of `parse`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ParseOptions {
  /** The current time in epoch milliseconds, for dates and epoch resets. */
  readonly now: number
}

/**
 * Options of `holdOff`.
 *
 * @category models
 * @since 0.1.0
 */
export interface HoldOffOptions {
  /** The response's status. */
  readonly status: number
  /**
   * The longest wait returned; a larger hint is capped to it. Not a finite,
   * non-negative number: the default.
   *
   * @default 600_000 (10 minutes)
   */
  readonly maxMillis?: number | undefined
  /**
   * The wait after a 429 that gives neither `Retry-After` nor an exhausted
   * budget's reset.
   *
   * @default 1_000
   */
  readonly fallbackMillis?: number | undefined
  /**
   * The token cost of the request about to go: a token budget (`tokens`,
   * `input-tokens`, `output-tokens`) whose remaining is below it counts as
   * exhausted. See `isExhausted`.
   *
   * @default 0
   */
  readonly tokens?: number | undefined
}

/**
 * The default cap of `holdOff`: 10 minutes.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxMillis = 600_000

/**
 * The default wait after a 429 without any hint: 1 second.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultFallbackMillis = 1_000

/**
 * Header values longer than this (in characters) are ignored.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxValueLength = 4_096

/** Repeated values of one header beyond this many are ignored. */
const maxRepeats = 16
/** Items of a structured field beyond this many are ignored. */
const maxItems = 16
/** Epoch milliseconds below which `now` is not trusted to tell deltas from dates (2017-07-14). */
const epochFloor = 1_500_000_000_000

// ---------------------------------------------------------------------------
// Small parsers
// ---------------------------------------------------------------------------

/**
 * A finite, non-negative, safe number of milliseconds, rounded up (ignoring
 * float noise below a nanosecond, so `1.001 * 1000` stays 1001); otherwise
 * `undefined`.
 */
const millis = (value: number | undefined): number | undefined =>
  value !== undefined && Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
    ? Math.max(0, Math.ceil(value - 1e-6))
    : undefined

/** A number usable as a limit or remaining count. */
const count = (value: number | undefined): number | undefined =>
  value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined

const integerPattern = /^\d{1,15}$/
const decimalPattern = /^\d{1,15}(?:\.\d{1,9})?$/

/** A non-negative integer of at most 15 digits, as structured fields allow. */
const parseInteger = (text: string): number | undefined => integerPattern.test(text) ? Number(text) : undefined

/** Whole seconds of `Retry-After`, in milliseconds. */
const parseSeconds = (text: string): number | undefined => integerPattern.test(text) ? Number(text) * 1000 : undefined

/** A non-negative decimal number (at most 15 digits before the point and 9 after). */
const parseDecimal = (text: string): number | undefined => decimalPattern.test(text) ? Number(text) : undefined

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

/**
 * Parses a Go `time.Duration` string, as OpenAI's `x-ratelimit-reset-*`
 * headers carry it (`6s`, `12ms`, `1m30s`, `59.873s`, `1h2m3s`, `0s`,
 * `500us`, `500µs`), to milliseconds. A lone `0` is 0. Negative, unit-less or
 * malformed values are `undefined`. Units are matched case-insensitively.
 *
 * @category parsing
 * @since 0.1.0
 */
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

const rfc3339Pattern = /^(\d{4})-(\d{2})-(\d{2})[t ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(z|[+-]\d{2}:\d{2})$/

/**
 * Parses an RFC 3339 date-time (`2026-01-01T00:00:30Z`,
 * `2026-01-01T01:00:30.5+01:00`) to epoch milliseconds. Impossible dates
 * (30 February, hour 24) are `undefined`.
 *
 * @category parsing
 * @since 0.1.0
 */
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

/**
 * A reset number whose unit is not known: delta seconds, epoch seconds or
 * epoch milliseconds, told apart by magnitude against `now` (see the module
 * documentation). `undefined` when `now` is unusable for an epoch value.
 */
const resetFromNumber = (value: number, now: number | undefined): number | undefined => {
  const reference = Math.max(now ?? 0, epochFloor) / 1000
  if (value < reference / 2) return value * 1000
  if (now === undefined) return undefined
  if (value < reference * 100) return Math.max(0, value * 1000 - now)
  return Math.max(0, value - now)
}

// ---------------------------------------------------------------------------
// Structured fields (RFC 9651), the subset the IETF drafts use
// ---------------------------------------------------------------------------

/** A bare item; byte sequences, dates and display strings are kept as opaque markers. */
type BareItem =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "string" | "token"; readonly value: string }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "other" }

/** An item with its parameters, or an inner list (which the drafts never use). */
interface Member {
  readonly value: BareItem | "inner-list"
  readonly params: ReadonlyMap<string, BareItem>
}

/** Thrown inside the parser only; caught by `structured`, never escapes. */
class Malformed extends Error {}

const isDigit = (c: string): boolean => c >= "0" && c <= "9"
const isLcAlpha = (c: string): boolean => c >= "a" && c <= "z"
const isAlpha = (c: string): boolean => isLcAlpha(c) || (c >= "A" && c <= "Z")
const tokenChars = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:/]$/
const keyChars = /^[a-z0-9_\-.*]$/
const base64Chars = /^[A-Za-z0-9+/=]$/

const fail = (): never => {
  throw new Malformed()
}

/** A parser over one field value; every method advances `position` or throws `Malformed`. */
const sfParser = (text: string) => {
  let position = 0
  const peek = (): string => text[position] ?? ""
  const skipSpaces = (): void => {
    while (peek() === " ") position++
  }
  const skipOws = (): void => {
    while (peek() === " " || peek() === "\t") position++
  }

  const key = (): string => {
    const start = position
    if (!isLcAlpha(peek()) && peek() !== "*") fail()
    position++
    while (position < text.length && keyChars.test(peek())) position++
    return text.slice(start, position)
  }

  const number = (): BareItem => {
    const start = position
    let sign = 1
    if (peek() === "-") {
      sign = -1
      position++
    }
    if (!isDigit(peek())) fail()
    let integerDigits = 0
    while (isDigit(peek())) {
      position++
      integerDigits++
    }
    if (peek() !== ".") {
      if (integerDigits > 15) fail()
      return { kind: "number", value: sign * Number(text.slice(sign < 0 ? start + 1 : start, position)) }
    }
    if (integerDigits > 12) fail()
    position++
    let fractionDigits = 0
    while (isDigit(peek())) {
      position++
      fractionDigits++
    }
    if (fractionDigits < 1 || fractionDigits > 3) fail()
    return { kind: "number", value: sign * Number(text.slice(sign < 0 ? start + 1 : start, position)) }
  }

  const string = (): BareItem => {
    position++
    let out = ""
    for (;;) {
      const c = peek()
      if (c === "") fail()
      position++
      if (c === "\\") {
        const next = peek()
        if (next !== "\"" && next !== "\\") fail()
        out += next
        position++
      } else if (c === "\"") {
        return { kind: "string", value: out }
      } else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) fail()
        out += c
      }
    }
  }

  const token = (): BareItem => {
    const start = position
    position++
    while (position < text.length && tokenChars.test(peek())) position++
    return { kind: "token", value: text.slice(start, position) }
  }

  const bytes = (): BareItem => {
    position++
    while (peek() !== ":") {
      if (!base64Chars.test(peek())) fail()
      position++
    }
    position++
    return { kind: "other" }
  }

  const bareItem = (): BareItem => {
    const c = peek()
    if (c === "-" || isDigit(c)) return number()
    if (c === "\"") return string()
    if (c === ":") return bytes()
    if (c === "?") {
      position++
      const value = peek()
      if (value !== "0" && value !== "1") fail()
      position++
      return { kind: "boolean", value: value === "1" }
    }
    if (c === "@") {
      position++
      const date = number()
      if (date.kind !== "number" || !Number.isInteger(date.value)) fail()
      return { kind: "other" }
    }
    if (isAlpha(c) || c === "*") return token()
    return fail()
  }

  const params = (): ReadonlyMap<string, BareItem> => {
    const out = new Map<string, BareItem>()
    while (peek() === ";") {
      position++
      skipSpaces()
      const name = key()
      let value: BareItem = { kind: "boolean", value: true }
      if (peek() === "=") {
        position++
        value = bareItem()
      }
      // RFC 9651: a repeated parameter overwrites the earlier one.
      out.set(name, value)
    }
    return out
  }

  const innerList = (): Member => {
    position++
    for (;;) {
      skipSpaces()
      if (peek() === ")") {
        position++
        return { value: "inner-list", params: params() }
      }
      bareItem()
      params()
      if (peek() !== " " && peek() !== ")") fail()
    }
  }

  const member = (): Member => peek() === "(" ? innerList() : { value: bareItem(), params: params() }

  /** Runs `each` over the members of a comma-separated list or dictionary, then checks the end. */
  const members = (each: () => void): void => {
    skipSpaces()
    while (position < text.length) {
      each()
      skipOws()
      if (position >= text.length) break
      if (peek() !== ",") fail()
      position++
      skipOws()
      if (position >= text.length) fail()
    }
  }

  return {
    list: (): Array<Member> => {
      const out: Array<Member> = []
      members(() => {
        out.push(member())
      })
      return out
    },
    dictionary: (): Map<string, Member> => {
      const out = new Map<string, Member>()
      members(() => {
        const name = key()
        if (peek() === "=") {
          position++
          out.set(name, member())
        } else {
          out.set(name, { value: { kind: "boolean", value: true }, params: params() })
        }
      })
      return out
    }
  }
}

/** Parses a structured field, or `undefined` when it is malformed (then it is ignored as a whole). */
const structured = <A>(values: ReadonlyArray<string>, read: (parser: ReturnType<typeof sfParser>) => A) => {
  const lines = values.filter((value) => value !== "")
  if (lines.length === 0) return undefined
  try {
    // RFC 9651, section 4.2: repeated field lines are joined with a comma.
    return read(sfParser(lines.join(",")))
  } catch {
    return undefined
  }
}

/** The non-negative integer value of a bare item or parameter. */
const sfCount = (item: BareItem | "inner-list" | undefined): number | undefined =>
  item !== undefined && item !== "inner-list" && item.kind === "number" ? count(item.value) : undefined

/** The name of a bare item (a string, or leniently a token). */
const sfName = (item: BareItem | "inner-list"): string | undefined =>
  item !== "inner-list" && (item.kind === "string" || item.kind === "token") ? item.value : undefined

// ---------------------------------------------------------------------------
// Reading headers
// ---------------------------------------------------------------------------

/** Header names (and prefixes) any dialect reads; others are not collected. */
const relevant = (name: string): boolean =>
  name === "retry-after" || name === "retry-after-ms" || name.startsWith("ratelimit") ||
  name.startsWith("x-ratelimit-") || name.startsWith("anthropic-ratelimit-")

/** The values of every relevant header by lower-case name: trimmed strings, oversize ones dropped. */
const collect = (headers: Headers): Map<string, Array<string>> => {
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
const pick = (
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

/** Builds a budget, leaving out absent fields; `undefined` when it says nothing. */
const budget = (
  source: Dialect,
  unit: Unit,
  fields: {
    readonly limit: number | undefined
    readonly remaining: number | undefined
    readonly resetAfterMillis: number | undefined
    readonly windowMillis?: number | undefined
  }
): Budget | undefined => {
  const limit = count(fields.limit)
  const remaining = count(fields.remaining)
  const resetAfterMillis = millis(fields.resetAfterMillis)
  const windowMillis = millis(fields.windowMillis)
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

/** `Retry-After` (each repeat whole, or its comma-separated seconds) and `retry-after-ms`. */
const readRetryAfter = (headers: Map<string, Array<string>>, now: number | undefined): number | undefined => {
  const fromMillis = millis(pick(headers.get("retry-after-ms"), parseDecimal, "max"))
  if (fromMillis !== undefined) return fromMillis
  const values = headers.get("retry-after")
  if (values === undefined) return undefined
  let out: number | undefined
  for (const value of values) {
    let parsed = integerPattern.test(value) || now !== undefined ? RetryAfter.parse(value, now ?? 0) : undefined
    // Repeats joined by a proxy (`5, 5`): only the seconds form survives a split on commas.
    if (parsed === undefined && value.includes(",")) parsed = pick([value], parseSeconds, "max")
    const valid = millis(parsed)
    if (valid !== undefined) out = out === undefined ? valid : Math.max(out, valid)
  }
  return out
}

/** A policy of `RateLimit-Policy`: a quota with its window, named in drafts 08 and later. */
interface Policy {
  readonly name: string | undefined
  readonly quota: number | undefined
  readonly windowMillis: number | undefined
  readonly requests: boolean
}

const readPolicies = (values: ReadonlyArray<string> | undefined): ReadonlyArray<Policy> => {
  const list = values === undefined ? undefined : structured(values, (parser) => parser.list())
  if (list === undefined) return []
  const out: Array<Policy> = []
  for (const member of list.slice(0, maxItems)) {
    if (member.value === "inner-list") continue
    const window = sfCount(member.params.get("w"))
    const unit = member.params.get("qu")
    out.push({
      // Drafts up to 07: `100;w=60` (the item is the quota); 08 and later: `"name";q=100;w=60`.
      name: sfName(member.value),
      quota: member.value.kind === "number" ? count(member.value.value) : sfCount(member.params.get("q")),
      windowMillis: window === undefined || window === 0 ? undefined : window * 1000,
      requests: unit === undefined || (unit.kind === "string" && unit.value === "requests")
    })
  }
  return out
}

/** The IETF drafts: the three-field form, the draft-07 dictionary, and the named list of drafts 08+. */
const readIetf = (headers: Map<string, Array<string>>, now: number | undefined): Array<Budget> => {
  const out: Array<Budget> = []
  const policies = readPolicies(headers.get("ratelimit-policy"))
  const windowForQuota = (quota: number | undefined) =>
    quota === undefined ? undefined : policies.find((policy) => policy.quota === quota)?.windowMillis
  const reset = (seconds: number | undefined) => seconds === undefined ? undefined : resetFromNumber(seconds, now)

  // Drafts 00 to 06.
  const limit = pick(headers.get("ratelimit-limit"), parseInteger, "min")
  const legacy = budget("ietf", "requests", {
    limit,
    remaining: pick(headers.get("ratelimit-remaining"), parseInteger, "min"),
    resetAfterMillis: reset(pick(headers.get("ratelimit-reset"), parseInteger, "max")),
    windowMillis: windowForQuota(limit)
  })
  if (legacy !== undefined) out.push(legacy)

  const field = headers.get("ratelimit")
  if (field === undefined) {
    // A policy without a service limit still tells the quota and the window.
    for (const policy of policies) {
      if (policy.name === undefined || !policy.requests || policy.quota === undefined) continue
      out.push({
        unit: "requests",
        limit: policy.quota,
        ...(policy.windowMillis === undefined ? {} : { windowMillis: policy.windowMillis }),
        source: "ietf"
      })
    }
    return out
  }

  // Drafts 08 and later: a list of named service limits.
  const list = structured(field, (parser) => parser.list())
  if (list !== undefined) {
    const named = new Set<string>()
    for (const member of list.slice(0, maxItems)) {
      const name = member.value === "inner-list" ? undefined : sfName(member.value)
      if (name === undefined) continue
      const policy = policies.find((candidate) => candidate.name === name)
      if (policy !== undefined && !policy.requests) continue
      named.add(name)
      const item = budget("ietf", "requests", {
        limit: policy?.quota,
        remaining: sfCount(member.params.get("r")),
        resetAfterMillis: reset(sfCount(member.params.get("t"))),
        windowMillis: policy?.windowMillis
      })
      if (item !== undefined) out.push(item)
    }
    for (const policy of policies) {
      if (policy.name === undefined || named.has(policy.name) || !policy.requests || policy.quota === undefined) {
        continue
      }
      out.push({
        unit: "requests",
        limit: policy.quota,
        ...(policy.windowMillis === undefined ? {} : { windowMillis: policy.windowMillis }),
        source: "ietf"
      })
    }
    return out
  }

  // Draft 07: one dictionary.
  const dictionary = structured(field, (parser) => parser.dictionary())
  if (dictionary !== undefined) {
    const dictionaryLimit = sfCount(dictionary.get("limit")?.value)
    const item = budget("ietf", "requests", {
      limit: dictionaryLimit,
      remaining: sfCount(dictionary.get("remaining")?.value),
      resetAfterMillis: reset(sfCount(dictionary.get("reset")?.value)),
      windowMillis: windowForQuota(dictionaryLimit)
    })
    if (item !== undefined) out.push(item)
  }
  return out
}

/** `X-RateLimit-Limit`, `-Remaining` and `-Reset` (delta seconds, epoch seconds or epoch milliseconds). */
const readX = (headers: Map<string, Array<string>>, now: number | undefined): Array<Budget> => {
  const item = budget("x", "requests", {
    limit: pick(headers.get("x-ratelimit-limit"), parseInteger, "min"),
    remaining: pick(headers.get("x-ratelimit-remaining"), parseInteger, "min"),
    resetAfterMillis: pick(headers.get("x-ratelimit-reset"), (text) => {
      const value = parseDecimal(text)
      return value === undefined ? undefined : resetFromNumber(value, now)
    }, "max")
  })
  return item === undefined ? [] : [item]
}

const openAiUnits: ReadonlyArray<Unit> = ["requests", "tokens"]
const anthropicUnits: ReadonlyArray<Unit> = ["requests", "tokens", "input-tokens", "output-tokens"]

/** OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, resets as Go durations. */
const readOpenAi = (headers: Map<string, Array<string>>): Array<Budget> => {
  const out: Array<Budget> = []
  for (const unit of openAiUnits) {
    const item = budget("openai", unit, {
      limit: pick(headers.get(`x-ratelimit-limit-${unit}`), parseInteger, "min"),
      remaining: pick(headers.get(`x-ratelimit-remaining-${unit}`), parseInteger, "min"),
      resetAfterMillis: pick(headers.get(`x-ratelimit-reset-${unit}`), parseGoDuration, "max")
    })
    if (item !== undefined) out.push(item)
  }
  return out
}

/** Anthropic's `anthropic-ratelimit-<unit>-{limit,remaining,reset}`, resets as RFC 3339 times. */
const readAnthropic = (headers: Map<string, Array<string>>, now: number | undefined): Array<Budget> => {
  const out: Array<Budget> = []
  for (const unit of anthropicUnits) {
    const item = budget("anthropic", unit, {
      limit: pick(headers.get(`anthropic-ratelimit-${unit}-limit`), parseInteger, "min"),
      remaining: pick(headers.get(`anthropic-ratelimit-${unit}-remaining`), parseInteger, "min"),
      resetAfterMillis: now === undefined ? undefined : pick(
        headers.get(`anthropic-ratelimit-${unit}-reset`),
        (text) => {
          const at = parseRfc3339(text)
          return at === undefined ? undefined : Math.max(0, at - now)
        },
        "max"
      )
    })
    if (item !== undefined) out.push(item)
  }
  return out
}

// ---------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------

/**
 * Reads every rate-limit dialect from response headers. Unknown, malformed
 * or hostile values are left out; this function never throws.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/rate-limiter/ServerFeedback"
 *
 * const feedback = ServerFeedback.parse(
 *   { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s" },
 *   { now: Date.now() }
 * )
 * // { budgets: [{ unit: "requests", remaining: 0, resetAfterMillis: 90000, source: "openai" }] }
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (headers: Headers, options: ParseOptions): Feedback => {
  try {
    const now = typeof options?.now === "number" && Number.isFinite(options.now) ? options.now : undefined
    const collected = collect(headers)
    if (collected.size === 0) return { budgets: [] }
    const retryAfterMillis = readRetryAfter(collected, now)
    const budgets = [
      ...readIetf(collected, now),
      ...readX(collected, now),
      ...readOpenAi(collected),
      ...readAnthropic(collected, now)
    ]
    return retryAfterMillis === undefined ? { budgets } : { retryAfterMillis, budgets }
  } catch {
    // Only a hostile headers object (a throwing getter or proxy) gets here.
    return { budgets: [] }
  }
}

/** A finite, non-negative option, or `undefined`. */
const option = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined

/**
 * Whether a budget leaves nothing for the next request: a requests budget
 * with 0 remaining, or a token budget with less remaining than `tokens` (the
 * request's token cost, counted at most as the budget's limit, since a
 * request costing more than a whole window could otherwise never pass).
 * Without `remaining`, a budget is never exhausted.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/rate-limiter/ServerFeedback"
 *
 * ServerFeedback.isExhausted({ unit: "tokens", remaining: 800, source: "openai" }, { tokens: 1200 }) // true
 * ```
 *
 * @category predicates
 * @since 0.1.0
 */
export const isExhausted = (budget: Budget, options?: { readonly tokens?: number | undefined }): boolean => {
  const remaining = option(budget?.remaining)
  if (remaining === undefined) return false
  if (budget.unit === "requests") return remaining < 1
  const limit = option(budget.limit)
  const tokens = Math.min(option(options?.tokens) ?? 0, limit ?? Number.MAX_SAFE_INTEGER)
  return remaining < Math.max(1, tokens)
}

/**
 * How long every request sharing the key should wait after this response,
 * in milliseconds, or `undefined` when nothing calls for a wait.
 *
 * - On 429: `retry-after-ms` or `Retry-After` when present; else the latest
 *   reset among exhausted budgets (see `isExhausted`); else `fallbackMillis`.
 * - On any other status: the latest reset among exhausted budgets (requests
 *   or tokens), or `undefined`.
 *
 * A budget without a reset falls back to its policy window when the server
 * told one. The result is never negative, never more than `maxMillis` (a
 * larger hint is capped), and 0 when the reset has already passed.
 *
 * @example
 * ```ts
 * import * as ServerFeedback from "@httpkit/rate-limiter/ServerFeedback"
 *
 * const feedback = ServerFeedback.parse({ "retry-after": "30" }, { now: Date.now() })
 * ServerFeedback.holdOff(feedback, { status: 429 }) // 30000
 * ServerFeedback.holdOff(feedback, { status: 200 }) // undefined
 * ```
 *
 * @category decisions
 * @since 0.1.0
 */
export const holdOff = (feedback: Feedback, options: HoldOffOptions): number | undefined => {
  const max = option(options?.maxMillis) ?? defaultMaxMillis
  const cap = (value: number): number => Math.min(Math.ceil(value), max)
  const budgets: ReadonlyArray<Budget> = Array.isArray(feedback?.budgets) ? feedback.budgets : []
  let latest: number | undefined
  for (const item of budgets) {
    if (!isExhausted(item, { tokens: options?.tokens })) continue
    const reset = option(item.resetAfterMillis) ?? option(item.windowMillis)
    if (reset !== undefined) latest = latest === undefined ? reset : Math.max(latest, reset)
  }
  if (options?.status === 429) {
    const retryAfter = option(feedback?.retryAfterMillis)
    if (retryAfter !== undefined) return cap(retryAfter)
    return cap(latest ?? option(options.fallbackMillis) ?? defaultFallbackMillis)
  }
  return latest === undefined ? undefined : cap(latest)
}

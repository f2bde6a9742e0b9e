/**
 * A rate-limited endpoint answering 429 with `Retry-After` and rate-limit
 * headers, and the rate-limit header dialects the API mocks share.
 *
 * `GET|POST /ratelimit?limit=N&window=ms&key=K&cost=C&dialect=D` keeps a fixed
 * window per key. A window starts with the first request of a key (not on a
 * clock boundary), so a test using a long window never straddles two windows.
 * Refused requests spend nothing. `GET /ratelimit/stats?key=K` tells how many
 * requests were allowed and refused per key.
 *
 * **Dialects** (`dialect`, a comma-separated list; default `ietf,x`):
 *
 * - `ietf`: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (whole
 *   seconds until the reset, rounded up), `RateLimit-Policy: N;w=S`.
 * - `x`: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
 *   (epoch seconds, rounded up).
 * - `openai`: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
 *   `x-ratelimit-reset-requests` (a Go duration such as `6s`, `120ms`,
 *   `1m30s`, `59.873s`), and `retry-after-ms` on 429.
 * - `anthropic`: `anthropic-ratelimit-requests-limit`, `-remaining`, `-reset`
 *   (an RFC 3339 time, rounded up to the second).
 * - `all`: every one of them.
 *
 * `Retry-After` (whole seconds, rounded up, at least 1) is on every 429.
 */
import * as Effect from "effect/Effect"
import { badRequest, intParam, query } from "../http.ts"
import * as Respond from "../respond.ts"
import type { RouteEntry } from "../routeTable.ts"
import type { RateWindow, ServerState } from "../state.ts"

/** Most distinct keys whose windows (and stats) are kept; the oldest is dropped first. */
export const maxRateKeys = 10_000
/** Largest `limit` accepted. */
export const maxLimit = 1_000_000
/** Longest `window` accepted, in milliseconds (one hour). */
export const maxWindowMillis = 3_600_000
/** Longest `key` accepted, in characters. */
export const maxKeyLength = 200

/** Deletes the oldest entries of `map` until there is room for one more. */
export const makeRoom = <V>(map: Map<string, V>, max: number = maxRateKeys): void => {
  while (map.size >= max) {
    const oldest = map.keys().next()
    if (oldest.done) return
    map.delete(oldest.value)
  }
}

/**
 * The current window of `key`: the stored one while it lasts, otherwise a
 * fresh one starting now (which then counts as the newest key).
 */
export const currentWindow = <W extends RateWindow>(
  windows: Map<string, W>,
  key: string,
  windowMillis: number,
  now: number,
  fresh: (startedAt: number) => W
): W => {
  const existing = windows.get(key)
  if (existing !== undefined && now < existing.startedAt + windowMillis) return existing
  if (existing !== undefined) windows.delete(key)
  else makeRoom(windows)
  const window = fresh(now)
  windows.set(key, window)
  return window
}

/** Whole seconds until `resetInMillis` has passed, at least 1: a `Retry-After` value. */
export const retryAfterSeconds = (resetInMillis: number): number => Math.max(1, Math.ceil(resetInMillis / 1000))

/**
 * Formats a duration the way Go's `time.Duration` prints it, which is what
 * OpenAI's `x-ratelimit-reset-*` headers carry: `0s`, `120ms`, `6s`, `8.64s`,
 * `1m0s`, `1m30.5s`, `1h2m3s`. Millisecond precision.
 */
export const formatGoDuration = (millis: number): string => {
  const total = Math.max(0, Math.round(millis))
  if (total === 0) return "0s"
  if (total < 1000) return `${total}ms`
  const hours = Math.floor(total / 3_600_000)
  const minutes = Math.floor((total % 3_600_000) / 60_000)
  const ms = total % 60_000
  const whole = Math.floor(ms / 1000)
  const fraction = ms % 1000
  const seconds = fraction === 0 ? `${whole}` : `${whole}.${fraction.toString().padStart(3, "0").replace(/0+$/, "")}`
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}

/** An RFC 3339 time (UTC, whole seconds, rounded up so that a client waiting until then is never early). */
export const formatRfc3339 = (epochMillis: number): string =>
  new Date(Math.ceil(epochMillis / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")

/** One limit as the headers report it. */
export interface LimitSnapshot {
  readonly limit: number
  readonly remaining: number
  /** Epoch milliseconds at which the window resets. */
  readonly resetAt: number
  /** Milliseconds from now until the reset. */
  readonly resetIn: number
}

/** The header dialects `/ratelimit` speaks. */
export type Dialect = "ietf" | "x" | "openai" | "anthropic"

const allDialects: ReadonlyArray<Dialect> = ["ietf", "x", "openai", "anthropic"]

/** Parses a `dialect` parameter; `undefined` when it names an unknown dialect. */
export const parseDialects = (raw: string | null): ReadonlySet<Dialect> | undefined => {
  if (raw === null || raw === "") return new Set<Dialect>(["ietf", "x"])
  const out = new Set<Dialect>()
  for (const part of raw.split(",")) {
    const name = part.trim().toLowerCase()
    if (name === "all") allDialects.forEach((dialect) => out.add(dialect))
    else if ((allDialects as ReadonlyArray<string>).includes(name)) out.add(name as Dialect)
    else return undefined
  }
  return out
}

/** IETF draft headers: `RateLimit-Limit`, `-Remaining`, `-Reset` (delta seconds) and `-Policy`. */
export const ietfHeaders = (snapshot: LimitSnapshot, windowMillis: number): Record<string, string> => ({
  "ratelimit-limit": String(snapshot.limit),
  "ratelimit-remaining": String(snapshot.remaining),
  "ratelimit-reset": String(Math.ceil(snapshot.resetIn / 1000)),
  "ratelimit-policy": `${snapshot.limit};w=${retryAfterSeconds(windowMillis)}`
})

/** The common `X-RateLimit-*` headers, `X-RateLimit-Reset` in epoch seconds. */
export const xHeaders = (snapshot: LimitSnapshot): Record<string, string> => ({
  "x-ratelimit-limit": String(snapshot.limit),
  "x-ratelimit-remaining": String(snapshot.remaining),
  "x-ratelimit-reset": String(Math.ceil(snapshot.resetAt / 1000))
})

/** OpenAI's `x-ratelimit-{limit,remaining,reset}-<unit>` headers, the reset as a Go duration. */
export const openAiHeaders = (unit: "requests" | "tokens", snapshot: LimitSnapshot): Record<string, string> => ({
  [`x-ratelimit-limit-${unit}`]: String(snapshot.limit),
  [`x-ratelimit-remaining-${unit}`]: String(snapshot.remaining),
  [`x-ratelimit-reset-${unit}`]: formatGoDuration(snapshot.resetIn)
})

/** Anthropic's `anthropic-ratelimit-<unit>-{limit,remaining,reset}` headers, the reset as RFC 3339. */
export const anthropicHeaders = (
  unit: "requests" | "tokens" | "input-tokens" | "output-tokens",
  snapshot: LimitSnapshot
): Record<string, string> => ({
  [`anthropic-ratelimit-${unit}-limit`]: String(snapshot.limit),
  [`anthropic-ratelimit-${unit}-remaining`]: String(snapshot.remaining),
  [`anthropic-ratelimit-${unit}-reset`]: formatRfc3339(snapshot.resetAt)
})

/** `Retry-After` in whole seconds; `retry-after-ms` too for the OpenAI dialect, as OpenAI's SDKs read it first. */
export const retryAfterHeaders = (resetInMillis: number, withMillis: boolean): Record<string, string> => ({
  "retry-after": String(retryAfterSeconds(resetInMillis)),
  ...(withMillis ? { "retry-after-ms": String(Math.max(1, Math.ceil(resetInMillis))) } : {})
})

interface KeyStats {
  allowed: number
  refused: number
}

export const routes = (state: ServerState): ReadonlyArray<RouteEntry> => {
  const stats = new Map<string, KeyStats>()
  state.onReset(() => stats.clear())

  const count = (key: string, allowed: boolean): void => {
    let entry = stats.get(key)
    if (entry === undefined) {
      makeRoom(stats)
      entry = { allowed: 0, refused: 0 }
      stats.set(key, entry)
    }
    if (allowed) entry.allowed += 1
    else entry.refused += 1
  }

  const limited = Effect.gen(function*() {
    const params = yield* query
    const limit = intParam(params, "limit", 10, 1, maxLimit)
    if (limit === undefined) return badRequest(`limit must be an integer from 1 to ${maxLimit}`)
    const windowMillis = intParam(params, "window", 1000, 1, maxWindowMillis)
    if (windowMillis === undefined) return badRequest(`window must be an integer from 1 to ${maxWindowMillis}`)
    const cost = intParam(params, "cost", 1, 0, limit)
    if (cost === undefined) return badRequest(`cost must be an integer from 0 to limit (${limit})`)
    const key = params.get("key") ?? "default"
    if (key.length === 0 || key.length > maxKeyLength) {
      return badRequest(`key must have from 1 to ${maxKeyLength} characters`)
    }
    const dialects = parseDialects(params.get("dialect"))
    if (dialects === undefined) {
      return badRequest(`dialect must be a comma-separated list of ietf, x, openai, anthropic, all`)
    }

    const now = Date.now()
    const window = currentWindow(state.rateWindows, key, windowMillis, now, (startedAt) => ({ startedAt, used: 0 }))
    const allowed = window.used + cost <= limit
    if (allowed) window.used += cost
    count(key, allowed)

    const resetAt = window.startedAt + windowMillis
    const snapshot: LimitSnapshot = {
      limit,
      remaining: Math.max(0, limit - window.used),
      resetAt,
      resetIn: Math.max(0, resetAt - now)
    }
    const headers: Record<string, string> = {}
    if (dialects.has("ietf")) Object.assign(headers, ietfHeaders(snapshot, windowMillis))
    if (dialects.has("x")) Object.assign(headers, xHeaders(snapshot))
    if (dialects.has("openai")) Object.assign(headers, openAiHeaders("requests", snapshot))
    if (dialects.has("anthropic")) Object.assign(headers, anthropicHeaders("requests", snapshot))
    if (allowed) {
      return Respond.jsonUnsafe(
        { allowed: true, key, limit, remaining: snapshot.remaining, reset_ms: snapshot.resetIn },
        { headers }
      )
    }
    Object.assign(headers, retryAfterHeaders(snapshot.resetIn, dialects.has("openai")))
    return Respond.jsonUnsafe(
      {
        allowed: false,
        key,
        limit,
        remaining: snapshot.remaining,
        reset_ms: snapshot.resetIn,
        retry_after: retryAfterSeconds(snapshot.resetIn)
      },
      { status: 429, headers }
    )
  })

  return [
    {
      methods: ["GET", "POST"],
      path: "/ratelimit",
      summary: "a fixed window per key: 200 within budget, 429 with Retry-After and rate-limit headers once spent",
      switches: {
        limit: `requests per window, 1-${maxLimit}, default 10`,
        window: `ms, 1-${maxWindowMillis}, default 1000`,
        key: "the window's key, default default",
        cost: "what this request spends, 0 to limit, default 1",
        dialect: "ietf, x, openai, anthropic or all, comma-separated; default ietf,x"
      },
      handler: limited
    },
    {
      methods: ["GET"],
      path: "/ratelimit/stats",
      summary: "how many requests each key was allowed and refused",
      switches: { key: "one key; default every key" },
      handler: Effect.gen(function*() {
        const key = (yield* query).get("key")
        if (key !== null) {
          const entry = stats.get(key) ?? { allowed: 0, refused: 0 }
          return Respond.jsonUnsafe({ key, allowed: entry.allowed, refused: entry.refused })
        }
        const keys: Record<string, KeyStats> = Object.create(null)
        let allowed = 0
        let refused = 0
        for (const [name, entry] of stats) {
          keys[name] = { allowed: entry.allowed, refused: entry.refused }
          allowed += entry.allowed
          refused += entry.refused
        }
        return Respond.jsonUnsafe({ allowed, refused, keys })
      })
    }
  ]
}

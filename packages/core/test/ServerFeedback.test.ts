/**
 * ServerFeedback: every dialect and edge case as pure unit tests (a fixed
 * `now`) and a seeded fuzz over hostile values. Every dialect read from the
 * real fault-injection server over sockets is in the client's tests
 * (`packages/client/test/serverFeedbackSockets.test.ts`): this package's
 * tests cannot depend on `@httpkit/testing`, which depends on it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ServerFeedback from "../src/ServerFeedback.ts"

/** 2026-01-01T00:00:00Z, in epoch milliseconds. */
const now = Date.UTC(2026, 0, 1)
const nowSeconds = now / 1000

const parse = (headers: ServerFeedback.Headers, at: number = now) => ServerFeedback.parse(headers, { now: at })

const budgetsOf = (feedback: ServerFeedback.Feedback, source: ServerFeedback.Dialect) =>
  feedback.budgets.filter((budget) => budget.source === source)

describe("ServerFeedback.parse: Retry-After and retry-after-ms", () => {
  it("reads delta seconds", () => {
    assert.deepStrictEqual(parse({ "retry-after": "30" }), { retryAfterMillis: 30_000, budgets: [] })
  })

  it("reads an HTTP-date relative to now, and a past date as 0", () => {
    assert.strictEqual(parse({ "retry-after": "Thu, 01 Jan 2026 00:00:42 GMT" }).retryAfterMillis, 42_000)
    assert.strictEqual(parse({ "retry-after": "Wed, 31 Dec 2025 23:00:00 GMT" }).retryAfterMillis, 0)
  })

  it("prefers retry-after-ms (decimals rounded up) over Retry-After", () => {
    assert.strictEqual(parse({ "retry-after": "2", "retry-after-ms": "1500" }).retryAfterMillis, 1_500)
    assert.strictEqual(parse({ "retry-after-ms": "12.2" }).retryAfterMillis, 13)
    // A malformed retry-after-ms leaves Retry-After in charge.
    assert.strictEqual(parse({ "retry-after": "2", "retry-after-ms": "soon" }).retryAfterMillis, 2_000)
  })

  it("ignores negative, malformed and impossible values", () => {
    for (const value of ["-3", "120junk", "1e3", "NaN", "Infinity", "", "Mon, 30 Feb 2026 00:00:00 GMT"]) {
      assert.strictEqual(parse({ "retry-after": value }).retryAfterMillis, undefined, value)
      assert.strictEqual(parse({ "retry-after-ms": value }).retryAfterMillis, undefined, value)
    }
  })

  it("takes the latest of repeated values, in arrays or joined with commas", () => {
    assert.strictEqual(parse({ "retry-after": ["5", "7"] }).retryAfterMillis, 7_000)
    assert.strictEqual(parse({ "retry-after": "5, 7" }).retryAfterMillis, 7_000)
    assert.strictEqual(parse({ "retry-after": ["junk", "4"] }).retryAfterMillis, 4_000)
  })

  it("ignores HTTP-dates when now is not a finite number, but keeps delta seconds", () => {
    const date = { "retry-after": "Thu, 01 Jan 2026 00:00:42 GMT" }
    assert.strictEqual(ServerFeedback.parse(date, { now: Number.NaN }).retryAfterMillis, undefined)
    assert.strictEqual(ServerFeedback.parse({ "retry-after": "3" }, { now: Number.NaN }).retryAfterMillis, 3_000)
  })
})

describe("ServerFeedback.parse: IETF drafts", () => {
  it("drafts 00-06: RateLimit-Limit, -Remaining, -Reset (delta seconds) and the policy's window", () => {
    const feedback = parse({
      "ratelimit-limit": "100",
      "ratelimit-remaining": "0",
      "ratelimit-reset": "5",
      "ratelimit-policy": "10;w=1, 100;w=60"
    })
    assert.deepStrictEqual(feedback.budgets, [
      { unit: "requests", limit: 100, remaining: 0, resetAfterMillis: 5_000, windowMillis: 60_000, source: "ietf" }
    ])
  })

  it("drafts 00-02: a RateLimit-Limit that lists policies after the expiring limit", () => {
    const feedback = parse({ "ratelimit-limit": "10, 10;w=1, 50;w=60", "ratelimit-remaining": "3" })
    assert.deepStrictEqual(feedback.budgets, [{ unit: "requests", limit: 10, remaining: 3, source: "ietf" }])
  })

  it("draft 07: the RateLimit dictionary with an integer RateLimit-Policy", () => {
    const feedback = parse({ ratelimit: "limit=100, remaining=0, reset=5", "ratelimit-policy": "100;w=60" })
    assert.deepStrictEqual(feedback.budgets, [
      { unit: "requests", limit: 100, remaining: 0, resetAfterMillis: 5_000, windowMillis: 60_000, source: "ietf" }
    ])
  })

  it("drafts 08+: named service limits joined with named policies", () => {
    const feedback = parse({
      ratelimit: "\"default\";r=0;t=5",
      "ratelimit-policy": "\"default\";q=100;w=60"
    })
    assert.deepStrictEqual(feedback.budgets, [
      { unit: "requests", limit: 100, remaining: 0, resetAfterMillis: 5_000, windowMillis: 60_000, source: "ietf" }
    ])
  })

  it("drafts 08+: several policies, split over repeated fields, with partition keys and extensions", () => {
    const feedback = parse({
      ratelimit: ["\"permin\";r=0;t=12;pk=:cHsdsRa894==:", "\"perhr\";r=900;t=1800"],
      "ratelimit-policy": "\"permin\";q=50;w=60;acme-burst=5, \"perhr\";q=1000;w=3600, \"daily\";q=5000;w=86400"
    })
    assert.deepStrictEqual(feedback.budgets, [
      { unit: "requests", limit: 50, remaining: 0, resetAfterMillis: 12_000, windowMillis: 60_000, source: "ietf" },
      {
        unit: "requests",
        limit: 1000,
        remaining: 900,
        resetAfterMillis: 1_800_000,
        windowMillis: 3_600_000,
        source: "ietf"
      },
      // A policy without a service limit still tells its quota and window.
      { unit: "requests", limit: 5000, windowMillis: 86_400_000, source: "ietf" }
    ])
  })

  it("drafts 08+: items whose policy counts content bytes or concurrent requests are left out", () => {
    const feedback = parse({
      ratelimit: "\"bytes\";r=0;t=10, \"default\";r=4",
      "ratelimit-policy": "\"bytes\";q=65535;qu=\"content-bytes\";w=10, \"default\";q=5"
    })
    assert.deepStrictEqual(feedback.budgets, [{ unit: "requests", limit: 5, remaining: 4, source: "ietf" }])
  })

  it("ignores a malformed structured field as a whole", () => {
    for (
      const value of [
        "\"default\";r=0;t=5,", // trailing comma
        "\"default;r=0", // unterminated string
        "LIMIT=100, REMAINING=0, RESET=5", // keys must be lower case
        "\"default\";r=0;t=5 junk",
        "limit=1000000000000000000, remaining=0, reset=5" // more than 15 digits
      ]
    ) {
      assert.deepStrictEqual(parse({ ratelimit: value }).budgets, [], value)
    }
  })

  it("a reset without a window or remaining count is still reported", () => {
    assert.deepStrictEqual(parse({ ratelimit: "\"default\";t=3" }).budgets, [
      { unit: "requests", resetAfterMillis: 3_000, source: "ietf" }
    ])
  })
})

describe("ServerFeedback.parse: X-RateLimit-*", () => {
  it("tells delta seconds, epoch seconds and epoch milliseconds apart by magnitude", () => {
    const reset = (value: string, at: number = now) =>
      parse({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": value }, at).budgets[0]?.resetAfterMillis
    assert.strictEqual(reset("30"), 30_000)
    assert.strictEqual(reset(String(nowSeconds + 45)), 45_000) // GitHub: epoch seconds
    assert.strictEqual(reset(String(now + 1_500)), 1_500) // epoch milliseconds
    assert.strictEqual(reset(`${nowSeconds + 2}.250`), 2_250) // epoch seconds with a fraction
    assert.strictEqual(reset(String(nowSeconds - 10)), 0) // already past
    // The edges of the rule: just under half of now (in seconds) is a delta, at it an epoch.
    assert.strictEqual(reset(String(Math.floor(nowSeconds / 2) - 1)), (Math.floor(nowSeconds / 2) - 1) * 1000)
    assert.strictEqual(reset(String(Math.ceil(nowSeconds / 2))), 0)
    // Under a TestClock at 0 a delta stays a delta.
    assert.strictEqual(reset("30", 0), 30_000)
  })

  it("reads limit and remaining, and keeps the most cautious of repeated values", () => {
    const feedback = parse({
      "x-ratelimit-limit": ["60", "100"],
      "x-ratelimit-remaining": "5, 0",
      "x-ratelimit-reset": ["10", "20"]
    })
    assert.deepStrictEqual(feedback.budgets, [
      { unit: "requests", limit: 60, remaining: 0, resetAfterMillis: 20_000, source: "x" }
    ])
  })

  it("ignores negative, fractional counts and junk", () => {
    const feedback = parse({ "x-ratelimit-limit": "-5", "x-ratelimit-remaining": "0.5", "x-ratelimit-reset": "soon" })
    assert.deepStrictEqual(feedback.budgets, [])
  })
})

describe("ServerFeedback.parse: OpenAI", () => {
  it("parses Go durations", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["6s", 6_000],
      ["12ms", 12],
      ["1m30s", 90_000],
      ["59.873s", 59_873],
      ["1h2m3s", 3_723_000],
      ["0s", 0],
      ["0", 0],
      ["500us", 0.5],
      ["500\u00b5s", 0.5], // micro sign
      ["500\u03bcs", 0.5], // Greek mu
      ["1500000ns", 1.5],
      ["1m0s", 60_000],
      ["1.5h", 5_400_000],
      ["6S", 6_000], // units are matched case-insensitively
      ["+2s", 2_000]
    ]
    for (const [text, expected] of cases) assert.strictEqual(ServerFeedback.parseGoDuration(text), expected, text)
  })

  it("rejects malformed and negative Go durations", () => {
    for (const text of ["", "6", "-1s", "1x", "s", "1.2.3s", "1s junk", " ", "+", "1d", "Infinity", "NaN", "1e3s"]) {
      assert.strictEqual(ServerFeedback.parseGoDuration(text), undefined, JSON.stringify(text))
    }
    assert.strictEqual(ServerFeedback.parseGoDuration("1".repeat(65) + "s"), undefined)
  })

  it("reads the requests and tokens budgets, resets rounded up to whole milliseconds", () => {
    const feedback = parse({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "1m30s",
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-tokens": "149000",
      "x-ratelimit-reset-tokens": "500us"
    })
    assert.deepStrictEqual(budgetsOf(feedback, "openai"), [
      { unit: "requests", limit: 60, remaining: 0, resetAfterMillis: 90_000, source: "openai" },
      { unit: "tokens", limit: 150_000, remaining: 149_000, resetAfterMillis: 1, source: "openai" }
    ])
    // OpenAI's names never leak into the plain X dialect.
    assert.deepStrictEqual(budgetsOf(feedback, "x"), [])
  })
})

describe("ServerFeedback.parse: Anthropic", () => {
  it("parses RFC 3339 times, with offsets, fractions and lower-case separators", () => {
    assert.strictEqual(ServerFeedback.parseRfc3339("2026-01-01T00:00:30Z"), now + 30_000)
    assert.strictEqual(ServerFeedback.parseRfc3339("2026-01-01T01:00:30.5+01:00"), now + 30_500)
    assert.strictEqual(ServerFeedback.parseRfc3339("2025-12-31t19:00:00-05:00"), now)
    assert.strictEqual(ServerFeedback.parseRfc3339("2026-01-01 00:00:01z"), now + 1_000)
    for (
      const text of ["2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "x"]
    ) {
      assert.strictEqual(ServerFeedback.parseRfc3339(text), undefined, text)
    }
  })

  it("reads the four units, resets relative to now", () => {
    const feedback = parse({
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:30Z",
      "anthropic-ratelimit-tokens-limit": "100000",
      "anthropic-ratelimit-tokens-remaining": "0",
      "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:45Z",
      "anthropic-ratelimit-input-tokens-limit": "80000",
      "anthropic-ratelimit-input-tokens-remaining": "100",
      "anthropic-ratelimit-input-tokens-reset": "2025-12-31T23:59:00Z",
      "anthropic-ratelimit-output-tokens-limit": "20000",
      "anthropic-ratelimit-output-tokens-remaining": "20000",
      "anthropic-ratelimit-output-tokens-reset": "not a time"
    })
    assert.deepStrictEqual(feedback.budgets, [
      { unit: "requests", limit: 50, remaining: 0, resetAfterMillis: 30_000, source: "anthropic" },
      { unit: "tokens", limit: 100_000, remaining: 0, resetAfterMillis: 45_000, source: "anthropic" },
      { unit: "input-tokens", limit: 80_000, remaining: 100, resetAfterMillis: 0, source: "anthropic" },
      { unit: "output-tokens", limit: 20_000, remaining: 20_000, source: "anthropic" }
    ])
  })
})

const exhausted = (unit: ServerFeedback.Unit, resetAfterMillis: number): ServerFeedback.Budget => ({
  unit,
  remaining: 0,
  resetAfterMillis,
  source: "openai"
})

describe("ServerFeedback.holdOff", () => {
  it("on 429, Retry-After wins over any reset", () => {
    const feedback = { retryAfterMillis: 2_000, budgets: [exhausted("requests", 30_000)] }
    assert.strictEqual(ServerFeedback.holdOff(feedback, { status: 429 }), 2_000)
  })

  it("on 429 without Retry-After, the latest reset among exhausted budgets", () => {
    const feedback = {
      budgets: [exhausted("requests", 3_000), exhausted("tokens", 8_000), {
        unit: "requests" as const,
        remaining: 5,
        resetAfterMillis: 60_000,
        source: "x" as const
      }]
    }
    assert.strictEqual(ServerFeedback.holdOff(feedback, { status: 429 }), 8_000)
  })

  it("on 429 without any hint, fallbackMillis (1 s by default)", () => {
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [] }, { status: 429 }), 1_000)
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [] }, { status: 429, fallbackMillis: 250 }), 250)
    // An exhausted budget without any reset is no hint either.
    const unknown = { budgets: [{ unit: "requests" as const, remaining: 0, source: "x" as const }] }
    assert.strictEqual(ServerFeedback.holdOff(unknown, { status: 429 }), 1_000)
  })

  it("on other statuses, the reset of an exhausted requests or tokens budget, else undefined", () => {
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [exhausted("requests", 4_000)] }, { status: 200 }), 4_000)
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [exhausted("tokens", 6_000)] }, { status: 200 }), 6_000)
    assert.strictEqual(
      ServerFeedback.holdOff({ budgets: [exhausted("output-tokens", 7_000)] }, { status: 503 }),
      7_000
    )
    const plenty = { unit: "requests" as const, remaining: 10, resetAfterMillis: 4_000, source: "x" as const }
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [plenty] }, { status: 200 }), undefined)
    // Retry-After on a 503 is the retry policy's business, not the key's.
    assert.strictEqual(ServerFeedback.holdOff({ retryAfterMillis: 5_000, budgets: [] }, { status: 503 }), undefined)
  })

  it("falls back to the policy window when an exhausted budget has no reset", () => {
    const budget: ServerFeedback.Budget = { unit: "requests", remaining: 0, windowMillis: 60_000, source: "ietf" }
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [budget] }, { status: 200 }), 60_000)
  })

  it("caps every wait at maxMillis, 10 minutes by default", () => {
    assert.strictEqual(ServerFeedback.holdOff({ retryAfterMillis: 3_600_000, budgets: [] }, { status: 429 }), 600_000)
    assert.strictEqual(
      ServerFeedback.holdOff({ retryAfterMillis: 3_600_000, budgets: [] }, { status: 429, maxMillis: 30_000 }),
      30_000
    )
    assert.strictEqual(
      ServerFeedback.holdOff({ budgets: [] }, { status: 429, fallbackMillis: 5_000, maxMillis: 2_000 }),
      2_000
    )
    const huge = parse({ "retry-after": "999999999999" })
    assert.strictEqual(ServerFeedback.holdOff(huge, { status: 429 }), 600_000)
  })

  it("a Retry-After, RateLimit-Reset or X-RateLimit-Reset too large to count is the longest wait, never none", () => {
    const huge = "99999999999999999999"
    const cases: ReadonlyArray<ServerFeedback.Headers> = [
      { "retry-after": huge },
      { "retry-after": "9007199254741" },
      { "ratelimit-remaining": "0", "ratelimit-reset": huge },
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": huge },
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "9".repeat(400) }
    ]
    for (const headers of cases) {
      const label = JSON.stringify(headers).slice(0, 80)
      assert.strictEqual(
        ServerFeedback.retryDelay(headers, { status: 429, now }),
        Number.MAX_SAFE_INTEGER,
        label
      )
      assert.strictEqual(ServerFeedback.holdOff(parse(headers), { status: 429 }), 600_000, label)
    }
  })

  it("replaces unusable options with the defaults", () => {
    const feedback = { retryAfterMillis: 3_600_000, budgets: [] }
    for (const maxMillis of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      assert.strictEqual(ServerFeedback.holdOff(feedback, { status: 429, maxMillis }), 600_000, String(maxMillis))
    }
    for (const fallbackMillis of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      assert.strictEqual(ServerFeedback.holdOff({ budgets: [] }, { status: 429, fallbackMillis }), 1_000)
    }
  })

  it("a request's token cost makes a token budget with less remaining hold off too", () => {
    const tokens: ServerFeedback.Budget = {
      unit: "tokens",
      limit: 10_000,
      remaining: 800,
      resetAfterMillis: 9_000,
      source: "openai"
    }
    assert.isFalse(ServerFeedback.isExhausted(tokens))
    assert.isFalse(ServerFeedback.isExhausted(tokens, { tokens: 800 }))
    assert.isTrue(ServerFeedback.isExhausted(tokens, { tokens: 1_200 }))
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [tokens] }, { status: 200 }), undefined)
    assert.strictEqual(ServerFeedback.holdOff({ budgets: [tokens] }, { status: 200, tokens: 1_200 }), 9_000)
    // A cost above the whole limit counts as the limit: it passes once the budget is full again.
    const full = { ...tokens, remaining: 10_000 }
    assert.isFalse(ServerFeedback.isExhausted(full, { tokens: 50_000 }))
    assert.isTrue(ServerFeedback.isExhausted(tokens, { tokens: 50_000 }))
    // The cost never applies to a requests budget.
    const requests: ServerFeedback.Budget = { unit: "requests", remaining: 1, source: "x" }
    assert.isFalse(ServerFeedback.isExhausted(requests, { tokens: 1_000 }))
  })
})

/** A small seeded generator, so the fuzz is the same on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

const headerNames = [
  "retry-after",
  "retry-after-ms",
  "ratelimit",
  "ratelimit-policy",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-reset-tokens",
  "x-ratelimit-remaining-tokens",
  "anthropic-ratelimit-requests-remaining",
  "anthropic-ratelimit-requests-reset",
  "anthropic-ratelimit-tokens-remaining",
  "anthropic-ratelimit-output-tokens-reset"
]

const fragments = [
  "0",
  "1",
  "5",
  "-",
  "-1",
  ".",
  "9".repeat(20),
  "9".repeat(400),
  "1e308",
  "NaN",
  "Infinity",
  "-Infinity",
  ",",
  ", ",
  ";",
  "=",
  "\"",
  ":",
  "(",
  ")",
  "?1",
  "@",
  "r=",
  "t=",
  "q=",
  "w=",
  "limit=",
  "\"default\"",
  "s",
  "ms",
  "\u00b5s",
  "h",
  "m",
  "T",
  "Z",
  "z",
  " ",
  "\t",
  "GMT",
  "Thu, 01 Jan 2026 00:00:42 GMT",
  "2026-01-01T00:00:30Z",
  "1767225600",
  "1767225600000",
  "\u0000",
  "\u00ff",
  "\u{1f600}",
  "__proto__",
  "constructor"
]

const validValues = [
  "0",
  "30",
  "1767225645",
  "1767225645000",
  "1500",
  "6s",
  "1m30s",
  "59.873s",
  "500\u00b5s",
  "\"default\";r=0;t=5",
  "\"default\";q=100;w=60",
  "limit=10, remaining=0, reset=5",
  "100;w=60",
  "2026-01-01T00:00:30Z",
  "Thu, 01 Jan 2026 00:00:42 GMT"
]

/** Every number a result holds is finite, non-negative and whole. */
const assertSane = (feedback: ServerFeedback.Feedback, context: string) => {
  const check = (value: number | undefined, what: string) => {
    if (value === undefined) return
    assert.ok(Number.isSafeInteger(value) && value >= 0, `${what} = ${value} for ${context}`)
  }
  check(feedback.retryAfterMillis, "retryAfterMillis")
  for (const budget of feedback.budgets) {
    check(budget.limit, "limit")
    check(budget.remaining, "remaining")
    check(budget.resetAfterMillis, "resetAfterMillis")
    check(budget.windowMillis, "windowMillis")
  }
}

describe("ServerFeedback.retryDelay", () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0)

  it("takes retry-after-ms over Retry-After, on any status", () => {
    assert.strictEqual(ServerFeedback.retryDelay({ "retry-after": "3" }, { status: 503, now }), 3_000)
    assert.strictEqual(
      ServerFeedback.retryDelay({ "retry-after": "3", "retry-after-ms": "1500" }, { status: 429, now }),
      1_500
    )
    assert.strictEqual(
      ServerFeedback.retryDelay({ "retry-after": "Sat, 05 Dec 2026 12:00:07 GMT" }, { status: 503, now }),
      7_000
    )
  })

  it("on a 429 without Retry-After, waits for the latest reset among the empty budgets", () => {
    const headers = {
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "1m30s",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "2s",
      "ratelimit": "limit=10, remaining=3, reset=500"
    }
    assert.strictEqual(ServerFeedback.retryDelay(headers, { status: 429, now }), 90_000)
  })

  it("says nothing on other statuses without Retry-After, or when no budget is empty", () => {
    const empty = { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30" }
    assert.strictEqual(ServerFeedback.retryDelay(empty, { status: 503, now }), undefined)
    assert.strictEqual(ServerFeedback.retryDelay({ "x-ratelimit-remaining": "2" }, { status: 429, now }), undefined)
    assert.strictEqual(ServerFeedback.retryDelay({}, { status: 429, now }), undefined)
    assert.strictEqual(ServerFeedback.retryDelay({ "retry-after": "soon" }, { status: 429, now }), undefined)
  })

  it("has no cap and no fallback, unlike holdOff: the caller applies its own", () => {
    const headers = { "retry-after": "3600" }
    assert.strictEqual(ServerFeedback.retryDelay(headers, { status: 429, now }), 3_600_000)
    assert.strictEqual(ServerFeedback.holdOff(ServerFeedback.parse(headers, { now }), { status: 429 }), 600_000)
  })
})

describe("ServerFeedback against hostile input", () => {
  it("a seeded fuzz: never throws, never a negative, fractional or infinite number, never a wait beyond the cap", () => {
    const next = random(20_260_101)
    const pickOne = <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
    const value = (): string => {
      if (next() < 0.02) return pickOne(fragments).repeat(1 + Math.floor(next() * 3_000)).slice(0, 10_240)
      // Valid values, sometimes with junk around them, probe the edges of each parser.
      if (next() < 0.4) {
        const valid = pickOne(validValues)
        const roll = next()
        return roll < 0.5 ? valid : roll < 0.75 ? valid + pickOne(fragments) : pickOne(fragments) + valid
      }
      let out = ""
      const length = 1 + Math.floor(next() * 8)
      for (let i = 0; i < length; i++) out += pickOne(fragments)
      return next() < 0.2 ? out.toUpperCase() : out
    }
    const options = [undefined, 0, 1, 2_000, Number.NaN, Number.POSITIVE_INFINITY, -5, 1e300]
    let withBudgets = 0
    let withRetryAfter = 0
    let positiveWaits = 0
    for (let round = 0; round < 3_000; round++) {
      const headers: Record<string, string | Array<string>> = {}
      const count = 1 + Math.floor(next() * 6)
      for (let i = 0; i < count; i++) {
        headers[pickOne(headerNames)] = next() < 0.2 ? [value(), value(), value()] : value()
      }
      const at = pickOne([now, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, 8.64e15])
      const context = JSON.stringify(headers).slice(0, 300)
      const feedback = ServerFeedback.parse(headers, { now: at })
      assertSane(feedback, context)
      if (feedback.budgets.length > 0) withBudgets++
      if (feedback.retryAfterMillis !== undefined) withRetryAfter++
      for (const status of [200, 429, 503]) {
        const maxMillis = pickOne(options)
        const wait = ServerFeedback.holdOff(feedback, {
          status,
          maxMillis,
          fallbackMillis: pickOne(options),
          tokens: pickOne(options)
        })
        if (wait === undefined) continue
        const cap = maxMillis !== undefined && Number.isFinite(maxMillis) && maxMillis >= 0 ? maxMillis : 600_000
        assert.ok(Number.isFinite(wait) && wait >= 0 && wait <= cap, `wait ${wait} (cap ${cap}) for ${context}`)
        if (wait > 0) positiveWaits++
      }
    }
    // The fuzz reaches the parsers, not only their rejections.
    assert.ok(
      withBudgets > 500 && withRetryAfter > 100 && positiveWaits > 100,
      `${withBudgets} ${withRetryAfter} ${positiveWaits}`
    )
  })

  it("values over 4096 characters are ignored, and long junk parses quickly", () => {
    const long = "1".repeat(10_240)
    const feedback = parse({
      "retry-after": long,
      ratelimit: `"a";r=0;t=5, ${"\"b\";r=1, ".repeat(2_000)}"c";r=2`,
      "x-ratelimit-reset": long,
      "x-ratelimit-reset-requests": `${"1h".repeat(5_000)}`,
      "anthropic-ratelimit-requests-reset": `2026-01-01T00:00:30Z${" ".repeat(5_000)}`
    })
    assert.deepStrictEqual(feedback, { budgets: [] })
    // Just under the limit, a structured field with many members parses, and only the first 16 count.
    const members = Array.from({ length: 200 }, (_, i) => `"p${i}";r=0;t=1`).join(", ")
    assert.ok(members.length <= ServerFeedback.maxValueLength)
    assert.strictEqual(parse({ ratelimit: members }).budgets.length, 16)
  })

  it("tolerates mixed-case names, non-string values, prototype keys and throwing header objects", () => {
    assert.strictEqual(parse({ "Retry-After": "3" }).retryAfterMillis, 3_000)
    const odd = JSON.parse("{\"__proto__\": \"1\", \"retry-after\": [\"2\", 5, null], \"ratelimit\": 7}")
    assert.deepStrictEqual(parse(odd), { retryAfterMillis: 2_000, budgets: [] })
    const hostile = new Proxy({}, {
      ownKeys: () => {
        throw new Error("boom")
      }
    })
    assert.deepStrictEqual(parse(hostile), { budgets: [] })
    const throwingGetter = Object.defineProperty({}, "retry-after", {
      enumerable: true,
      get: () => {
        throw new Error("boom")
      }
    })
    assert.deepStrictEqual(parse(throwingGetter), { budgets: [] })
    assert.deepStrictEqual(parse(null as unknown as ServerFeedback.Headers), { budgets: [] })
    assert.strictEqual(ServerFeedback.holdOff(null as unknown as ServerFeedback.Feedback, { status: 429 }), 1_000)
  })

  it("a polluted Object.prototype.retryAfterMillis is no server's wait: retryDelay and holdOff read their own", () => {
    const proto = Object.prototype as Record<string, unknown>
    proto.retryAfterMillis = 120_000
    try {
      assert.isUndefined(ServerFeedback.retryDelay({}, { status: 503, now: 0 }))
      assert.isUndefined(ServerFeedback.retryDelay({ "x-other": "1" }, { status: 503, now: 0 }))
      assert.strictEqual(ServerFeedback.retryDelay({ "retry-after": "2" }, { status: 503, now: 0 }), 2_000)
      assert.strictEqual(ServerFeedback.holdOff(parse({ "x-other": "1" }), { status: 429 }), 1_000)
    } finally {
      delete proto.retryAfterMillis
    }
  })

  it("under a polluted Object.prototype, what parse returns still reads as the server sent it, field by field", () => {
    const proto = Object.prototype as Record<string, unknown>
    const names = ["retryAfterMillis", "limit", "remaining", "resetAfterMillis", "windowMillis"]
    for (const name of names) proto[name] = 7
    try {
      for (const headers of [{}, { "x-other": "1" }, { "x-ratelimit-limit": "10" }, { "x-ratelimit-remaining": "0" }]) {
        const feedback = parse(headers)
        // Plain reads, as a user's code makes them.
        assert.isUndefined(feedback.retryAfterMillis, JSON.stringify(headers))
        for (const budget of feedback.budgets) {
          for (const name of names.slice(1)) {
            if (!Object.hasOwn(budget, name)) {
              assert.isUndefined(
                (budget as unknown as Record<string, unknown>)[name],
                `${name} of ${JSON.stringify(headers)}`
              )
            }
          }
        }
      }
      assert.strictEqual(parse({ "x-ratelimit-limit": "10" }).budgets[0]?.limit, 10)
    } finally {
      for (const name of names) delete proto[name]
    }
  })
})

/**
 * The one reader of wait hints (`RetryAfter`): `Retry-After` in both forms,
 * `retry-after-ms`, repeats and hostile values.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RetryAfter from "../src/RetryAfter.ts"

const now = Date.UTC(2026, 11, 5, 12, 0, 0)

describe("RetryAfter.parse", () => {
  it("reads whole seconds", () => {
    assert.strictEqual(RetryAfter.parse("120", now), 120_000)
    assert.strictEqual(RetryAfter.parse(" 0 ", now), 0)
  })

  it("reads the three HTTP-date forms, a past date as 0", () => {
    assert.strictEqual(RetryAfter.parse("Sat, 05 Dec 2026 12:00:30 GMT", now), 30_000)
    assert.strictEqual(RetryAfter.parse("Saturday, 05-Dec-26 12:01:00 GMT", now), 60_000)
    assert.strictEqual(RetryAfter.parse("Sat Dec  5 12:00:10 2026", now), 10_000)
    assert.strictEqual(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now), 0)
  })

  it("refuses what is malformed, negative, fractional or impossible", () => {
    for (const value of ["-3", "120junk", "1.5", "", "Mon, 31 Feb 2030 00:00:00 GMT"]) {
      assert.isUndefined(RetryAfter.parse(value, now), value)
    }
    assert.isUndefined(RetryAfter.parse(undefined, now))
    assert.isUndefined(RetryAfter.parse(null, now))
  })

  it("a delay too large to count (9007199254741 s, 20 digits) is Number.MAX_SAFE_INTEGER ms, never undefined", () => {
    for (const value of ["9007199254741", "99999999999999999999", "9".repeat(400)]) {
      assert.strictEqual(RetryAfter.parse(value, now), Number.MAX_SAFE_INTEGER, value.slice(0, 20))
    }
    assert.strictEqual(RetryAfter.parse("9007199254740", now), 9_007_199_254_740_000)
  })

  it("parseHttpDate gives epoch milliseconds", () => {
    assert.strictEqual(RetryAfter.parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784_111_777_000)
    assert.isUndefined(RetryAfter.parseHttpDate("yesterday"))
  })
})

describe("RetryAfter.fromHeaders", () => {
  it("retry-after-ms wins when valid (the largest), rounded up", () => {
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "1", "retry-after-ms": "2500" }, now), 2_500)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after-ms": ["10", "20.2"] }, now), 21)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after-ms": "5, 7" }, now), 7)
  })

  it("an invalid retry-after-ms falls back to Retry-After", () => {
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "3", "retry-after-ms": "-1" }, now), 3_000)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "3", "retry-after-ms": "soon" }, now), 3_000)
  })

  it("reads repeats, whole or joined by a proxy, and keeps the largest", () => {
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": ["2", "5"] }, now), 5_000)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "5, 8" }, now), 8_000)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": ["junk", "4"] }, now), 4_000)
  })

  it("huge values in every form read as Number.MAX_SAFE_INTEGER ms, with or without now", () => {
    for (const at of [now, undefined]) {
      assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "99999999999999999999" }, at), Number.MAX_SAFE_INTEGER)
      assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "9007199254741" }, at), Number.MAX_SAFE_INTEGER)
      assert.strictEqual(
        RetryAfter.fromHeaders({ "retry-after": "5, 99999999999999999999" }, at),
        Number.MAX_SAFE_INTEGER
      )
      assert.strictEqual(
        RetryAfter.fromHeaders({ "retry-after-ms": "99999999999999999999" }, at),
        Number.MAX_SAFE_INTEGER
      )
    }
  })

  it("without now, only delays count: a date cannot be turned into a wait", () => {
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "7" }, undefined), 7_000)
    assert.isUndefined(RetryAfter.fromHeaders({ "retry-after": "Sat, 05 Dec 2026 12:00:30 GMT" }, undefined))
  })

  it("nothing, or nothing valid, is undefined; oversize values and inherited keys are ignored", () => {
    assert.isUndefined(RetryAfter.fromHeaders({}, now))
    assert.isUndefined(RetryAfter.fromHeaders({ "retry-after": "soon" }, now))
    assert.isUndefined(
      RetryAfter.fromHeaders({ "retry-after": `Wed, 21 Oct 2015 07:28:00 GMT${" x".repeat(3_000)}` }, now)
    )
    const inherited = Object.create({ "retry-after": "60" }) as Record<string, string>
    assert.isUndefined(RetryAfter.fromHeaders(inherited, now))
  })

  it("seconds longer than 4096 characters still count: 5,000 nines is a wait too long to count, 000…01 one second", () => {
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": "9".repeat(5_000) }, now), Number.MAX_SAFE_INTEGER)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after": `${"0".repeat(4_999)}1` }, now), 1_000)
    assert.strictEqual(RetryAfter.fromHeaders({ "retry-after-ms": `${"0".repeat(4_999)}5` }, now), 5)
  })
})

/**
 * Durations in the forms people write (`DurationInput`): short units, long
 * units, compounds, bare milliseconds, and the forms that are refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import * as ConfigProblem from "../src/ConfigProblem.ts"
import * as DurationInput from "../src/DurationInput.ts"

describe("DurationInput.parseMillis", () => {
  it("reads the short forms, with or without a space, in any case", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["250ms", 250],
      ["20s", 20_000],
      ["1.5 min", 90_000],
      ["2m", 120_000],
      ["1h", 3_600_000],
      ["1d", 86_400_000],
      ["1w", 604_800_000],
      ["5S", 5_000],
      [".5s", 500],
      ["20 sec", 20_000],
      ["3 hrs", 10_800_000],
      ["1500us", 1.5],
      ["1h30m", 5_400_000],
      ["1m 30s", 90_000],
      [" 2 h 15 min ", 8_100_000]
    ]
    for (const [text, millis] of cases) assert.strictEqual(DurationInput.parseMillis(text), millis, text)
  })

  it("reads every string Effect's Duration.fromInput reads, to the same milliseconds", () => {
    for (
      const text of ["5 seconds", "250 millis", "1 minute", "2 hours", "3 days", "1 week", "1000 micros", "1 nano"]
    ) {
      const effect = Duration.toMillis(Duration.fromInputUnsafe(text as Duration.Input))
      assert.strictEqual(DurationInput.parseMillis(text), effect, text)
    }
  })

  it("reads a bare number as milliseconds", () => {
    assert.strictEqual(DurationInput.parseMillis("2500"), 2_500)
    assert.strictEqual(DurationInput.parseMillis(" 0 "), 0)
  })

  it("refuses negative, infinite, exponent, unknown-unit and malformed forms", () => {
    for (
      const text of ["", "abc", "-1s", "-5", "1e3", "Infinity", "1..5s", "10 years", "5 parsecs", "s", "1h30", "1 2s"]
    ) {
      assert.isUndefined(DurationInput.parseMillis(text), text)
    }
  })

  it("toMillis takes numbers, strings and Effect Durations; refuses the rest", () => {
    assert.strictEqual(DurationInput.toMillis(1_500), 1_500)
    assert.strictEqual(DurationInput.toMillis("1.5s"), 1_500)
    assert.strictEqual(DurationInput.toMillis(Duration.seconds(2)), 2_000)
    for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY, Duration.infinity, true, null, {}]) {
      assert.isUndefined(DurationInput.toMillis(value), String(value))
    }
  })
})

describe("DurationInput schema", () => {
  const decode = Schema.decodeUnknownEffect(Schema.Struct({ total: DurationInput.DurationInput }))

  it.effect("decodes to milliseconds", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* decode({ total: "1.5 min" }), { total: 90_000 })
      assert.deepStrictEqual(yield* decode({ total: 250 }), { total: 250 })
    }))

  it.effect("a refused value's problem lists the accepted forms, whatever its type", () =>
    Effect.gen(function*() {
      for (const total of ["20 secs and a bit", -1, true]) {
        const error = yield* Effect.flip(decode({ total }))
        const problems = ConfigProblem.fromIssue(error.issue, {
          setting: ConfigProblem.optionPath,
          received: (path) => ConfigProblem.show(ConfigProblem.at({ total }, path))
        })
        assert.deepStrictEqual(problems, [{
          setting: "total",
          received: ConfigProblem.show(total),
          expected: DurationInput.accepted
        }])
      }
    }))
})

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

describe("DurationInput.fromInput", () => {
  it("reads every Duration.Input form as well as the short strings, by own fields", () => {
    const cases: ReadonlyArray<readonly [unknown, number]> = [
      ["20s", 20_000],
      ["1h30m", 5_400_000],
      ["5 seconds", 5_000],
      [250, 250],
      [Duration.minutes(2), 120_000],
      [{ minutes: 1, seconds: 30 }, 90_000],
      [{ milliseconds: 1.5, microseconds: 500 }, 2],
      [[2, 500_000_000], 2_500],
      [3_000_000n, 3],
      [Object.assign(Object.create(null), { seconds: 1 }), 1_000]
    ]
    for (const [index, [input, millis]] of cases.entries()) {
      assert.strictEqual(DurationInput.fromInput(input), millis, `case ${index}`)
    }
  })

  it("refuses what is not a duration, an object with no known field, negative and infinite values", () => {
    const refused: ReadonlyArray<unknown> = [
      "soon",
      "20 parsecs",
      "Infinity",
      -1,
      -1n,
      {},
      { secs: 20 },
      { seconds: 20, extra: 1 },
      { seconds: "20" },
      { seconds: -1 },
      [1],
      [1, -1],
      Duration.infinity,
      true,
      null,
      new Date(0)
    ]
    for (const input of refused) assert.isUndefined(DurationInput.fromInput(input), String(input))
  })

  it("an inherited field is not read: a polluted Object.prototype adds no time", () => {
    const proto = Object.prototype as Record<string, unknown>
    proto.minutes = 60
    try {
      assert.strictEqual(DurationInput.fromInput({ seconds: 1 }), 1_000)
    } finally {
      delete proto.minutes
    }
  })

  it("problem names the setting, shows the value and lists the accepted forms", () => {
    assert.deepStrictEqual(DurationInput.problem("policies[0].window", "20 sex"), {
      setting: "policies[0].window",
      received: "\"20 sex\"",
      expected: DurationInput.accepted
    })
    assert.strictEqual(
      ConfigProblem.message("rate limiter configuration", [DurationInput.problem("maxWait", true)]),
      `invalid rate limiter configuration: maxWait is true, expected ${DurationInput.accepted}`
    )
  })
})

describe("DurationInput.Input", () => {
  it("takes the short strings and every Duration.Input without a cast; refuses other types", () => {
    const inputs: ReadonlyArray<DurationInput.Input> = [
      "20s",
      "250ms",
      "1.5 min",
      "1h30m",
      "5 seconds",
      1_000,
      Duration.seconds(1),
      { seconds: 1 },
      [1, 0],
      1n
    ]
    // @ts-expect-error a boolean is no duration
    const flag: DurationInput.Input = true
    // @ts-expect-error a string that does not start with a number is no duration
    const word: DurationInput.Input = "soon"
    // @ts-expect-error a Date is no duration
    const date: DurationInput.Input = new Date(0)
    // @ts-expect-error a number in an object is no duration either
    const boxed: DurationInput.Input = { value: 20 }
    // @ts-expect-error nor is a Number object, though it reads as 20
    const numberObject: DurationInput.Input = new Number(20)
    assert.deepStrictEqual(inputs.map(DurationInput.fromInput), [
      20_000,
      250,
      90_000,
      5_400_000,
      5_000,
      1_000,
      1_000,
      1_000,
      1_000,
      0.000001
    ])
    for (const wrong of [flag, word, date, boxed, numberObject]) assert.isUndefined(DurationInput.fromInput(wrong))
  })
})

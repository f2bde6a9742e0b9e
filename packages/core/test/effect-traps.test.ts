/**
 * What Effect 4.1 does with configuration that `ConfigProblem`, `DurationInput`
 * and `Settings` work around, each shown twice: Effect as we found it, and
 * ours. If an Effect upgrade changes a trap, its first half fails, and the
 * workaround can go.
 */
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Option, Schema } from "effect"
import * as DurationInput from "../src/DurationInput.ts"
import * as Settings from "../src/Settings.ts"

const Options = Schema.Struct({
  maxAttempts: Schema.optionalKey(Schema.Int),
  http2: Schema.optionalKey(Schema.Boolean),
  statuses: Schema.optionalKey(Schema.Array(Schema.Int))
})
const env = ConfigProvider.fromEnv({
  env: { HTTPKIT_MAX_ATTEMPTS: "two", HTTPKIT_HTTP2: "maybe", HTTPKIT_STATUSES: "500,503" }
})

describe("Effect's configuration, and ours", () => {
  it("Duration.fromInput reads only '<number> <long unit>': not 20s, 250ms, 1.5min or 1h30m", () => {
    for (const text of ["20s", "250ms", "1.5min", "1h30m", "20 sec"]) {
      assert.isTrue(Option.isNone(Duration.fromInput(text as Duration.Input)), text)
      assert.isDefined(DurationInput.parseMillis(text), text)
    }
  })

  it.effect("Config.schema stops at the first value it cannot read, and names it by schema path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Config.schema(Schema.toEncoded(Options), "HTTPKIT").parse(ConfigProvider.constantCase(env))
      )
      assert.include(error.message, `["HTTPKIT"]["maxAttempts"]`)
      assert.notInclude(error.message, "http2")

      const read = yield* Settings.read(Options, "httpkit").pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, env)
      )
      assert.deepStrictEqual(read.problems.map((problem) => problem.setting), [
        "HTTPKIT_MAX_ATTEMPTS",
        "HTTPKIT_HTTP2"
      ])
    }))

  it.effect("the environment provider reads a list only as one variable per item, not separated by commas", () =>
    Effect.gen(function*() {
      const list = Config.schema(Schema.Array(Schema.String), "HTTPKIT_STATUSES")
      const error = yield* Effect.flip(list.parse(env))
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "Expected array")

      const read = yield* Settings.read(
        Schema.Struct({ statuses: Schema.optionalKey(Schema.Array(Schema.Int)) }),
        "httpkit"
      )
        .pipe(Effect.provideService(ConfigProvider.ConfigProvider, env))
      assert.deepStrictEqual(read.encoded, { statuses: [500, 503] })
    }))
})

/**
 * The one shape of every configuration error (`ConfigProblem`): setting,
 * value received, what is expected; values shown without secrets.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as ConfigProblem from "../src/ConfigProblem.ts"

describe("ConfigProblem", () => {
  it("message is 'invalid <subject>: <setting> is <received>, expected <expected>', problems joined by '; '", () => {
    assert.strictEqual(
      ConfigProblem.message("client configuration", [
        { setting: "HTTPKIT_RETRY_MAX_ATTEMPTS", received: "\"0\"", expected: "an integer of at least 1" },
        { setting: "headers.authorization", expected: "a header value without CR, LF or NUL" }
      ]),
      "invalid client configuration: HTTPKIT_RETRY_MAX_ATTEMPTS is \"0\", expected an integer of at least 1; " +
        "headers.authorization is set (value not shown), expected a header value without CR, LF or NUL"
    )
  })

  it("show quotes strings (CR and LF escaped), redacts URL credentials, cuts at 80 characters", () => {
    assert.strictEqual(ConfigProblem.show("20 sec"), "\"20 sec\"")
    assert.strictEqual(ConfigProblem.show("a\r\nX-Injected: 1"), "\"a\\r\\nX-Injected: 1\"")
    assert.strictEqual(ConfigProblem.show("redis://user:s3cret@host:6379/0"), "\"redis://REDACTED@host:6379/0\"")
    assert.strictEqual(ConfigProblem.show("https://api.test/x?token=s3cret"), "\"https://api.test/x?token=REDACTED\"")
    const long = ConfigProblem.show("x".repeat(500))
    assert.strictEqual(long, JSON.stringify(`${"x".repeat(77)}...`))
    assert.strictEqual(ConfigProblem.show(0), "0")
    assert.strictEqual(ConfigProblem.show(false), "false")
    assert.strictEqual(ConfigProblem.show([1, 2]), "a list of 2")
    assert.strictEqual(ConfigProblem.show({ authorization: "s3cret" }), "an object")
  })

  it("names settings as option paths or as environment variables", () => {
    assert.strictEqual(ConfigProblem.optionPath(["retry", "maxAttempts"]), "retry.maxAttempts")
    assert.strictEqual(ConfigProblem.optionPath(["retry", "statuses", 1]), "retry.statuses[1]")
    assert.strictEqual(ConfigProblem.variableName("httpkit", ["retry", "maxAttempts"]), "HTTPKIT_RETRY_MAX_ATTEMPTS")
    assert.strictEqual(
      ConfigProblem.variableName("httpkit", ["circuitBreaker", "keyBy"]),
      "HTTPKIT_CIRCUIT_BREAKER_KEY_BY"
    )
    assert.strictEqual(ConfigProblem.variableName("httpkit", ["http2"]), "HTTPKIT_HTTP2")
    assert.strictEqual(ConfigProblem.variableName("httpkit_download", ["maxStalls"]), "HTTPKIT_DOWNLOAD_MAX_STALLS")
    assert.strictEqual(ConfigProblem.variableName("httpkit", ["retry", "statuses", 0]), "HTTPKIT_RETRY_STATUSES_0")
  })

  it.effect("fromIssue gives one problem per setting, in plain words, with what was received", () =>
    Effect.gen(function*() {
      const schema = Schema.Struct({
        retry: Schema.Struct({
          maxAttempts: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1, { expected: "an integer of at least 1" })),
          jitter: Schema.Boolean
        }),
        keyBy: Schema.Literals(["origin", "host"]),
        timeout: Schema.Struct({ total: Schema.optionalKey(Schema.Number) })
      })
      const input = { retry: { maxAttempts: 0, jitter: "yes" }, keyBy: "path", timeout: 5 }
      const error = yield* Effect.flip(Schema.decodeUnknownEffect(schema)(input, { errors: "all" }))
      const problems = ConfigProblem.fromIssue(error.issue, {
        setting: (path) => ConfigProblem.variableName("httpkit", path),
        received: (path) => ConfigProblem.show(ConfigProblem.at(input, path))
      })
      assert.deepStrictEqual(problems, [
        { setting: "HTTPKIT_RETRY_MAX_ATTEMPTS", received: "0", expected: "an integer of at least 1" },
        { setting: "HTTPKIT_RETRY_JITTER", received: "\"yes\"", expected: "true or false" },
        { setting: "HTTPKIT_KEY_BY", received: "\"path\"", expected: "\"origin\" | \"host\"" },
        { setting: "HTTPKIT_TIMEOUT", received: "5", expected: "an object" }
      ])
    }))

  it("merge keeps one problem per setting, the first check's", () => {
    const first = [{ setting: "HTTPKIT_RETRY_MIN_DELAY", received: "\"x\"", expected: "a duration" }]
    const second = [
      { setting: "HTTPKIT_RETRY_MIN_DELAY", expected: "at most HTTPKIT_RETRY_MAX_DELAY" },
      { setting: "HTTPKIT_NAME", received: "\"a b\"", expected: "1 to 64 letters" }
    ]
    assert.deepStrictEqual(ConfigProblem.merge(first, second), [first[0]!, second[1]!])
  })

  it("at reads own keys only", () => {
    const polluted = Object.create({ inherited: 1 }) as Record<string, unknown>
    polluted.own = { deep: 2 }
    assert.strictEqual(ConfigProblem.at(polluted, ["own", "deep"]), 2)
    assert.isUndefined(ConfigProblem.at(polluted, ["inherited"]))
    assert.isUndefined(ConfigProblem.at(undefined, ["a"]))
  })
})

/**
 * The environment variables of the httpkit packages (`Settings`): reading a
 * package's settings with problems named by variable, and unknown variables
 * under a package's prefix reported once, with the closest known name.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Logger, References, Schema } from "effect"
import { DurationInput } from "../src/DurationInput.ts"
import * as Settings from "../src/Settings.ts"

const withEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

/** Runs `effect` with a logger that keeps every line's level, message and annotations. */
const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
    const logger = Logger.make((options) => {
      lines.push({
        level: options.logLevel,
        message: options.message,
        annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
      })
    })
    const value = yield* Effect.provideService(effect, Logger.CurrentLoggers, new Set([logger]))
    return { value, lines }
  })

describe("Settings.unknownVariables", () => {
  const env = {
    PATH: "/usr/bin",
    HTTPKIT_RETRY_MAX_ATTEMPTS: "2",
    HTTPKIT_RETRY_MAX_ATEMPTS: "3",
    HTTPKIT_CONNECT_TIMEOUT: "1s",
    HTTPKIT_MAX_ATTEMPTS: "4",
    HTTPKIT_DOWNLOD_SEGMENTS: "8",
    HTTPKIT_TOKEN: "s3cret-value",
    HTTPKIT_HEADERS_X_API_KEY: "k",
    HTTPKIT_RETRY_STATUSES_0: "500",
    HTTPKIT_RETRY_STATUSES_1: "503",
    HTTPKIT_DOWNLOAD_SEGMENTS: "8",
    HTTPKIT_DOWNLOAD_SEGMENT: "8",
    OTHER_RETRY_MAX_ATEMPTS: "3"
  }

  it.effect("the client reports its own space with suggestions from every package, never HTTPKIT_DOWNLOAD_*", () =>
    Effect.gen(function*() {
      const unknown = yield* Settings.unknownVariables(Settings.client).pipe(withEnv(env))
      assert.deepStrictEqual(unknown.toSorted((a, b) => a.variable.localeCompare(b.variable)), [
        // The same words in another order.
        { variable: "HTTPKIT_CONNECT_TIMEOUT", suggestion: "HTTPKIT_TIMEOUT_CONNECT" },
        // A package's name, from the client's check: the names of every package are candidates.
        { variable: "HTTPKIT_DOWNLOD_SEGMENTS", suggestion: "HTTPKIT_DOWNLOAD_SEGMENTS" },
        // A group left out.
        { variable: "HTTPKIT_MAX_ATTEMPTS", suggestion: "HTTPKIT_RETRY_MAX_ATTEMPTS" },
        // A letter left out.
        { variable: "HTTPKIT_RETRY_MAX_ATEMPTS", suggestion: "HTTPKIT_RETRY_MAX_ATTEMPTS" },
        // Nothing close: reported without a guess.
        { variable: "HTTPKIT_TOKEN", suggestion: undefined }
      ])
    }))

  it.effect("the downloader reports only HTTPKIT_DOWNLOAD_*", () =>
    Effect.gen(function*() {
      const unknown = yield* Settings.unknownVariables(Settings.downloader).pipe(withEnv(env))
      assert.deepStrictEqual(unknown, [
        { variable: "HTTPKIT_DOWNLOAD_SEGMENT", suggestion: "HTTPKIT_DOWNLOAD_SEGMENTS" }
      ])
    }))

  it.effect("under another prefix, the same check runs there, the downloader's space moved with it", () =>
    Effect.gen(function*() {
      const unknown = yield* Settings.unknownVariables(Settings.client, "billing").pipe(
        withEnv({ BILLING_RETRY_MAX_ATEMPTS: "3", BILLING_DOWNLOAD_SEGMENTS: "2", HTTPKIT_TOKEN: "x" })
      )
      assert.deepStrictEqual(unknown, [
        { variable: "BILLING_RETRY_MAX_ATEMPTS", suggestion: "BILLING_RETRY_MAX_ATTEMPTS" }
      ])
    }))

  it.effect("no variable under the prefix: nothing to report", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Settings.unknownVariables(Settings.client).pipe(withEnv({ PATH: "/bin" })), [])
    }))

  it.effect("warnUnknown logs one warning per unknown name, with the suggestion, and never the value", () =>
    Effect.gen(function*() {
      const { lines } = yield* captureLogs(
        Settings.warnUnknown(Settings.client).pipe(
          withEnv({ HTTPKIT_RETRY_MAX_ATEMPTS: "3", HTTPKIT_TOKEN: "s3cret-value" })
        )
      )
      assert.deepStrictEqual(lines.map((line) => [line.level, line.message]), [
        [
          "Warn",
          [
            "HTTPKIT_RETRY_MAX_ATEMPTS is not a known setting of @httpkit/client and is ignored; " +
            "did you mean HTTPKIT_RETRY_MAX_ATTEMPTS?"
          ]
        ],
        [
          "Warn",
          ["HTTPKIT_TOKEN is not a known setting of @httpkit/client and is ignored; no known setting has a similar name"]
        ]
      ])
      assert.deepStrictEqual(lines[0]!.annotations, {
        variable: "HTTPKIT_RETRY_MAX_ATEMPTS",
        suggestion: "HTTPKIT_RETRY_MAX_ATTEMPTS"
      })
      assert.deepStrictEqual(lines[1]!.annotations, { variable: "HTTPKIT_TOKEN" })
      assert.notInclude(JSON.stringify(lines), "s3cret-value")
    }))
})

describe("Settings.closest", () => {
  const known = ["HTTPKIT_TIMEOUT_TOTAL", "HTTPKIT_TIMEOUT_CONNECT", "HTTPKIT_RETRY_MAX_ATTEMPTS", "HTTPKIT_NAME"]

  it("finds swapped letters, reordered words and a left-out group; nothing for a far name", () => {
    assert.strictEqual(Settings.closest("HTTPKIT_TIMEOTU_TOTAL", known, "HTTPKIT"), "HTTPKIT_TIMEOUT_TOTAL")
    assert.strictEqual(Settings.closest("HTTPKIT_TOTAL_TIMEOUT", known, "HTTPKIT"), "HTTPKIT_TIMEOUT_TOTAL")
    assert.strictEqual(Settings.closest("HTTPKIT_TOTAL", known, "HTTPKIT"), "HTTPKIT_TIMEOUT_TOTAL")
    assert.isUndefined(Settings.closest("HTTPKIT_TOKEN", known, "HTTPKIT"))
    assert.isUndefined(Settings.closest("HTTPKIT_DATABASE_URL", known, "HTTPKIT"))
  })
})

describe("Settings.read", () => {
  const Options = Schema.Struct({
    timeout: Schema.optionalKey(Schema.Struct({ total: Schema.optionalKey(DurationInput) })),
    retry: Schema.optionalKey(Schema.Struct({
      maxAttempts: Schema.optionalKey(Schema.Int),
      statuses: Schema.optionalKey(Schema.Array(Schema.Int))
    })),
    circuitBreaker: Schema.optionalKey(Schema.Struct({ enabled: Schema.optionalKey(Schema.Boolean) }))
  })

  const readEnv = (env: Record<string, string>) => Settings.read(Options, "httpkit").pipe(withEnv(env))

  it.effect("reads nested groups of several words, each value as written", () =>
    Effect.gen(function*() {
      const encoded = yield* Settings.read(Options, "httpkit").pipe(
        withEnv({
          HTTPKIT_TIMEOUT_TOTAL: "20s",
          HTTPKIT_RETRY_STATUSES: "500, 502,503",
          HTTPKIT_CIRCUIT_BREAKER_ENABLED: "false"
        })
      )
      assert.deepStrictEqual(encoded, {
        encoded: {
          timeout: { total: "20s" },
          retry: { statuses: [500, 502, 503] },
          circuitBreaker: { enabled: false }
        },
        problems: []
      })
    }))

  it.effect("every value that cannot be read is a problem naming its variable and the value; the rest is read", () =>
    Effect.gen(function*() {
      const read = yield* Settings.read(Options, "httpkit").pipe(withEnv({
        HTTPKIT_RETRY_MAX_ATTEMPTS: "two",
        HTTPKIT_RETRY_STATUSES: "500,abc",
        HTTPKIT_CIRCUIT_BREAKER_ENABLED: "maybe",
        HTTPKIT_TIMEOUT_TOTAL: "20s"
      }))
      assert.deepStrictEqual(read, {
        // The groups whose variables are hidden stay, empty.
        encoded: { timeout: { total: "20s" }, retry: {}, circuitBreaker: {} },
        problems: [
          // What the field takes (Schema.Int's own "an integer"), not only that "two" is no number.
          { setting: "HTTPKIT_RETRY_MAX_ATTEMPTS", received: "\"two\"", expected: "an integer" },
          // A list given as one value: the list named, and the item at fault.
          {
            setting: "HTTPKIT_RETRY_STATUSES",
            received: "\"500,abc\"",
            expected: "an integer in every item (\"abc\" is not)"
          },
          { setting: "HTTPKIT_CIRCUIT_BREAKER_ENABLED", received: "\"maybe\"", expected: "true or false" }
        ]
      })
    }))

  it.effect("a list is one value separated by commas or one variable per item; an item at fault is named", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* readEnv({ HTTPKIT_RETRY_STATUSES: " 500,,503 " })).encoded, {
        retry: { statuses: [500, 503] }
      })
      assert.deepStrictEqual(
        (yield* readEnv({ HTTPKIT_RETRY_STATUSES_0: "500", HTTPKIT_RETRY_STATUSES_1: "503" })).encoded,
        { retry: { statuses: [500, 503] } }
      )
      const item = yield* readEnv({
        HTTPKIT_RETRY_STATUSES_0: "500",
        HTTPKIT_RETRY_STATUSES_1: "x",
        HTTPKIT_TIMEOUT_TOTAL: "1s"
      })
      assert.deepStrictEqual(item.problems, [
        { setting: "HTTPKIT_RETRY_STATUSES_1", received: "\"x\"", expected: "an integer" }
      ])
      // The list goes as a whole; the rest is read.
      assert.deepStrictEqual(item.encoded, { timeout: { total: "1s" }, retry: {} })
    }))

  it("namesOf lists the variables a schema reads, lists and records as NAME_*", () => {
    assert.deepStrictEqual(Settings.namesOf(Options), [
      "TIMEOUT_TOTAL",
      "RETRY_MAX_ATTEMPTS",
      "RETRY_STATUSES_*",
      "CIRCUIT_BREAKER_ENABLED"
    ])
  })
})

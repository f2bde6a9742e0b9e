/**
 * Configuration errors a user can act on (`ClientConfig`): each names the
 * variable or option path, the value received and what is expected; the
 * durations people write are taken; an unknown `HTTPKIT_*` variable is
 * reported with the closest known name.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClientConfig from "@httpkit/client/ClientConfig"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as DurationInput from "@httpkit/core/DurationInput"
import * as Settings from "@httpkit/core/Settings"
import { ConfigProvider, Duration, Effect, Logger, References } from "effect"

const fromEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const invalid = (problems: string) => `invalid client configuration: ${problems}`

describe("ClientConfig durations", () => {
  it.effect("the forms people write are read from the environment: 20s, 1.5 min, 250ms, 2m, 1h, 1h30m, bare milliseconds", () =>
    Effect.gen(function*() {
      const resolved = yield* ClientConfig.fromConfig().pipe(fromEnv({
        HTTPKIT_TIMEOUT_TOTAL: "20s",
        HTTPKIT_TIMEOUT_IDLE: "1.5 min",
        HTTPKIT_TIMEOUT_CONNECT: "250ms",
        HTTPKIT_RETRY_MAX_DELAY: "2m",
        HTTPKIT_CIRCUIT_BREAKER_OPEN_DURATION: "1h",
        HTTPKIT_RETRY_RETRY_AFTER_CEILING: "1h30m",
        HTTPKIT_RETRY_MIN_DELAY: "2500",
        HTTPKIT_TIMEOUT_ATTEMPT: "5 seconds"
      }))
      assert.strictEqual(resolved.timeout.total, 20_000)
      assert.strictEqual(resolved.timeout.idle, 90_000)
      assert.strictEqual(resolved.timeout.connect, 250)
      assert.strictEqual(resolved.retry.maxDelay, 120_000)
      assert.strictEqual(resolved.circuitBreaker.openDuration, 3_600_000)
      assert.strictEqual(resolved.retry.retryAfterCeiling, 5_400_000)
      assert.strictEqual(resolved.retry.minDelay, 2_500)
      assert.strictEqual(resolved.timeout.attempt, 5_000)
    }))

  it.effect("and in code, where a number is milliseconds", () =>
    Effect.gen(function*() {
      const resolved = yield* ClientConfig.resolve({ timeout: { total: "20s", idle: 1_500, attempt: "1.5 min" } })
      assert.deepStrictEqual([resolved.timeout.total, resolved.timeout.idle, resolved.timeout.attempt], [
        20_000,
        1_500,
        90_000
      ])
    }))

  it.effect("a refused duration names the variable or the option path and lists the accepted forms", () =>
    Effect.gen(function*() {
      const fromVariable = yield* Effect.flip(
        ClientConfig.fromConfig().pipe(fromEnv({ HTTPKIT_TIMEOUT_TOTAL: "20 secs please" }))
      )
      assert.strictEqual(
        fromVariable.message,
        invalid(`HTTPKIT_TIMEOUT_TOTAL is "20 secs please", expected ${DurationInput.accepted}`)
      )
      assert.deepStrictEqual(fromVariable.problems, [
        { setting: "HTTPKIT_TIMEOUT_TOTAL", received: "\"20 secs please\"", expected: DurationInput.accepted }
      ])
      const inCode = yield* Effect.flip(ClientConfig.resolve({ timeout: { total: -1 } }))
      assert.strictEqual(inCode.message, invalid(`timeout.total is -1, expected ${DurationInput.accepted}`))
    }))
})

describe("ClientConfig errors", () => {
  it.effect("every problem in code is reported at once, each in the same shape", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ClientConfig.resolve({
        retry: { maxAttempts: 0, statuses: [99] },
        circuitBreaker: { keyBy: "path" as "host" },
        bulkhead: { maxConcurrency: 2.5 }
      }))
      assert.strictEqual(
        error.message,
        invalid(
          "retry.maxAttempts is 0, expected an integer of at least 1; " +
            "retry.statuses[0] is 99, expected an HTTP status from 100 to 599; " +
            "circuitBreaker.keyBy is \"path\", expected \"origin\" | \"host\"; " +
            "bulkhead.maxConcurrency is 2.5, expected an integer"
        )
      )
      assert.strictEqual(error.problems.length, 4)
    }))

  it.effect("every problem in the environment is reported at once: values that cannot be read and values out of range", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ClientConfig.fromConfig().pipe(fromEnv({
          HTTPKIT_RETRY_MAX_ATTEMPTS: "two",
          HTTPKIT_HTTP2: "maybe",
          HTTPKIT_TIMEOUT_TOTAL: "20 secs please",
          HTTPKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD: "0",
          HTTPKIT_TIMEOUT_CONNECT: "5s"
        }))
      )
      assert.deepStrictEqual(error.problems.map((problem) => problem.setting), [
        "HTTPKIT_RETRY_MAX_ATTEMPTS",
        "HTTPKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        "HTTPKIT_HTTP2",
        "HTTPKIT_TIMEOUT_TOTAL"
      ])
      assert.strictEqual(
        error.message,
        invalid(
          "HTTPKIT_RETRY_MAX_ATTEMPTS is \"two\", expected an integer of at least 1; " +
            "HTTPKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD is \"0\", expected an integer of at least 1; " +
            "HTTPKIT_HTTP2 is \"maybe\", expected true or false; " +
            `HTTPKIT_TIMEOUT_TOTAL is "20 secs please", expected ${DurationInput.accepted}`
        )
      )
    }))

  it.effect("a header value is never shown, from the environment or in code", () =>
    Effect.gen(function*() {
      const fromVariable = yield* Effect.flip(
        ClientConfig.fromConfig().pipe(fromEnv({ HTTPKIT_HEADERS_AUTHORIZATION: "Bearer s3cret\r\nX-Injected: 1" }))
      )
      assert.strictEqual(
        fromVariable.message,
        invalid(
          "HTTPKIT_HEADERS_AUTHORIZATION is set (value not shown), expected a header value without CR, LF, NUL, other control characters or characters above U+00FF"
        )
      )
      const inCode = yield* Effect.flip(ClientConfig.resolve({ headers: { authorization: "Bearer s3cret\n" } }))
      assert.strictEqual(
        inCode.message,
        invalid(
          "headers.authorization is set (value not shown), expected a header value without CR, LF, NUL, other control characters or characters above U+00FF"
        )
      )
      assert.notInclude(JSON.stringify([fromVariable, inCode]), "s3cret")
    }))

  it.effect("a baseUrl that does not parse, has no host, a bad port, a query or a fragment fails, its password redacted", () =>
    Effect.gen(function*() {
      const refused = [
        "http://",
        "https:///x",
        "http://user:secret@api.example.com:99999/",
        "http://exa mple.com",
        "http://alice:p@ss-secret@api.example.com:99999/v1",
        "http://api.example.com/v1?key=secret",
        "http://api.example.com/v1#secret",
        "http//alice:secret@api.example.com",
        "alice:secret@api.example.com"
      ]
      for (const baseUrl of refused) {
        const error = yield* Effect.flip(ClientConfig.resolve({ baseUrl }))
        assert.strictEqual(error._tag, "ClientConfigError", baseUrl)
        assert.include(error.message, "baseUrl is ", baseUrl)
        assert.notInclude(error.message, "secret", baseUrl)
        assert.notInclude(JSON.stringify(error), "secret", baseUrl)
      }
      const fromVariable = yield* Effect.flip(
        ClientConfig.fromConfig().pipe(fromEnv({ HTTPKIT_BASE_URL: "http://api.example.com/v1?key=abc" }))
      )
      assert.include(fromVariable.message, "HTTPKIT_BASE_URL is")
      assert.include(fromVariable.message, "without a query or fragment")
      for (const baseUrl of ["http://api.example.com", "https://api.example.com:8443/v1/", "http://127.0.0.1:9/x"]) {
        const resolved = yield* ClientConfig.resolve({ baseUrl })
        assert.strictEqual(resolved.baseUrl, baseUrl.replace(/\/+$/, ""))
      }
    }))

  it.effect("a header the transport refuses (transfer-encoding, upgrade, expect) fails the configuration", () =>
    Effect.gen(function*() {
      for (const name of ["transfer-encoding", "upgrade", "expect"]) {
        const error = yield* Effect.flip(ClientConfig.resolve({ headers: { [name]: "x" } }))
        assert.include(error.message, `headers.${name} is set (value not shown)`, name)
      }
    }))

  it.effect("a request id or idempotency key header over one HTTP, the client or a secret uses (host, authorization) fails, as does one name for both", () =>
    Effect.gen(function*() {
      for (const name of ["host", "Authorization", "content-length", "cookie", "traceparent", "x-api-key"]) {
        const error = yield* Effect.flip(ClientConfig.resolve({ requestIdHeader: name }))
        assert.strictEqual(
          error.message,
          invalid(
            `requestIdHeader is ${
              JSON.stringify(name)
            }, expected a header name of its own, not one HTTP, the client or a secret uses`
          ),
          name
        )
      }
      const same = yield* Effect.flip(ClientConfig.resolve({ idempotencyKeyHeader: "x-request-id" }))
      assert.include(
        same.message,
        `idempotencyKeyHeader is "x-request-id", expected another header than requestIdHeader`
      )
      const fine = yield* ClientConfig.resolve({ requestIdHeader: "x-correlation-id", idempotencyKeyHeader: "x-idem" })
      assert.strictEqual(fine.requestIdHeader, "x-correlation-id")
    }))

  it.effect("a list from the environment is separated by commas or one variable per item; a bad item is named", () =>
    Effect.gen(function*() {
      const commas = yield* ClientConfig.fromConfig().pipe(fromEnv({ HTTPKIT_RETRY_STATUSES: "500, 503" }))
      assert.deepStrictEqual([...commas.retry.statuses], [500, 503])
      const items = yield* ClientConfig.fromConfig().pipe(
        fromEnv({ HTTPKIT_RETRY_STATUSES_0: "500", HTTPKIT_RETRY_STATUSES_1: "503" })
      )
      assert.deepStrictEqual([...items.retry.statuses], [500, 503])
      const bad = yield* Effect.flip(ClientConfig.fromConfig().pipe(fromEnv({ HTTPKIT_RETRY_STATUSES: "500,5O3" })))
      assert.strictEqual(
        bad.message,
        invalid(
          "HTTPKIT_RETRY_STATUSES is \"500,5O3\", expected an HTTP status from 100 to 599 in every item (\"5O3\" is not)"
        )
      )
    }))

  it("a call's own options are refused in the same shape, named by option path", () => {
    const checked = ClientConfig.resolveCall({ attempt: "soon" }, { maxAttempts: 0 })
    assert.deepStrictEqual(checked, {
      problem: "invalid request options: " +
        `timeout.attempt is "soon", expected ${DurationInput.accepted}; ` +
        "retry.maxAttempts is 0, expected an integer of at least 1"
    })
    // Any Duration.Input given in code is taken: a Duration, an object, a [seconds, nanos] pair.
    const taken = ClientConfig.resolveCall(
      { total: Duration.seconds(2), attempt: { seconds: 1, milliseconds: 500 }, idle: [0, 5_000_000], headers: "20s" },
      undefined
    )
    assert.deepStrictEqual(taken, {
      timeout: { total: 2_000, attempt: 1_500, idle: 5, headers: 20_000 },
      maxAttempts: undefined
    })
    // An object with no field a duration has (a typo) is refused, not read as zero, as everywhere durations are read.
    const typo = ClientConfig.resolveCall({ attempt: { secs: 20 } }, undefined)
    assert.deepStrictEqual(typo, {
      problem: `invalid request options: timeout.attempt is an object, expected ${DurationInput.accepted}`
    })
  })
})

describe("unknown HTTPKIT_* variables", () => {
  it.effect("layerConfig logs a warning naming the unknown variable and the closest known one, and builds the client", () =>
    Effect.gen(function*() {
      const lines: Array<{ readonly level: string; readonly message: unknown }> = []
      const logger = Logger.make((options) => {
        if (options.fiber.getRef(References.CurrentLogAnnotations).variable !== undefined) {
          lines.push({ level: options.logLevel, message: options.message })
        }
      })
      const client = yield* Effect.service(ResilientClient.ResilientClient).pipe(
        Effect.provide(ResilientClient.layerConfig()),
        fromEnv({
          HTTPKIT_RETRY_MAX_ATEMPTS: "5",
          HTTPKIT_DOWNLOAD_SEGMENTS: "8",
          HTTPKIT_TIMEOUT_TOTAL: "20s"
        }),
        Effect.provideService(Logger.CurrentLoggers, new Set([logger]))
      )
      assert.deepStrictEqual(lines, [{
        level: "Warn",
        message: [
          "HTTPKIT_RETRY_MAX_ATEMPTS is not a known setting of @httpkit/client and is ignored; " +
          "did you mean HTTPKIT_RETRY_MAX_ATTEMPTS?"
        ]
      }])
      // Ignored: the default stands; the known variable is read.
      assert.strictEqual(client.config.retry.maxAttempts, 3)
      assert.strictEqual(client.config.timeout.total, 20_000)
    }))

  it("@httpkit/core's table lists exactly the variables ClientConfig.Options reads", () => {
    assert.deepStrictEqual(Settings.namesOf(ClientConfig.Options), Settings.client.names)
  })
})

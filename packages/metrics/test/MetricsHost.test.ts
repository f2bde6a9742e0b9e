/**
 * `HTTPKIT_METRICS_HOST` and the `host` option are checked when the
 * configuration is read, as the port and the path are: a URL, a port, a path,
 * brackets or a space fail with a `MetricsConfigError` naming the variable or
 * option, the value and what is expected, instead of failing at listen time
 * as "the host name does not resolve" without naming either.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as MetricsConfig from "../src/MetricsConfig.ts"
import * as MetricsServer from "../src/MetricsServer.ts"

const withEnv = <A, E, R>(env: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const expected =
  "expected a host name or an IP address (localhost, metrics.internal, 127.0.0.1, 0.0.0.0, ::; IPv6 without " +
  "brackets), with no scheme, port or path"

/** Hosts `listen` cannot take, each with how the error shows it (a URL is shown redacted, as every URL is). */
const refused: ReadonlyArray<readonly [string, string]> = [
  ["http://localhost", "\"http://localhost/\""],
  ["https://metrics.internal:9464/metrics", "\"https://metrics.internal:9464/metrics\""],
  ["localhost:9464", "\"localhost:9464\""],
  ["127.0.0.1:9464", "\"127.0.0.1:9464\""],
  ["127.0.0.1/metrics", "\"127.0.0.1/metrics\""],
  ["[::1]", "\"[::1]\""],
  ["local host", "\"local host\""],
  [" localhost", "\" localhost\""],
  ["métrics.internal", "\"métrics.internal\""],
  ["a..b", "\"a..b\""],
  ["-metrics", "\"-metrics\""],
  ["256.0.0.1", "\"256.0.0.1\""],
  ["1234", "\"1234\""],
  ["user:pw@localhost", "\"REDACTED@localhost\""]
]

const accepted = [
  "localhost",
  "LOCALHOST",
  "127.0.0.1",
  "0.0.0.0",
  "::",
  "::1",
  "::ffff:127.0.0.1",
  "fe80::1%eth0",
  "2001:db8::8a2e:370:7334",
  "metrics.internal",
  "metrics.internal.",
  "prometheus-exporter",
  "my_service",
  "xn--bcher-kva.example"
]

describe("MetricsConfig host", () => {
  it.effect(
    "HTTPKIT_METRICS_HOST of a URL, host:port, a path, [::1], a space or a character no host name has fails with MetricsConfigError naming it, the value and the expected form",
    () =>
      Effect.gen(function*() {
        for (const [host, shown] of refused) {
          const error = yield* Effect.flip(withEnv({ HTTPKIT_METRICS_HOST: host }, MetricsConfig.fromConfig()))
          assert.strictEqual(error._tag, "MetricsConfigError", host)
          assert.deepStrictEqual(error.problems.map((problem) => problem.setting), ["HTTPKIT_METRICS_HOST"], host)
          assert.strictEqual(
            error.message,
            `invalid metrics endpoint configuration: HTTPKIT_METRICS_HOST is ${shown}, ${expected}`,
            host
          )
          assert.notInclude(error.message, "pw@", host)
        }
      })
  )

  it.effect("the host option in code is checked the same way, named host, with the other problems at once", () =>
    Effect.gen(function*() {
      for (const [host, shown] of refused) {
        const error = yield* Effect.flip(MetricsConfig.resolve({ host }))
        assert.strictEqual(error.message, `invalid metrics endpoint configuration: host is ${shown}, ${expected}`, host)
      }
      const both = yield* Effect.flip(
        withEnv({ HTTPKIT_METRICS_HOST: "http://localhost", HTTPKIT_METRICS_PORT: "http" }, MetricsConfig.fromConfig())
      )
      assert.deepStrictEqual(both.problems.map((problem) => problem.setting).toSorted(), [
        "HTTPKIT_METRICS_HOST",
        "HTTPKIT_METRICS_PORT"
      ])
      // MetricsServer.make fails before listening.
      const made = yield* Effect.flip(MetricsServer.make({ host: "http://localhost", port: 0 }).pipe(Effect.scoped))
      assert.strictEqual(made._tag, "MetricsConfigError")
    }))

  it.effect("host names, IPv4 and IPv6 literals (without brackets), localhost, 0.0.0.0 and :: pass, in the environment and in code", () =>
    Effect.gen(function*() {
      for (const host of accepted) {
        assert.strictEqual((yield* withEnv({ HTTPKIT_METRICS_HOST: host }, MetricsConfig.fromConfig())).host, host)
        assert.strictEqual((yield* MetricsConfig.resolve({ host })).host, host)
      }
      assert.strictEqual((yield* MetricsConfig.resolve({})).host, "127.0.0.1")
    }))

  it.live("an endpoint on localhost and on 0.0.0.0 listens as before", () =>
    Effect.gen(function*() {
      for (const host of ["localhost", "0.0.0.0"]) {
        const endpoint = yield* MetricsServer.make({ host, port: 0 })
        assert.notStrictEqual(endpoint.port, 0, host)
      }
    }).pipe(Effect.scoped))
})

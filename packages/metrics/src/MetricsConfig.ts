/**
 * The configuration of the Prometheus endpoint (`MetricsServer`), described
 * with `Schema` so the same fields load from code
 * (`MetricsServer.layer({ port: 9464 })`) and from the environment
 * (`MetricsServer.layerConfig()`: `HTTPKIT_METRICS_PORT`,
 * `HTTPKIT_METRICS_HOST`, `HTTPKIT_METRICS_PATH`), and the package's one
 * configuration error, `MetricsConfigError`, which the OTLP layer
 * (`Telemetry.layerConfig`) raises too.
 *
 * Invalid configuration fails when the layer is built, with a
 * `MetricsConfigError` whose message names each setting at fault as the user
 * wrote it (`HTTPKIT_METRICS_PORT`, or `port` in code), the value received and
 * what is expected (`@httpkit/core/ConfigProblem`). A variable under
 * `HTTPKIT_METRICS_` that the package does not read is logged as a warning
 * with the closest known name (`@httpkit/core/Settings`).
 *
 * @since 0.1.0
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as Own from "@httpkit/core/Own"
import * as Settings from "@httpkit/core/Settings"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Net from "node:net"

const portExpected = "a port from 0 to 65535 (0: any free port)"
const pathExpected =
  "a path starting with /, of ASCII letters, digits and -._~!$&'()*+,;=:@%/ only (RFC 3986 path characters)"
const hostExpected =
  "a host name or an IP address (localhost, metrics.internal, 127.0.0.1, 0.0.0.0, ::; IPv6 without brackets), " +
  "with no scheme, port or path"

/**
 * One label of a host name: ASCII letters, digits, `-` and `_` (which DNS
 * and `/etc/hosts` names may hold, as Docker's service names do), at most 63,
 * not starting or ending with `-`.
 */
const hostLabel = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/

/**
 * Whether `host` is what `server.listen` can take as an address: an IPv4 or
 * IPv6 literal (without brackets; a zone such as `fe80::1%eth0` included), or
 * a host name of at most 253 characters, its labels `hostLabel`s, optionally
 * ending in `.`, its last label not all digits (`256.0.0.1` and `1234` are not
 * names, and no IPv4 address either). A URL (`http://localhost`), a port
 * (`localhost:9464`), a path, brackets or a space are none of these.
 */
const isListenHost = (host: string): boolean => {
  if (Net.isIP(host) !== 0) return true
  const name = host.endsWith(".") ? host.slice(0, -1) : host
  if (name.length === 0 || name.length > 253) return false
  const labels = name.split(".")
  return labels.every((label) => hostLabel.test(label)) && !/^[0-9]+$/.test(labels[labels.length - 1]!)
}

/**
 * Every configurable field; all optional, defaults in `defaults`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Options = Schema.Struct({
  /** The TCP port to listen on; 0 takes any free port (read it from `MetricsServer.port`). */
  port: Schema.optionalKey(
    Schema.Int.annotate({ expected: portExpected }).check(
      Schema.isGreaterThanOrEqualTo(0, { expected: portExpected }),
      Schema.isLessThanOrEqualTo(65535, { expected: portExpected })
    )
  ),
  /**
   * The address to listen on: `127.0.0.1` (this machine only), `0.0.0.0` or
   * `::` (every interface), another IP address (IPv6 without brackets) or a
   * host name; not a URL, and no port or path.
   */
  host: Schema.optionalKey(
    Schema.String.check(Schema.makeFilter(isListenHost, { expected: hostExpected }))
  ),
  /** The path that serves the metrics; every other path answers 404. */
  path: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { expected: pathExpected }))
  )
})

/**
 * Options in code.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** @default 9464 */
  readonly port?: number
  /** @default "127.0.0.1" */
  readonly host?: string
  /** @default "/metrics" */
  readonly path?: string
}

/**
 * The options with every default filled in.
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolved {
  readonly port: number
  readonly host: string
  readonly path: string
}

/**
 * The defaults: port 9464 (the port OpenTelemetry's Prometheus exporter
 * uses), `127.0.0.1`, `/metrics`.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults: Resolved = { port: 9464, host: "127.0.0.1", path: "/metrics" }

/**
 * Invalid configuration of `@httpkit/metrics`. `problems` names each setting
 * at fault as the user wrote it (`HTTPKIT_METRICS_PORT`, `port`,
 * `OTEL_EXPORTER_OTLP_ENDPOINT`), the value received (left out for header
 * values, which may be secrets) and what is expected; the message is
 * `invalid <subject>: ` and each problem as `<setting> is <received>, expected
 * <expected>`, separated by `; `.
 *
 * @category errors
 * @since 0.1.0
 */
export class MetricsConfigError extends Own.fields(
  Schema.TaggedError<MetricsConfigError>()("MetricsConfigError", {
    message: Schema.String,
    /** Each setting at fault. */
    problems: Schema.Array(ConfigProblem.ConfigProblem)
  })
) {}

/**
 * A `MetricsConfigError` for `subject` (`metrics endpoint configuration`,
 * `OTLP configuration`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const configError = (
  subject: string,
  problems: ReadonlyArray<ConfigProblem.ConfigProblem>
): MetricsConfigError => new MetricsConfigError({ message: ConfigProblem.message(subject, problems), problems })

const subject = "metrics endpoint configuration"
const decodeOptions = Schema.decodeUnknownEffect(Options)

const namingOf = (name: (path: ReadonlyArray<PropertyKey>) => string, input: unknown): ConfigProblem.Naming => ({
  setting: name,
  received: (path) => ConfigProblem.show(ConfigProblem.at(input, path))
})

const resolveFrom = (input: unknown, naming: ConfigProblem.Naming): Effect.Effect<Resolved, MetricsConfigError> =>
  decodeOptions(input, { errors: "all" }).pipe(
    Effect.mapError((error) => configError(subject, ConfigProblem.fromIssue(error.issue, naming))),
    Effect.map((decoded) => {
      const o = Own.ownData(decoded)
      return { port: o.port ?? defaults.port, host: o.host ?? defaults.host, path: o.path ?? defaults.path }
    })
  )

/**
 * Validates options and fills in the defaults; only the options' own keys
 * count.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (options: Options = {}): Effect.Effect<Resolved, MetricsConfigError> => {
  const input = Own.ownData(options)
  return resolveFrom(input, namingOf(ConfigProblem.optionPath, input))
}

/** Decimal digits, no sign, exponent or leading zero: what a port is written as (`1e3`, `+80`, `08080` are not). */
const portDigits = /^(0|[1-9][0-9]{0,4})$/

/** A problem when the port variable is set but not written as plain decimal digits (Effect reads `1e3` as 1000). */
const portSpelling = (prefix: string): Effect.Effect<ReadonlyArray<ConfigProblem.ConfigProblem>> => {
  const name = ConfigProblem.variableName(prefix, ["port"])
  return Config.option(Config.String(name)).pipe(
    Effect.map((raw) =>
      raw._tag === "Some" && !portDigits.test(raw.value)
        ? [{ setting: name, received: ConfigProblem.show(raw.value), expected: portExpected }]
        : []
    ),
    Effect.orElseSucceed(() => [])
  )
}

/**
 * Reads the options from the current `ConfigProvider` under `prefix`, in
 * CONSTANT_CASE: with the default provider (the environment)
 * `HTTPKIT_METRICS_PORT`, `HTTPKIT_METRICS_HOST`, `HTTPKIT_METRICS_PATH`. No
 * variable at all gives the defaults.
 *
 * **Details**
 *
 * A `MetricsConfigError` names the variables at fault
 * (`HTTPKIT_METRICS_PORT is "http", expected a port from 0 to 65535`), all
 * at once. A variable under the prefix that the package does not read is
 * logged as a warning with the closest known name, and otherwise ignored
 * (`@httpkit/core/Settings.warnUnknown`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfig = (prefix = "httpkit_metrics"): Effect.Effect<Resolved, MetricsConfigError> =>
  Settings.warnUnknown(Settings.metrics, prefix).pipe(
    Effect.andThen(Settings.read(Options, prefix)),
    Effect.flatMap((read) =>
      Effect.map(portSpelling(prefix), (bad) => ({ ...read, problems: ConfigProblem.merge(bad, read.problems) }))
    ),
    Effect.flatMap(({ encoded, problems }) => {
      const resolved = resolveFrom(encoded, namingOf((path) => ConfigProblem.variableName(prefix, path), encoded))
      // What could not be read is reported with what is wrong in the rest, all at once.
      return problems.length === 0 ? resolved : resolved.pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.fail(configError(subject, ConfigProblem.merge(problems, error.problems))),
          onSuccess: () => Effect.fail(configError(subject, problems))
        })
      )
    })
  )

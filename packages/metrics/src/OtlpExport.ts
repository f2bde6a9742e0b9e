/**
 * Export metrics, traces and logs over OTLP/HTTP to an OpenTelemetry
 * collector (or any OTLP receiver: Jaeger, Tempo, Honeycomb, Grafana Cloud):
 * one layer that installs Effect's `OtlpMetrics`, `OtlpTracer` and
 * `OtlpLogger` with one endpoint, one resource and one flusher, over an HTTP
 * client of its own.
 *
 * ```ts
 * import { OtlpExport } from "@httpkit/metrics"
 *
 * // POSTs to http://localhost:4318/v1/metrics, /v1/traces and /v1/logs, JSON-encoded
 * const Telemetry = OtlpExport.layer({ baseUrl: "http://localhost:4318", serviceName: "checkout" })
 * // or from OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, ...
 * const TelemetryFromEnv = OtlpExport.layerConfig()
 * ```
 *
 * **Details**
 *
 * - JSON (`http/json`) by default, `protocol: "protobuf"` for `http/protobuf`.
 * - Everything buffered is sent when the layer's scope closes (waiting at
 *   most `shutdownTimeout`), so a short program loses nothing; the layer's
 *   `OtlpExporter.Flusher` sends everything now (`flusher.flush`).
 * - The exporter's own requests go through `node:http` with agents of the
 *   layer's own (closed with it), never through the application's
 *   `HttpClient` or a `ResilientClient`: they are not traced, not counted in
 *   httpkit's metrics, and cannot feed themselves.
 * - Each export has a deadline, `exportTimeout` (10 s), shared by its
 *   retries; each signal sends one request at a time and keeps at most
 *   `maxPendingExports` (4) exports pending: a batch that arrives beyond them
 *   is dropped, and the drops are logged.
 * - A receiver that fails three times in a row makes Effect's exporter drop
 *   its buffer and pause that signal for 60 seconds (logged as a warning).
 *   A transport failure (a connection or a certificate refused) is logged at
 *   once too, one warning per endpoint until it answers again, so an export
 *   cut off by `shutdownTimeout` is never lost without a word.
 * - Certificates are always verified: nothing (no header either) is sent over
 *   a connection whose certificate was refused. A private CA goes among
 *   Node's (`NODE_EXTRA_CA_CERTS`).
 *
 * **Gotchas**
 *
 * Export headers (`headers`, `OTEL_EXPORTER_OTLP_HEADERS`) usually hold an API
 * key: a configuration error never shows their values. Unlike Effect's own
 * `Otlp.layerFromConfig`, `layerConfig` exports a signal unless
 * `OTEL_<SIGNAL>_EXPORTER` leaves `otlp` out (the OpenTelemetry default);
 * `grpc` is not supported.
 *
 * @since 0.1.0
 */
import type * as ConfigProblem from "@httpkit/core/ConfigProblem"
import { optionPath, show } from "@httpkit/core/ConfigProblem"
import * as DurationInput from "@httpkit/core/DurationInput"
import { invalidValue } from "@httpkit/core/HeaderSyntax"
import { exactly, ownData, pinned } from "@httpkit/core/Own"
import * as Redact from "@httpkit/core/Redact"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpLogger from "effect/observability/OtlpLogger"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as ExportClient from "./internal/exportClient.ts"
import { configError, type MetricsConfigError } from "./MetricsConfig.ts"

/**
 * Which signals to export.
 *
 * @category models
 * @since 0.1.0
 */
export interface Signals {
  /** @default true */
  readonly metrics?: boolean
  /** @default true */
  readonly traces?: boolean
  /** @default true */
  readonly logs?: boolean
}

/**
 * The OTLP wire encoding: `json` (`http/json`) or `protobuf`
 * (`http/protobuf`).
 *
 * @category models
 * @since 0.1.0
 */
export type Protocol = "json" | "protobuf"

/**
 * Options in code.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The receiver's base URL; signals go to `<baseUrl>/v1/metrics`, `/v1/traces`, `/v1/logs`. */
  readonly baseUrl: string
  /** @default "json" */
  readonly protocol?: Protocol
  /** `service.name` of the resource. @default `OTEL_SERVICE_NAME`, else `unknown_service:node` */
  readonly serviceName?: string
  /** `service.version` of the resource. @default `OTEL_SERVICE_VERSION` */
  readonly serviceVersion?: string
  /** More resource attributes (`deployment.environment`), merged over `OTEL_RESOURCE_ATTRIBUTES`. */
  readonly attributes?: Readonly<Record<string, unknown>>
  /** Headers sent with every export (an API key); values may be `Redacted`, and hold no CR, LF, NUL or other control character but tab. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  /** @default "none" */
  readonly compression?: "gzip" | "none"
  /** Time between exports of each signal, at least 100 ms. @default Effect's: metrics 10 s, traces 5 s, logs 1 s */
  readonly exportInterval?: Duration.Input
  /** Longest wait for the last export when the scope closes, per signal; above 0. @default 3 seconds */
  readonly shutdownTimeout?: Duration.Input
  /**
   * Deadline of each export, its retries included, from its first request
   * sent; above 0. A request still unanswered then is cut off (its socket
   * closed) and the export fails. @default 10 seconds
   */
  readonly exportTimeout?: Duration.Input
  /** @default "cumulative" */
  readonly metricsTemporality?: "cumulative" | "delta"
  /** @default all three */
  readonly signals?: Signals
}

/**
 * `layerConfig`'s options: what the environment does not say, or says
 * otherwise; each one given here wins over its variable.
 *
 * @category models
 * @since 0.1.0
 */
export type ConfigOptions = Partial<Options>

/**
 * Each signal's URL, or undefined when it is not exported.
 *
 * @category models
 * @since 0.1.0
 */
export interface Targets {
  readonly metrics: string | undefined
  readonly traces: string | undefined
  readonly logs: string | undefined
}

/**
 * Each signal's export interval; undefined takes Effect's default.
 *
 * @category models
 * @since 0.1.0
 */
export interface Intervals {
  readonly metrics: Duration.Input | undefined
  readonly traces: Duration.Input | undefined
  readonly logs: Duration.Input | undefined
}

/**
 * The exporter's settings, checked, with each signal's URL (undefined when
 * the signal is not exported) and export interval.
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolved {
  readonly targets: Targets
  readonly intervals: Intervals
  readonly headers: Readonly<Record<string, string>>
  readonly protocol?: Protocol | undefined
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  readonly attributes?: Readonly<Record<string, unknown>> | undefined
  readonly compression?: "gzip" | "none" | undefined
  readonly shutdownTimeout?: Duration.Input | undefined
  readonly exportTimeout?: Duration.Input | undefined
  readonly metricsTemporality?: "cumulative" | "delta" | undefined
}

const subject = "OTLP configuration"
const urlExpected =
  "an http or https URL without user-info or secret query parameters (send credentials as headers: Effect's exporter logs its URL)"

/**
 * An export URL: http or https, and holding no credential (user-info, a
 * query parameter named like a token), which Effect's exporter would print
 * in its warnings (RELIABILITY 8); those belong in `headers`.
 */
const httpUrl = (value: string): URL | undefined => {
  try {
    const url = new URL(value)
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
    if (url.username !== "" || url.password !== "") return undefined
    for (const name of url.searchParams.keys()) if (Redact.isSecretParam(name)) return undefined
    return url
  } catch {
    return undefined
  }
}

/** `<base>/v1/<signal>`, keeping the base's path (`http://host/otlp` gives `http://host/otlp/v1/traces`). */
const signalUrl = (base: URL, signal: string): string => {
  const url = new URL(base.href)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/${signal}`
  return url.href
}

const unwrapHeaders = (
  headers: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    out[name] = Redacted.isRedacted(value)
      ? Redacted.value(value)
      : value
  }
  return out
}

const valueExpected =
  "a header value without control characters other than tab (such as CR, LF or NUL) or characters above U+00FF"

/**
 * A problem for each header whose value `fetch` would refuse (and Effect would then log in clear), named by
 * `setting` and the header's name; the value itself is never shown: it may be a credential.
 */
const headerValueProblems = (
  headers: Readonly<Record<string, string>>,
  setting: (name: string) => string,
  expected: (name: string) => string
): Array<ConfigProblem.ConfigProblem> =>
  Object.entries(headers).filter(([, value]) => typeof value !== "string" || invalidValue.test(value)).map((
    [name]
  ) => ({ setting: setting(name), expected: expected(name) }))

/** Shortest time between two exports of a signal: 0 would make Effect's exporter post in a tight loop. */
const minInterval = 100
const intervalExpected = `a duration of at least ${minInterval} ms`
const timeoutExpected = "a duration above 0"

/** A problem when a duration given in code is not one, or is below `min` (`exclusive`: at or below it). */
const durationProblem = (
  setting: string,
  input: unknown,
  check: { readonly min: number; readonly exclusive: boolean; readonly expected: string }
): ConfigProblem.ConfigProblem | undefined => {
  if (input === undefined) return undefined
  const millis = DurationInput.fromInput(input)
  if (millis === undefined) return DurationInput.problem(setting, input)
  return millis < check.min || (check.exclusive && millis === check.min)
    ? { setting, received: show(input), expected: check.expected }
    : undefined
}

const intervalCheck = { min: minInterval, exclusive: false, expected: intervalExpected }
const timeoutCheck = { min: 0, exclusive: true, expected: timeoutExpected }

/** The problems of the options given in code that both `layer` and `layerConfig` take. */
const codeProblems = (o: Partial<Options>): Array<ConfigProblem.ConfigProblem> => {
  const problems: Array<ConfigProblem.ConfigProblem> = []
  const interval = durationProblem("exportInterval", o.exportInterval, intervalCheck)
  if (interval !== undefined) problems.push(interval)
  const timeout = durationProblem("shutdownTimeout", o.shutdownTimeout, timeoutCheck)
  if (timeout !== undefined) problems.push(timeout)
  const exportTimeout = durationProblem("exportTimeout", o.exportTimeout, timeoutCheck)
  if (exportTimeout !== undefined) problems.push(exportTimeout)
  if (o.headers !== undefined) {
    problems.push(
      ...headerValueProblems(
        unwrapHeaders(o.headers),
        (name) => optionPath(["headers", name]),
        () => valueExpected
      )
    )
  }
  return problems
}

/** `name=value` pairs separated by commas, each with a name: what OpenTelemetry's header and attribute lists are. */
const pairList = /^\s*[^\s=,]+\s*=[^,]*(,\s*[^\s=,]+\s*=[^,]*)*,?\s*$/

const attributesError = configError(subject, [{
  setting: "OTEL_RESOURCE_ATTRIBUTES",
  expected: "key=value pairs separated by commas, values percent-encoded"
}])

/**
 * Effect's resource reader dies on a malformed `OTEL_RESOURCE_ATTRIBUTES`, and skips entries without `=`: read it
 * first, the same way, with every entry a `key=value` pair, as a typed error.
 */
const resourceAttributes = Effect.flatMap(
  Config.option(Config.String("OTEL_RESOURCE_ATTRIBUTES")).pipe(Effect.orElseSucceed(() => undefined)),
  (raw) =>
    raw !== undefined && raw._tag === "Some" && raw.value.trim() !== "" && !pairList.test(raw.value)
      ? Effect.fail(attributesError)
      : Config.Record(Schema.String, Schema.StringFromUriComponent, "OTEL_RESOURCE_ATTRIBUTES", {
        trim: true,
        keepEmptyValues: true
      }).pipe(
        Config.withDefault(undefined),
        Effect.mapError(() => attributesError)
      )
)

/**
 * The service name to give Effect's resource reader, which fails (as a
 * defect) when none is found: `undefined` when the options' attributes,
 * `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` name the service, else
 * `unknown_service:node` (OpenTelemetry's default).
 */
const serviceNameFallback = (
  attributes: Readonly<Record<string, unknown>> | undefined
): Effect.Effect<string | undefined, MetricsConfigError> =>
  Effect.gen(function*() {
    // Read first in every case: Effect's reader dies on a malformed OTEL_RESOURCE_ATTRIBUTES.
    const fromEnv = yield* resourceAttributes
    if (attributes?.["service.name"] !== undefined || fromEnv?.["service.name"] !== undefined) return undefined
    const named = yield* Config.option(Config.String("OTEL_SERVICE_NAME")).pipe(Effect.orElseSucceed(() => undefined))
    return named !== undefined && named._tag === "Some" && named.value.trim() !== ""
      ? undefined
      : "unknown_service:node"
  })

const fromOptions = (options: Options): Effect.Effect<Resolved, MetricsConfigError> =>
  Effect.suspend(() => {
    const o = ownData(options)
    const base = httpUrl(String(o.baseUrl))
    if (base === undefined) {
      return Effect.fail(
        configError(subject, [{ setting: "baseUrl", received: show(o.baseUrl), expected: urlExpected }])
      )
    }
    const problems = codeProblems(o)
    if (problems.length > 0) return Effect.fail(configError(subject, problems))
    // `o` is a copy without prototypes (`ownData`): an option left out reads as undefined, whatever
    // `Object.prototype` holds.
    const signals = o.signals
    const interval = o.exportInterval
    return Effect.succeed(resolvedOf({
      protocol: o.protocol,
      serviceName: o.serviceName,
      serviceVersion: o.serviceVersion,
      attributes: o.attributes,
      compression: o.compression,
      shutdownTimeout: o.shutdownTimeout,
      exportTimeout: o.exportTimeout,
      metricsTemporality: o.metricsTemporality,
      headers: unwrapHeaders(o.headers),
      intervals: { metrics: interval, traces: interval, logs: interval },
      targets: {
        metrics: signals?.metrics === false ? undefined : signalUrl(base, "metrics"),
        traces: signals?.traces === false ? undefined : signalUrl(base, "traces"),
        logs: signals?.logs === false ? undefined : signalUrl(base, "logs")
      }
    }))
  })

/**
 * `Resolved` with every field an own property of an object without a
 * prototype (nested ones too), so that reading one that was not set gives
 * `undefined` whatever `Object.prototype` holds (RELIABILITY 10).
 */
const resolvedOf = (fields: { readonly [K in keyof Resolved]-?: Resolved[K] }): Resolved =>
  exactly({
    ...fields,
    headers: exactly({ ...fields.headers }),
    attributes: fields.attributes === undefined ? undefined : exactly({ ...fields.attributes }),
    targets: exactly({ ...fields.targets }),
    intervals: exactly({ ...fields.intervals })
  })

/** Every option Effect's `OtlpMetrics.make`, `OtlpTracer.make` and `OtlpLogger.make` read. */
const effectOptionNames: ReadonlyArray<string> = [
  "compression",
  "context",
  "excludeLogSpans",
  "exportInterval",
  "headers",
  "maxBatchSize",
  "resource",
  "shutdownTimeout",
  "temporality",
  "url"
]

/** Every field Effect's `OtlpResource` reads from the resource given in code. */
const resourceOptionNames: ReadonlyArray<string> = ["attributes", "serviceName", "serviceVersion"]

/** Each export's deadline when none is given: OpenTelemetry's `OTEL_EXPORTER_OTLP_TIMEOUT` default. */
const defaultExportTimeout = 10_000

/**
 * Exports pending per signal (waiting, being sent, or between tries) before
 * new batches are dropped: with Effect's batches of up to 1,000 spans or log
 * records, 4,000 held besides Effect's own buffer.
 */
const maxPendingExports = 4

const build = (resolved: Resolved): Effect.Effect<Layer.Layer<OtlpExporter.Flusher>, MetricsConfigError> =>
  Effect.gen(function*() {
    const { targets } = resolved
    if (targets.metrics === undefined && targets.traces === undefined && targets.logs === undefined) {
      return OtlpExporter.layerFlusher
    }
    const attributes = resolved.attributes
    const fallback = yield* serviceNameFallback(attributes)
    const serviceName = resolved.serviceName ?? fallback
    const common = {
      // Effect's resource reader looks `service.name` up in the attributes: a copy without a prototype.
      resource: pinned(resourceOptionNames, {
        serviceName,
        serviceVersion: resolved.serviceVersion,
        attributes: attributes === undefined ? undefined : exactly({ ...attributes })
      }),
      headers: resolved.headers,
      compression: resolved.compression ?? "none",
      shutdownTimeout: resolved.shutdownTimeout
    }
    // Effect reads its options plainly (`options.maxBatchSize ?? 1000`): every one it reads is pinned.
    const effectOptions = <A extends object>(fields: A): A => pinned(effectOptionNames, { ...common, ...fields })
    const layers: Array<Layer.Layer<never, never, Deps>> = []
    if (targets.metrics !== undefined) {
      layers.push(Layer.effectDiscard(
        OtlpMetrics.make(effectOptions({
          url: targets.metrics,
          exportInterval: resolved.intervals.metrics,
          temporality: resolved.metricsTemporality
        }))
      ))
    }
    if (targets.traces !== undefined) {
      layers.push(
        Layer.effect(
          Tracer.Tracer,
          OtlpTracer.make(effectOptions({ url: targets.traces, exportInterval: resolved.intervals.traces }))
        )
      )
    }
    if (targets.logs !== undefined) {
      layers.push(
        Logger.layer([OtlpLogger.make(effectOptions({ url: targets.logs, exportInterval: resolved.intervals.logs }))], {
          mergeWithExisting: true
        })
      )
    }
    const exportTimeout = resolved.exportTimeout === undefined
      ? defaultExportTimeout
      : DurationInput.fromInput(resolved.exportTimeout) ?? defaultExportTimeout
    return Layer.mergeAll(Layer.empty, ...layers).pipe(
      // One flusher for the three signals, each exporter with its own endpoint.
      Layer.provideMerge(OtlpExporter.layerFlusher),
      Layer.provide(resolved.protocol === "protobuf" ? OtlpSerialization.layerProtobuf : OtlpSerialization.layerJson),
      // The exporter's own client: not the application's, so its requests are never traced or counted.
      Layer.provide(ExportClient.layer({ timeout: exportTimeout, maxPending: maxPendingExports }))
    )
  })

type Deps = OtlpExporter.Flusher | OtlpSerialization.OtlpSerialization | HttpClient.HttpClient

/**
 * Exports metrics, traces and logs to `options.baseUrl` until the layer's
 * scope closes, then sends what is left. Fails with `MetricsConfigError` when
 * `baseUrl` is not an http(s) URL, a header value holds a character no header
 * may (named by its header, the value never shown), `exportInterval` is under
 * 100 ms, `shutdownTimeout` or `exportTimeout` is 0, or
 * `OTEL_RESOURCE_ATTRIBUTES` cannot be read.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<OtlpExporter.Flusher, MetricsConfigError> =>
  Layer.unwrap(Effect.flatMap(fromOptions(options), build))

// -----------------------------------------------------------------------------
// from the environment
// -----------------------------------------------------------------------------

const signalNames = { metrics: "METRICS", traces: "TRACES", logs: "LOGS" } as const

/** One variable, or undefined when it is not set (or cannot be loaded). */
const variable = (name: string): Effect.Effect<string | undefined> =>
  Config.option(Config.String(name)).pipe(
    Effect.map((value) => value._tag === "Some" && value.value.trim() !== "" ? value.value.trim() : undefined),
    Effect.orElseSucceed(() => undefined)
  )

const headersOf = (
  name: string
): Effect.Effect<Readonly<Record<string, string>> | undefined, ConfigProblem.ConfigProblem> => {
  // The values are credentials: never shown.
  const problem = { setting: name, expected: "name=value pairs separated by commas, values percent-encoded" }
  return Effect.flatMap(variable(name), (raw) => {
    if (raw === undefined) return Effect.succeed(undefined)
    if (!pairList.test(raw)) return Effect.fail(problem)
    return Config.Record(Schema.String, Schema.StringFromUriComponent, name).pipe(
      Effect.mapError(() => problem),
      Effect.flatMap((headers) => {
        // Percent-decoding may give what no header value may hold (`%0d%0a`): named by the header, never shown.
        const bad = headerValueProblems(
          headers,
          () => name,
          (header) => `${valueExpected} for ${JSON.stringify(header.slice(0, 64))}`
        )
        return bad.length > 0 ? Effect.fail(bad[0]!) : Effect.succeed(headers)
      })
    )
  })
}

/**
 * Reads the exporter's settings the way OpenTelemetry SDKs do:
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `OTEL_SDK_DISABLED` | `true`: export nothing | `false` |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL; `/v1/<signal>` is appended | `http://localhost:4318` |
 * | `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` | one signal's full URL, used as is | |
 * | `OTEL_<SIGNAL>_EXPORTER` | a list; a signal is exported when it holds `otlp` | `otlp` |
 * | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/json` or `http/protobuf` | `http/json` (httpkit's default) |
 * | `OTEL_EXPORTER_OTLP_HEADERS` | `name=value,...`, percent-encoded, sent with every export | |
 * | `OTEL_EXPORTER_OTLP_COMPRESSION` | `gzip` or `none` | `none` |
 * | `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds (at least 1): each export's deadline (`exportTimeout`), and the wait for the last export at shutdown (`shutdownTimeout`) | 10000 and 3000 |
 * | `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BLRP_SCHEDULE_DELAY` | milliseconds (at least 100) between exports of metrics, spans, logs | 10000, 5000, 1000 |
 * | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `cumulative` or `delta` | `cumulative` |
 * | `OTEL_SERVICE_NAME`, `OTEL_SERVICE_VERSION`, `OTEL_RESOURCE_ATTRIBUTES` | the resource (read by Effect's `OtlpResource`) | `unknown_service:node` |
 *
 * `<SIGNAL>` is `METRICS`, `TRACES` or `LOGS`. Every variable at fault is
 * reported at once in one `MetricsConfigError` (header values never shown).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfig = (options: ConfigOptions = {}): Effect.Effect<Resolved, MetricsConfigError> =>
  Effect.gen(function*() {
    const o = ownData(options)
    const problems: Array<ConfigProblem.ConfigProblem> = []
    const problem = (setting: string, received: string, expected: string) =>
      problems.push({ setting, received: show(received), expected })
    const off: Targets = { metrics: undefined, traces: undefined, logs: undefined }

    const disabled = yield* variable("OTEL_SDK_DISABLED")
    if (disabled !== undefined && !/^(true|false)$/i.test(disabled)) {
      problem("OTEL_SDK_DISABLED", disabled, "true or false")
    }
    if (disabled?.toLowerCase() === "true") {
      return resolvedOf({
        protocol: undefined,
        serviceName: undefined,
        serviceVersion: undefined,
        attributes: undefined,
        compression: undefined,
        shutdownTimeout: undefined,
        exportTimeout: undefined,
        metricsTemporality: undefined,
        headers: {},
        targets: off,
        intervals: { metrics: undefined, traces: undefined, logs: undefined }
      })
    }

    const endpointRaw = yield* variable("OTEL_EXPORTER_OTLP_ENDPOINT")
    const base = o.baseUrl ?? endpointRaw ?? "http://localhost:4318"
    const baseUrl = httpUrl(base)
    if (baseUrl === undefined) {
      problem(o.baseUrl === undefined ? "OTEL_EXPORTER_OTLP_ENDPOINT" : "baseUrl", base, urlExpected)
    }
    const targets: Record<keyof Targets, string | undefined> = { ...off }
    for (const signal of ["metrics", "traces", "logs"] as const) {
      const name = signalNames[signal]
      const exporters = yield* variable(`OTEL_${name}_EXPORTER`)
      const wanted = o.signals?.[signal] ?? (exporters === undefined ||
        exporters.split(",").some((item) => item.trim().toLowerCase() === "otlp"))
      if (!wanted) continue
      const own = o.baseUrl === undefined ? yield* variable(`OTEL_EXPORTER_OTLP_${name}_ENDPOINT`) : undefined
      if (own !== undefined) {
        if (httpUrl(own) === undefined) problem(`OTEL_EXPORTER_OTLP_${name}_ENDPOINT`, own, urlExpected)
        else targets[signal] = own
      } else if (baseUrl !== undefined) {
        targets[signal] = signalUrl(baseUrl, signal)
      }
    }

    const protocolRaw = yield* variable("OTEL_EXPORTER_OTLP_PROTOCOL")
    let protocol: Protocol = "json"
    if (protocolRaw !== undefined) {
      if (protocolRaw === "http/json") protocol = "json"
      else if (protocolRaw === "http/protobuf") protocol = "protobuf"
      else problem("OTEL_EXPORTER_OTLP_PROTOCOL", protocolRaw, "http/json or http/protobuf (grpc is not supported)")
    }

    const compressionRaw = yield* variable("OTEL_EXPORTER_OTLP_COMPRESSION")
    if (compressionRaw !== undefined && compressionRaw !== "gzip" && compressionRaw !== "none") {
      problem("OTEL_EXPORTER_OTLP_COMPRESSION", compressionRaw, "gzip or none")
    }
    const millis = (name: string) =>
      Effect.map(variable(name), (raw) => {
        if (raw === undefined) return undefined
        const least = name === "OTEL_EXPORTER_OTLP_TIMEOUT" ? 1 : minInterval
        if (/^\d+$/.test(raw) && Number(raw) >= least) return Duration.millis(Number(raw))
        problem(name, raw, `a whole number of milliseconds, at least ${least}`)
        return undefined
      })
    const timeout = o.shutdownTimeout === undefined || o.exportTimeout === undefined
      ? yield* millis("OTEL_EXPORTER_OTLP_TIMEOUT")
      : undefined
    const fromEnv = o.exportInterval === undefined
    const metricInterval = fromEnv ? yield* millis("OTEL_METRIC_EXPORT_INTERVAL") : undefined
    const spanInterval = fromEnv ? yield* millis("OTEL_BSP_SCHEDULE_DELAY") : undefined
    const logInterval = fromEnv ? yield* millis("OTEL_BLRP_SCHEDULE_DELAY") : undefined
    const temporalityRaw = yield* variable("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")
    const temporality = temporalityRaw?.toLowerCase()
    if (temporality !== undefined && temporality !== "cumulative" && temporality !== "delta") {
      problem("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", temporalityRaw!, "cumulative or delta")
    }

    let headers: Readonly<Record<string, string>> = {}
    if (o.headers === undefined) {
      const found = yield* Effect.result(headersOf("OTEL_EXPORTER_OTLP_HEADERS"))
      if (found._tag === "Failure") problems.push(found.failure)
      else headers = found.success ?? {}
    } else headers = unwrapHeaders(o.headers)
    problems.push(...codeProblems(o))
    yield* resourceAttributes.pipe(Effect.catch((error) => Effect.sync(() => problems.push(...error.problems))))

    if (problems.length > 0) return yield* Effect.fail(configError(subject, problems))
    const interval = o.exportInterval
    return resolvedOf({
      protocol: o.protocol ?? protocol,
      serviceName: o.serviceName,
      serviceVersion: o.serviceVersion,
      attributes: o.attributes,
      compression: o.compression ?? (compressionRaw as "gzip" | "none" | undefined),
      shutdownTimeout: o.shutdownTimeout ?? timeout,
      exportTimeout: o.exportTimeout ?? timeout,
      intervals: {
        metrics: interval ?? metricInterval,
        traces: interval ?? spanInterval,
        logs: interval ?? logInterval
      },
      metricsTemporality: o.metricsTemporality ?? (temporality as "cumulative" | "delta" | undefined),
      headers,
      targets
    })
  })

/**
 * The exporter configured from the environment (`fromConfig`: the
 * `OTEL_EXPORTER_OTLP_*` variables, `OTEL_SERVICE_NAME`, ...), with
 * `options` given in code winning over their variables. With
 * `OTEL_SDK_DISABLED=true`, or every signal's exporter off, it exports
 * nothing.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (options: ConfigOptions = {}): Layer.Layer<OtlpExporter.Flusher, MetricsConfigError> =>
  Layer.unwrap(Effect.flatMap(fromConfig(options), build))

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
 * - The exporter's own requests go through `fetch` (Effect's
 *   `FetchHttpClient`), never through the application's `HttpClient` or a
 *   `ResilientClient`: they are not traced, not counted in httpkit's metrics,
 *   and cannot feed themselves.
 * - A receiver that fails three times in a row makes Effect's exporter drop
 *   its buffer and pause that signal for 60 seconds (logged as a warning).
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
import { show } from "@httpkit/core/ConfigProblem"
import { ownData } from "@httpkit/core/Own"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
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
  /** Headers sent with every export (an API key); values may be `Redacted`. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  /** @default "none" */
  readonly compression?: "gzip" | "none"
  /** Time between exports of each signal. @default Effect's: metrics 10 s, traces 5 s, logs 1 s */
  readonly exportInterval?: Duration.Input
  /** Longest wait for the last export when the scope closes, per signal. @default 3 seconds */
  readonly shutdownTimeout?: Duration.Input
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
  readonly metricsTemporality?: "cumulative" | "delta" | undefined
}

const subject = "OTLP configuration"
const urlExpected = "an http or https URL"

const httpUrl = (value: string): URL | undefined => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined
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

/** Effect's resource reader dies on a malformed `OTEL_RESOURCE_ATTRIBUTES`: read it first, the same way, as a typed error. */
const resourceAttributes = Config.Record(Schema.String, Schema.StringFromUriComponent, "OTEL_RESOURCE_ATTRIBUTES", {
  trim: true,
  keepEmptyValues: true
}).pipe(
  Config.withDefault(undefined),
  Effect.mapError(() =>
    configError(subject, [{
      setting: "OTEL_RESOURCE_ATTRIBUTES",
      expected: "key=value pairs separated by commas, values percent-encoded"
    }])
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
    const signals = o.signals ?? {}
    const { baseUrl: _, signals: __, headers, exportInterval, ...rest } = o
    return Effect.succeed({
      ...rest,
      headers: unwrapHeaders(headers),
      intervals: { metrics: exportInterval, traces: exportInterval, logs: exportInterval },
      targets: {
        metrics: signals.metrics === false ? undefined : signalUrl(base, "metrics"),
        traces: signals.traces === false ? undefined : signalUrl(base, "traces"),
        logs: signals.logs === false ? undefined : signalUrl(base, "logs")
      }
    })
  })

const build = (resolved: Resolved): Effect.Effect<Layer.Layer<OtlpExporter.Flusher>, MetricsConfigError> =>
  Effect.gen(function*() {
    const { targets } = resolved
    if (targets.metrics === undefined && targets.traces === undefined && targets.logs === undefined) {
      return OtlpExporter.layerFlusher
    }
    const fallback = yield* serviceNameFallback(resolved.attributes)
    const serviceName = resolved.serviceName ?? fallback
    const common = {
      resource: {
        serviceName,
        serviceVersion: resolved.serviceVersion,
        ...(resolved.attributes === undefined ? {} : { attributes: { ...resolved.attributes } })
      },
      headers: resolved.headers,
      compression: resolved.compression ?? "none",
      shutdownTimeout: resolved.shutdownTimeout
    }
    const layers: Array<Layer.Layer<never, never, Deps>> = []
    if (targets.metrics !== undefined) {
      layers.push(Layer.effectDiscard(
        OtlpMetrics.make({
          ...common,
          url: targets.metrics,
          exportInterval: resolved.intervals.metrics,
          temporality: resolved.metricsTemporality
        })
      ))
    }
    if (targets.traces !== undefined) {
      layers.push(
        Layer.effect(
          Tracer.Tracer,
          OtlpTracer.make({ ...common, url: targets.traces, exportInterval: resolved.intervals.traces })
        )
      )
    }
    if (targets.logs !== undefined) {
      layers.push(
        Logger.layer([OtlpLogger.make({ ...common, url: targets.logs, exportInterval: resolved.intervals.logs })], {
          mergeWithExisting: true
        })
      )
    }
    return Layer.mergeAll(Layer.empty, ...layers).pipe(
      // One flusher for the three signals, each exporter with its own endpoint.
      Layer.provideMerge(OtlpExporter.layerFlusher),
      Layer.provide(resolved.protocol === "protobuf" ? OtlpSerialization.layerProtobuf : OtlpSerialization.layerJson),
      // The exporter's own client: not the application's, so its requests are never traced or counted.
      Layer.provide(FetchHttpClient.layer)
    )
  })

type Deps = OtlpExporter.Flusher | OtlpSerialization.OtlpSerialization | HttpClient.HttpClient

/**
 * Exports metrics, traces and logs to `options.baseUrl` until the layer's
 * scope closes, then sends what is left. Fails with `MetricsConfigError` when
 * `baseUrl` is not an http(s) URL or `OTEL_RESOURCE_ATTRIBUTES` cannot be
 * read.
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

/** `name=value` pairs separated by commas, each with a name: what OpenTelemetry's header lists are. */
const pairList = /^\s*[^\s=,]+\s*=[^,]*(,\s*[^\s=,]+\s*=[^,]*)*,?\s*$/

const headersOf = (
  name: string
): Effect.Effect<Readonly<Record<string, string>> | undefined, ConfigProblem.ConfigProblem> => {
  // The values are credentials: never shown.
  const problem = { setting: name, expected: "name=value pairs separated by commas, values percent-encoded" }
  return Effect.flatMap(variable(name), (raw) => {
    if (raw === undefined) return Effect.succeed(undefined)
    if (!pairList.test(raw)) return Effect.fail(problem)
    return Config.Record(Schema.String, Schema.StringFromUriComponent, name).pipe(Effect.mapError(() => problem))
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
 * | `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds: the wait for the last export at shutdown | 3000 |
 * | `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BLRP_SCHEDULE_DELAY` | milliseconds between exports of metrics, spans, logs | 10000, 5000, 1000 |
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
      return { headers: {}, targets: off, intervals: { metrics: undefined, traces: undefined, logs: undefined } }
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
        if (/^\d+$/.test(raw)) return Duration.millis(Number(raw))
        problem(name, raw, "a whole number of milliseconds")
        return undefined
      })
    const timeout = yield* millis("OTEL_EXPORTER_OTLP_TIMEOUT")
    const metricInterval = yield* millis("OTEL_METRIC_EXPORT_INTERVAL")
    const spanInterval = yield* millis("OTEL_BSP_SCHEDULE_DELAY")
    const logInterval = yield* millis("OTEL_BLRP_SCHEDULE_DELAY")
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
    yield* resourceAttributes.pipe(Effect.catch((error) => Effect.sync(() => problems.push(...error.problems))))

    if (problems.length > 0) return yield* Effect.fail(configError(subject, problems))
    const { baseUrl: _, signals: __, headers: ___, exportInterval, ...rest } = o
    return {
      ...rest,
      protocol: o.protocol ?? protocol,
      compression: o.compression ?? (compressionRaw as "gzip" | "none" | undefined),
      shutdownTimeout: o.shutdownTimeout ?? timeout,
      intervals: {
        metrics: exportInterval ?? metricInterval,
        traces: exportInterval ?? spanInterval,
        logs: exportInterval ?? logInterval
      },
      metricsTemporality: o.metricsTemporality ?? (temporality as "cumulative" | "delta" | undefined),
      headers,
      targets
    }
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

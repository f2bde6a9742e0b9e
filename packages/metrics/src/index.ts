/**
 * See what the traffic does: a snapshot and a text table of what httpkit's
 * packages record, a Prometheus endpoint, and OTLP export of metrics, traces
 * and logs. Each module is also importable on its own, as
 * `@httpkit/metrics/<Module>`.
 *
 * @since 0.1.0
 */

/**
 * What httpkit's packages recorded, as plain data described with Schema.
 *
 * @since 0.1.0
 */
export * as Snapshot from "./Snapshot.ts"

/**
 * Reads the metric registry into a `Snapshot`.
 *
 * @since 0.1.0
 */
export * as HttpkitMetrics from "./HttpkitMetrics.ts"

/**
 * A `Snapshot` as aligned text tables or JSON, and a layer that prints it at exit.
 *
 * @since 0.1.0
 */
export * as MetricsTable from "./MetricsTable.ts"

/**
 * The configuration of the Prometheus endpoint (`HTTPKIT_METRICS_*`) and the
 * package's configuration error.
 *
 * @since 0.1.0
 */
export * as MetricsConfig from "./MetricsConfig.ts"

/**
 * An endpoint Prometheus can scrape: the registry in the text exposition format.
 *
 * @since 0.1.0
 */
export * as MetricsServer from "./MetricsServer.ts"

/**
 * Export of metrics, traces and logs over OTLP/HTTP, from code or from the `OTEL_*` variables.
 *
 * @since 0.1.0
 */
export * as OtlpExport from "./OtlpExport.ts"

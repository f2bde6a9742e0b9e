/**
 * What `ResilientClient` reports as Effect `Metric`s: calls by outcome,
 * status and status class, their durations, retries, calls in flight,
 * bulkhead rejections, circuit transitions, open circuits and each circuit's
 * state, and the connection pool of its undici transport. Effect's own
 * `HttpClient`, retry and circuit breaker emit none of these.
 *
 * Every series carries a `client` attribute (the `name` option, `default`
 * unless set), so several clients in one application stay apart. Attributes
 * hold no secrets and stay bounded: `host` is the request's host and port
 * (never user info, path or query), at most `maxHosts` hosts per client (the
 * rest are counted as `other`); unknown methods count as `OTHER`.
 *
 * Metrics live in Effect's `Metric.MetricRegistry`: read them with
 * `Metric.snapshot` or `Metric.value`, or export them (Prometheus, OTLP) with
 * `effect/observability`. Turn them off per client with `metrics: false`.
 *
 * @since 0.1.0
 */
import * as MetricBoundaries from "@httpkit/core/MetricBoundaries"
import * as MetricSeries from "@httpkit/core/MetricSeries"
import * as Metric from "effect/Metric"

/**
 * Logical calls that ended, retries included in one call: attributes
 * `client`, `method`, `host`, `status` (the last response's status, or
 * `none`), `status_class` (`1xx` to `5xx`, or `none`) and `outcome`
 * (`success`, the error's tag, or `interrupted`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const requests: Metric.Counter<number> = Metric.counter(
  "httpkit_client_requests_total",
  MetricSeries.options({
    description: "Calls of a ResilientClient that ended, by method, host, status, status class and outcome",
    incremental: true
  })
)

/**
 * The bucket boundaries of `requestDuration`, in seconds: the shared
 * `MetricBoundaries.seconds` (2^-13 s to 2^11 s by factor √2), so a 2 ms
 * loopback call and a 30 s transfer both resolve, and a quantile read from
 * the histogram is off by at most its bucket's width.
 *
 * @category constants
 * @since 0.1.0
 */
export const durationBoundaries: ReadonlyArray<number> = MetricBoundaries.seconds

/**
 * How long calls took, in seconds, from the call to its end (bulkhead,
 * limiter and retry waits included; for `stream`, to the response head):
 * attributes `client`, `method`, `host`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const requestDuration: Metric.Histogram<number> = Metric.histogram(
  "httpkit_client_request_duration_seconds",
  MetricSeries.options({
    description: "Duration of ResilientClient calls in seconds, retries and waits included",
    boundaries: durationBoundaries
  })
)

/**
 * Attempts that failed and were tried again: attributes `client`, `host`
 * and `reason` (the failed attempt's error tag). Attempts sent in all are
 * calls plus retries.
 *
 * @category metrics
 * @since 0.1.0
 */
export const retries: Metric.Counter<number> = Metric.counter(
  "httpkit_client_retries_total",
  MetricSeries.options({
    description: "Failed attempts of ResilientClient calls that were tried again, by host and reason",
    incremental: true
  })
)

/**
 * Calls in progress, waits for a bulkhead or limiter slot included:
 * attribute `client`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const inFlight: Metric.Gauge<number> = Metric.gauge(
  "httpkit_client_in_flight",
  MetricSeries.options({
    description: "ResilientClient calls in progress"
  })
)

/**
 * Calls refused by a bulkhead (`BulkheadFullError`: its queue was full, or
 * the wait for a slot ran out): attributes `client` and `host`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const bulkheadRejections: Metric.Counter<number> = Metric.counter(
  "httpkit_client_bulkhead_rejections_total",
  MetricSeries.options({
    description: "Calls of a ResilientClient refused by a full bulkhead, by host",
    incremental: true
  })
)

/**
 * Circuit breaker transitions: attributes `client`, `from` and `to`
 * (`closed`, `open`, `half_open`). Not per key, so the series stay few; a
 * call refused by an open circuit counts in `requests` with outcome
 * `CircuitOpenError` and the host.
 *
 * @category metrics
 * @since 0.1.0
 */
export const circuitTransitions: Metric.Counter<number> = Metric.counter(
  "httpkit_client_circuit_transitions_total",
  MetricSeries.options({ description: "Circuit breaker transitions of a ResilientClient", incremental: true })
)

/**
 * Circuits that are open or half-open: attribute `client`. With a shared
 * store (Redis), what this process's breaker has seen.
 *
 * @category metrics
 * @since 0.1.0
 */
export const circuitsOpen: Metric.Gauge<number> = Metric.gauge(
  "httpkit_client_circuits_open",
  MetricSeries.options({
    description: "Circuits of a ResilientClient that are open or half-open"
  })
)

/**
 * Each circuit's state: `0` closed, `1` half-open, `2` open; attributes
 * `client` and `key` (the breaker's key, the host or the origin, as
 * `circuitBreaker.keyBy` says). A key's series appears at its circuit's first
 * transition and is read when the registry is read; at most `maxHosts` keys
 * per client, the circuits of further keys share the series `other`, which
 * shows the highest state among them. Removed when the client's scope closes.
 * With a shared store (Redis), the state this process's breaker has seen.
 *
 * @category metrics
 * @since 0.1.0
 */
export const circuitState: Metric.Gauge<number> = Metric.gauge(
  "httpkit_client_circuit_state",
  MetricSeries.options({
    description: "State of each circuit of a ResilientClient: 0 closed, 1 half-open, 2 open"
  })
)

/**
 * The undici pool's connections over all origins: attributes `client` and
 * `state` (`connected`: open sockets; `free`: open and idle). Read when the
 * registry is read; only for the client's own undici transport.
 *
 * @category metrics
 * @since 0.1.0
 */
export const poolConnections: Metric.Gauge<number> = Metric.gauge(
  "httpkit_client_pool_connections",
  MetricSeries.options({
    description: "Connections of a ResilientClient's undici pool, by state"
  })
)

/**
 * The undici pool's requests over all origins: attributes `client` and
 * `state` (`running`: in progress on a connection; `pending`: given to a
 * connection, not yet sent; `queued`: waiting for a connection, as when
 * `pool.connectionsPerOrigin` are all busy).
 *
 * @category metrics
 * @since 0.1.0
 */
export const poolRequests: Metric.Gauge<number> = Metric.gauge(
  "httpkit_client_pool_requests",
  MetricSeries.options({
    description: "Requests of a ResilientClient's undici pool, by state"
  })
)

/**
 * Most distinct `host` values per client (and breaker keys, for
 * `circuitState`); calls to further hosts count under `other`.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxHosts = 1_000

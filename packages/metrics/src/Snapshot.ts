/**
 * What httpkit's packages have recorded, as plain data: per client and host
 * (calls by status class and outcome, errors by tag, latency, retries,
 * bulkhead rejections, breaker state), per rate-limiter key (waits,
 * acquisitions, server hold-offs) and per download host (files, bytes,
 * resumes, durations). `HttpkitMetrics.snapshot` reads one from the metric
 * registry; `MetricsTable.render` prints it.
 *
 * **Details**
 *
 * Counts are always present: `0` when nothing was counted, and a `Record` of
 * counts holds only the keys that were counted (an empty record when none
 * were). What has no value without observations is absent instead: a
 * `Distribution` when nothing was measured, `breaker` when the client reports
 * no breaker for the host, `pool` when the client's transport reports no
 * pool. Every class encodes to JSON with `Schema.encodeSync(Snapshot)`.
 *
 * Quantiles come from histogram buckets, so each carries the interval
 * `[lower, upper]` that holds the true value (the k-th smallest of the
 * values recorded, k = ceil(q * count)): the bucket it falls in, narrowed to
 * the recorded min and max. With `@httpkit/core/MetricBoundaries` `seconds`
 * an interval spans at most a factor of √2.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const Count = Schema.Number
const Counts = Schema.Record(Schema.String, Schema.Number)

/**
 * An estimated quantile and the interval that holds the true one: `value`
 * lies in `[lower, upper]`, so it is off by at most `upper - lower`.
 *
 * @category models
 * @since 0.1.0
 */
export class Quantile extends Schema.Class<Quantile>("@httpkit/metrics/Quantile")({
  /** The estimate, interpolated linearly inside its bucket. */
  value: Schema.Number,
  /** The true value is at least this: the bucket's lower edge, or the recorded min. */
  lower: Schema.Number,
  /** The true value is at most this: the bucket's upper edge, or the recorded max. */
  upper: Schema.Number
}) {}

/**
 * A distribution read from a histogram: count, sum, min, mean, max and four
 * quantiles. Only made when at least one value was recorded.
 *
 * @category models
 * @since 0.1.0
 */
export class Distribution extends Schema.Class<Distribution>("@httpkit/metrics/Distribution")({
  count: Count,
  /** The sum of the values (seconds, for a duration). */
  sum: Schema.Number,
  min: Schema.Number,
  mean: Schema.Number,
  max: Schema.Number,
  p50: Quantile,
  p90: Quantile,
  p95: Quantile,
  p99: Quantile
}) {}

/**
 * A circuit's state, from `httpkit_client_circuit_state` (0, 1, 2).
 *
 * @category models
 * @since 0.1.0
 */
export const BreakerState = Schema.Literals(["closed", "half_open", "open"])

/**
 * A circuit's state.
 *
 * @category models
 * @since 0.1.0
 */
export type BreakerState = typeof BreakerState.Type

/**
 * One client's calls to one host (`host:port`, `other` past the client's
 * host limit, `none` for calls that never had a URL).
 *
 * @category models
 * @since 0.1.0
 */
export class HostStats extends Schema.Class<HostStats>("@httpkit/metrics/HostStats")({
  host: Schema.String,
  /** Calls that ended, retries counted once per call. */
  requests: Count,
  /** Calls by the last response's status class: `1xx` to `5xx`, `none` when no response came. */
  statusClasses: Counts,
  /** Calls by the last response's status (`200`, `503`, `none`). */
  statuses: Counts,
  /** Calls by outcome: `success`, an error's tag, `interrupted`. */
  outcomes: Counts,
  /** Calls whose outcome was not `success` (interrupted ones included). */
  errors: Count,
  /** `outcomes` without `success`. */
  errorsByTag: Counts,
  /** Call durations in seconds, retries and waits included; absent when none ended. */
  latency: Schema.optionalKey(Distribution),
  /** Failed attempts that were tried again. */
  retries: Count,
  /** Retries by the failed attempt's error tag. */
  retriesByReason: Counts,
  /** Calls the bulkhead refused. */
  bulkheadRejections: Count,
  /** The host's circuit, when the client reports one (the worst, if several origins share the host). */
  breaker: Schema.optionalKey(BreakerState)
}) {}

/**
 * A client's undici connection pool, over all origins.
 *
 * @category models
 * @since 0.1.0
 */
export class PoolStats extends Schema.Class<PoolStats>("@httpkit/metrics/PoolStats")({
  /** Open sockets. */
  connected: Count,
  /** Open and idle sockets. */
  free: Count,
  /** Requests in progress on a connection. */
  running: Count,
  /** Requests given to a connection, not yet sent. */
  pending: Count,
  /** Requests waiting for a connection. */
  queued: Count
}) {}

/**
 * Circuit transitions of one kind.
 *
 * @category models
 * @since 0.1.0
 */
export class Transition extends Schema.Class<Transition>("@httpkit/metrics/Transition")({
  from: Schema.String,
  to: Schema.String,
  count: Count
}) {}

/**
 * One client (its `name` option) and its hosts, sorted by host.
 *
 * @category models
 * @since 0.1.0
 */
export class ClientStats extends Schema.Class<ClientStats>("@httpkit/metrics/ClientStats")({
  name: Schema.String,
  /** Calls in progress when the snapshot was taken. */
  inFlight: Count,
  /** Circuits open or half-open. */
  circuitsOpen: Count,
  /** Circuit transitions so far, by kind. */
  transitions: Schema.Array(Transition),
  /** The connection pool; absent when the client's transport reports none. */
  pool: Schema.optionalKey(PoolStats),
  hosts: Schema.Array(HostStats)
}) {}

/**
 * Rate-limit waits of one key: how many, their total, three quantiles.
 *
 * @category models
 * @since 0.1.0
 */
export class Waits extends Schema.Class<Waits>("@httpkit/metrics/Waits")({
  count: Count,
  totalSeconds: Schema.Number,
  p50: Quantile,
  p90: Quantile,
  p99: Quantile
}) {}

/**
 * One rate-limiter key: the host or origin it came from, `custom` for keys
 * the caller named, `other` past the key limit, `all` when the limiter
 * recorded no key.
 *
 * @category models
 * @since 0.1.0
 */
export class LimiterStats extends Schema.Class<LimiterStats>("@httpkit/metrics/LimiterStats")({
  key: Schema.String,
  /** Waits for a slot; absent when none was recorded. */
  waits: Schema.optionalKey(Waits),
  /** Acquisitions by outcome: `granted`, `refused`, `unavailable`, `fallback`, `late`. */
  acquisitions: Counts,
  /** Acquisitions refused (`acquisitions.refused`). */
  denials: Count,
  /** Hold-offs ordered by server feedback (429, rate-limit headers). */
  holds: Count,
  /** Hold-offs by reason. */
  holdsByReason: Counts,
  /** Seconds of hold-off ordered, in total. */
  holdSeconds: Schema.Number
}) {}

/**
 * The downloads from one host.
 *
 * @category models
 * @since 0.1.0
 */
export class DownloadStats extends Schema.Class<DownloadStats>("@httpkit/metrics/DownloadStats")({
  host: Schema.String,
  /** Downloads that ended. */
  files: Count,
  /** Downloads by outcome: `success`, `skipped`, an error's tag, `interrupted`. */
  outcomes: Counts,
  /** Body bytes received. */
  bytes: Count,
  resumes: Count,
  restarts: Count,
  continuations: Count,
  segments: Count,
  checksumFailures: Count,
  /** Checksum failures by algorithm. */
  checksumFailuresByAlgorithm: Counts,
  /** Download durations in seconds, all outcomes; absent when none ended. */
  duration: Schema.optionalKey(Distribution)
}) {}

/**
 * Everything, sorted: clients by name, hosts and keys by name.
 *
 * @category models
 * @since 0.1.0
 */
export class Snapshot extends Schema.Class<Snapshot>("@httpkit/metrics/Snapshot")({
  clients: Schema.Array(ClientStats),
  rateLimiter: Schema.Array(LimiterStats),
  downloads: Schema.Array(DownloadStats)
}) {}

/**
 * A snapshot with nothing recorded.
 *
 * @category constructors
 * @since 0.1.0
 */
export const empty: Snapshot = new Snapshot({ clients: [], rateLimiter: [], downloads: [] })

/**
 * Whether `snapshot` holds no client, key or download host.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isEmpty = (snapshot: Snapshot): boolean =>
  snapshot.clients.length === 0 && snapshot.rateLimiter.length === 0 && snapshot.downloads.length === 0

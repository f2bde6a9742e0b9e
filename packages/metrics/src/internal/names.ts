/**
 * The metric names this package reads, as the client, the rate limiter and
 * the downloader record them (the naming test checks they agree). Kept here,
 * not imported, so `@httpkit/metrics` needs none of those packages at run
 * time.
 */
export const names = {
  clientRequests: "httpkit_client_requests_total",
  clientRequestDuration: "httpkit_client_request_duration_seconds",
  clientRetries: "httpkit_client_retries_total",
  clientInFlight: "httpkit_client_in_flight",
  clientCircuitTransitions: "httpkit_client_circuit_transitions_total",
  clientCircuitsOpen: "httpkit_client_circuits_open",
  clientCircuitState: "httpkit_client_circuit_state",
  clientBulkheadRejections: "httpkit_client_bulkhead_rejections_total",
  clientPoolConnections: "httpkit_client_pool_connections",
  clientPoolRequests: "httpkit_client_pool_requests",
  rateLimiterWait: "httpkit_rate_limiter_wait_seconds",
  rateLimiterAcquisitions: "httpkit_rate_limiter_acquisitions_total",
  rateLimiterHolds: "httpkit_rate_limiter_holds_total",
  rateLimiterHoldSeconds: "httpkit_rate_limiter_hold_seconds_total",
  downloadFiles: "httpkit_download_files_total",
  downloadBytes: "httpkit_download_bytes_total",
  downloadResumes: "httpkit_download_resumes_total",
  downloadRestarts: "httpkit_download_restarts_total",
  downloadContinuations: "httpkit_download_continuations_total",
  downloadSegments: "httpkit_download_segments_total",
  downloadChecksumFailures: "httpkit_download_checksum_failures_total",
  downloadDuration: "httpkit_download_duration_seconds"
} as const

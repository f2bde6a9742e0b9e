/**
 * Reading metrics in tests: each test runs with a registry of its own (see `@httpkit/testing/MetricsTest`).
 */
export { makeRegistry } from "@httpkit/testing/MetricsTest"

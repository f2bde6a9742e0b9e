/**
 * @httpkit/testing: the fault-injection HTTP server and test helpers.
 *
 * `ServerSuite` is not in this barrel: it needs `@effect/vitest` (an optional
 * peer), so it is imported on its own, `@httpkit/testing/ServerSuite`.
 *
 * @since 0.1.0
 */

/**
 * What the fault-injection server saw of one request.
 *
 * @since 0.1.0
 */
export * as RecordedRequest from "./RecordedRequest.ts"

/**
 * The fault-injection HTTP server as a scoped service.
 *
 * @since 0.1.0
 */
export * as TestServer from "./TestServer.ts"

/**
 * Helpers for tests that need a real Redis.
 *
 * @since 0.1.0
 */
export * as RedisTest from "./RedisTest.ts"

/**
 * Self-signed certificates for TLS and HTTP/2 tests.
 *
 * @since 0.1.0
 */
export * as TlsTest from "./TlsTest.ts"

/**
 * Deterministic file content served by `/files/:name`, for computing expected
 * bytes and digests.
 *
 * @since 0.1.0
 */
export * as Content from "./Content.ts"

/**
 * A TCP proxy in front of a real Redis that can go away, come back, slow down,
 * hang or answer garbage, for fault tests.
 *
 * @since 0.1.0
 */
export * as RedisProxy from "./RedisProxy.ts"

/**
 * Reading Effect metrics in tests: a registry of the test's own, series by name and attributes.
 *
 * @since 0.1.0
 */
export * as MetricsTest from "./MetricsTest.ts"

/**
 * Reading log lines in tests: a logger that keeps every line logged while an effect runs.
 *
 * @since 0.1.0
 */
export * as LoggingTest from "./LoggingTest.ts"

/**
 * Runs a Node program in a child process and collects what it printed.
 *
 * @since 0.1.0
 */
export * as NodeChild from "./NodeChild.ts"

/**
 * Reading spans in tests: a tracer that keeps every span it makes.
 *
 * @since 0.1.0
 */
export * as TracingTest from "./TracingTest.ts"

/**
 * A scripted in-memory `HttpClient` for tests without sockets: replies and faults queued per route.
 *
 * @since 0.1.0
 */
export * as TestTransport from "./TestTransport.ts"

/**
 * A client for the fault-injection server's control routes: arm failures, reset, read the request log.
 *
 * @since 0.1.0
 */
export * as ServerControl from "./ServerControl.ts"

/**
 * Redis keys of one test's own: a fresh key prefix, its keys deleted when the test ends.
 *
 * @since 0.1.0
 */
export * as RedisPrefix from "./RedisPrefix.ts"

/**
 * The commands a Markdown document lists in its tables, for tests that run each one as written.
 *
 * @since 0.1.0
 */
export * as DocumentedCommands from "./DocumentedCommands.ts"

/**
 * A plain `node:http` server with a handler of the test's own, on loopback, closed with the scope.
 *
 * @since 0.1.0
 */
export * as CustomServer from "./CustomServer.ts"

/**
 * Loopback ports nothing listens on, for refused-connection cases.
 *
 * @since 0.1.0
 */
export * as Ports from "./Ports.ts"

/**
 * @httpkit/testing: the fault-injection HTTP server and test helpers.
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

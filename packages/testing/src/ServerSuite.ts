/**
 * Starts one fault-injection server per test file, with an Effect HTTP client
 * on undici beside it:
 *
 * ```ts
 * import { TestServer } from "@httpkit/testing"
 * import * as ServerSuite from "@httpkit/testing/ServerSuite"
 *
 * ServerSuite.describe("my client", (it) => {
 *   it.effect("retries", () => Effect.gen(function*() {
 *     const server = yield* TestServer.TestServer
 *     const http = yield* HttpClient.HttpClient
 *     ...
 *   }))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { layer, type Vitest } from "@effect/vitest"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import { own } from "./internal/own.ts"
import * as TestServer from "./TestServer.ts"

/**
 * The services a suite's tests get: the running server and an HTTP client.
 *
 * @category models
 * @since 0.1.0
 */
export type Services = TestServer.TestServer | HttpClient.HttpClient

/**
 * A layer with a fresh server and an undici-backed `HttpClient`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerServerAndClient = (
  options: TestServer.Options = {}
): Layer.Layer<Services, TestServer.ServeError> => Layer.merge(TestServer.layer(options), NodeHttpClient.layerUndici)

/**
 * Declares a test block whose tests share one server (started before the
 * first test and stopped after the last) and an HTTP client.
 *
 * @category utils
 * @since 0.1.0
 */
export const describe = (
  name: string,
  body: (it: Vitest.MethodsNonLive<Services>) => void,
  options: TestServer.Options & { readonly timeout?: number | undefined } = {}
): void => layer(layerServerAndClient(options), { timeout: own(options, "timeout") ?? 30_000 })(name, body)

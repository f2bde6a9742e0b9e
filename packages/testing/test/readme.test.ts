/**
 * The README's Example, as written there (imports by package name): it must
 * pass as a user would paste it.
 */
import { assert } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import * as ServerSuite from "@httpkit/testing/ServerSuite"
import { Effect } from "effect"
import { HttpClient } from "effect/http"

// `it.effect` runs under `TestClock`: retries without a delay need no clock adjustment.
ServerSuite.describe("my client", (it) => {
  it.effect("retries after two 503s", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const http = yield* HttpClient.HttpClient
      yield* server.reset
      yield* http.post(server.urlFor("/fail/count/2?status=503"))

      const response = yield* http.pipe(
        HttpClient.filterStatusOk,
        HttpClient.retryTransient({ times: 3 })
      ).get(server.urlFor("/msg"))

      assert.strictEqual(response.status, 200)
      const attempts = (yield* server.requests).filter((request) => request.path === "/msg")
      assert.strictEqual(attempts.length, 3)
    }))
})

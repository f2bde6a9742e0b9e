/**
 * `RequestOptions.UndiciOptions` over real sockets: undici's own request
 * options reach a `ResilientClient` call whether they are provided through
 * our reference or through `@effect/platform-node`'s
 * `NodeHttpClient.UndiciOptions` (one key, so one value), and only inside the
 * effect they are provided to. The option used is undici's `query`, which
 * undici appends to the path, so the fault-injection server's log shows it.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as RequestOptions from "@httpkit/client/RequestOptions"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { HttpClient } from "effect/http"
import { noRetry } from "./support.ts"

/** The query strings the server saw on `/echo`, in order. */
const queriesSeen = (server: TestServer.TestServer["Service"]) =>
  Effect.map(server.requestsTo("/echo"), (requests) => requests.map((request) => request.query))

describe("RequestOptions.UndiciOptions", () => {
  it("is the same context key as @effect/platform-node's NodeHttpClient.UndiciOptions", () => {
    assert.strictEqual(RequestOptions.UndiciOptions.key, NodeHttpClient.UndiciOptions.key)
    assert.strictEqual(RequestOptions.UndiciOptions.key, "@effect/platform-node/NodeHttpClient/UndiciOptions")
  })

  it.live(
    "a query set through NodeHttpClient.UndiciOptions reaches the server; the next call, outside it, has none",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = yield* ResilientClient.make({ retry: noRetry })
        const first = yield* client.get(server.urlFor("/echo")).pipe(
          Effect.provideService(NodeHttpClient.UndiciOptions, { query: { via: "platform-node" } })
        )
        assert.strictEqual(first.status, 200)
        const second = yield* client.get(server.urlFor("/echo"))
        assert.strictEqual(second.status, 200)
        assert.deepStrictEqual(yield* queriesSeen(server), ["via=platform-node", ""])
      }).pipe(Effect.scoped),
    { timeout: 30_000 }
  )

  it.live(
    "a query set through RequestOptions.UndiciOptions reaches the server from ResilientClient and from Effect's own undici client",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = yield* ResilientClient.make({ retry: noRetry })
        yield* Effect.gen(function*() {
          assert.strictEqual((yield* client.get(server.urlFor("/echo"))).status, 200)
          const effects = yield* HttpClient.HttpClient
          assert.strictEqual((yield* effects.get(server.urlFor("/echo"))).status, 200)
        }).pipe(
          Effect.provideService(RequestOptions.UndiciOptions, { query: { via: "httpkit" } }),
          Effect.provide(NodeHttpClient.layerUndici)
        )
        assert.deepStrictEqual(yield* queriesSeen(server), ["via=httpkit", "via=httpkit"])
      }).pipe(Effect.scoped),
    { timeout: 30_000 }
  )
})

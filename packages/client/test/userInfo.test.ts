/**
 * User-info in a request URL (`http://user:pass@host/`) is sent as
 * `Authorization: Basic`, as curl, requests and got do, never in the URL;
 * the call's own `Authorization` or an auth provider wins over it; a
 * redirect to another origin drops it like any `Authorization`.
 */
import { assert, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"

const basic = (pair: string) => `Basic ${Buffer.from(pair, "utf8").toString("base64")}`

it.live("http://alice:p%40ss@host/ sends Authorization: Basic alice:p@ss; the call's own Authorization or an auth provider wins; a cross-origin redirect drops it", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const other = yield* TestServer.make()
    const withUserInfo = (path: string) => {
      const url = new URL(server.urlFor(path))
      url.username = "alice"
      url.password = "p%40ss"
      return url.href
    }
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } })

    const response = yield* client.get(withUserInfo("/echo?plain"))
    assert.strictEqual(response.url.username, "", "the response's URL has no user-info")
    assert.strictEqual(response.url.password, "")
    yield* client.get(withUserInfo("/echo?own"), { headers: { Authorization: "Bearer own-token" } })
    const provided = yield* ResilientClient.make({ retry: { maxAttempts: 1 } }).pipe(
      Effect.provide(Auth.layerBearer("provider-token"))
    )
    yield* provided.get(withUserInfo("/echo?provider"))
    const echoed = yield* server.requestsTo("/echo")
    assert.deepStrictEqual(echoed.map((request) => request.headers["authorization"]), [
      basic("alice:p@ss"),
      "Bearer own-token",
      "Bearer provider-token"
    ])

    // A redirect to another origin drops it; the redirect's own origin got it.
    const target = encodeURIComponent(other.urlFor("/echo"))
    yield* client.get(withUserInfo(`/redirect-to?url=${target}&status=307`))
    const [redirect] = yield* server.requestsTo("/redirect-to")
    assert.strictEqual(redirect!.headers["authorization"], basic("alice:p@ss"))
    const [arrived] = yield* other.requestsTo("/echo")
    assert.isUndefined(arrived!.headers["authorization"])

    // Errors show no user-info either.
    const error = yield* Effect.flip(client.get(withUserInfo("/status/404")))
    assert.notInclude(error.message, "alice")
    assert.notInclude(error.url, "p%40ss")
  }).pipe(Effect.scoped))

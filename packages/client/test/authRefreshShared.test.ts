/**
 * The auth refresh hook under failure: a request the hook makes through the
 * same client never waits on the refresh it belongs to; a failed refresh is
 * shared by every 401 on the same credentials for `refreshBackoff`; the
 * hook's error message is logged with its URLs and secret pairs redacted.
 */
import { assert, it } from "@effect/vitest"
import * as Auth from "@httpkit/client/Auth"
import type { AuthenticationError } from "@httpkit/client/ClientError"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { TestServer } from "@httpkit/testing"
import { Deferred, Effect, Ref } from "effect"
import { captureLogs } from "./support.ts"

/** A client whose bearer refresh hook sends `POST tokenPath` through the client itself. */
const selfRefreshingClient = (
  server: TestServer.TestServer["Service"],
  tokenPath: string,
  options: Auth.RefreshOptions<string, unknown> = {}
) =>
  Effect.gen(function*() {
    const self = yield* Deferred.make<ResilientClient.Service>()
    const hook = Effect.gen(function*() {
      const client = yield* Deferred.await(self)
      const response = yield* client.post(server.urlFor(tokenPath))
      return ((yield* response.json) as { access_token: string }).access_token
    })
    const auth = yield* Auth.bearer("stale-token", { refreshTimeout: "10 seconds", ...options, onUnauthorized: hook })
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } }).pipe(
      Effect.provideService(Auth.ClientAuth, auth)
    )
    yield* Deferred.succeed(self, client)
    return { client, auth }
  })

it.live("a refresh hook whose token request through the same client gets 401 fails at once: AuthenticationError, 1 token request, no refreshTimeout wait", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const { client } = yield* selfRefreshingClient(server, "/status/401")
    const { lines, value } = yield* captureLogs(Effect.flip(client.get(server.urlFor("/auth/bearer"))))
    assert.strictEqual(value._tag, "AuthenticationError")
    assert.strictEqual((value as AuthenticationError).status, 401)
    // Without the mark, the token request's 401 waited on the refresh it belongs to until refreshTimeout.
    assert.isTrue(
      lines.some((line) => line.includes("refresh failed (failure): AuthenticationError")),
      lines.join("\n")
    )
    assert.isFalse(lines.some((line) => line.includes("refresh failed (timeout)")))
    assert.deepStrictEqual((yield* server.requests).map((request) => `${request.method} ${request.path}`), [
      "GET /auth/bearer",
      "POST /status/401"
    ])
  }).pipe(Effect.scoped))

it.live("100 concurrent 401s with a token endpoint answering 400 run the hook once; later 401s on the same credentials fail at once; after set, the hook runs again", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const { auth, client } = yield* selfRefreshingClient(server, "/status/400", { refreshBackoff: "1 hour" })
    const url = server.urlFor("/auth/bearer")
    const exits = yield* Effect.forEach(Array.from({ length: 100 }), () => Effect.flip(client.get(url)), {
      concurrency: "unbounded"
    })
    assert.isTrue(exits.every((error) => error._tag === "AuthenticationError"))
    assert.lengthOf(yield* server.requestsTo("/auth/bearer"), 100)
    assert.lengthOf(yield* server.requestsTo("/status/400"), 1, "one refresh for 100 concurrent 401s")

    // Within the backoff: a 401 on the same credentials fails at once with the same error, no token request.
    for (let i = 0; i < 5; i++) assert.strictEqual((yield* Effect.flip(client.get(url)))._tag, "AuthenticationError")
    assert.lengthOf(yield* server.requestsTo("/status/400"), 1)

    // New credentials end the backoff at once (the end of the backoff in time: Auth.test.ts, under TestClock).
    yield* auth.set([["authorization", "Bearer another-stale-token"]])
    yield* Effect.flip(client.get(url))
    assert.lengthOf(yield* server.requestsTo("/status/400"), 2)
  }).pipe(Effect.scoped))

it.live("a hook that fails instantly runs once for 20 calls in a row on the same credentials", () =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const runs = yield* Ref.make(0)
    const auth = yield* Auth.bearer("stale-token", {
      onUnauthorized: Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.fail("refused"))
    })
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } }).pipe(
      Effect.provideService(Auth.ClientAuth, auth)
    )
    for (let i = 0; i < 20; i++) {
      assert.strictEqual((yield* Effect.flip(client.get(server.urlFor("/auth/bearer"))))._tag, "AuthenticationError")
    }
    assert.strictEqual(yield* Ref.get(runs), 1)
  }).pipe(Effect.scoped))

it.effect("a failed refresh's warning redacts URLs (user-info, client_secret, refresh_token) and secret pairs in the hook's message", () =>
  Effect.gen(function*() {
    const auth = yield* Auth.bearer("token-1", {
      onUnauthorized: Effect.fail(
        new Error(
          "POST https://client:SECRET1@auth.example.com/token?client_secret=SECRET2&refresh_token=SECRET3 failed: " +
            "{\"error\":\"invalid_grant\",\"refresh_token\":\"SECRET4\"} (sent client_secret=SECRET5&grant_type=x)"
        )
      )
    })
    const { lines, value } = yield* captureLogs(auth.refresh(0))
    assert.isFalse(value)
    const text = lines.join("\n")
    assert.include(text, "https://REDACTED@auth.example.com/token?client_secret=REDACTED&refresh_token=REDACTED")
    assert.include(text, "invalid_grant")
    assert.notMatch(text, /SECRET/)
  }))

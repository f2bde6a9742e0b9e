import { assert, it } from "@effect/vitest"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect, Redacted } from "effect"
import * as Auth from "../src/Auth.ts"
import * as ResilientClient from "../src/ResilientClient.ts"

it.live("credentials set at run time on a client built without any are sent, and dropped across origins", () =>
  Effect.gen(function*() {
    const home = yield* TestServer.make()
    const other = yield* TestServer.make()
    const auth = yield* Auth.none
    const client = yield* ResilientClient.make({ baseUrl: home.url, retry: { maxAttempts: 1 } }).pipe(
      Effect.provideService(Auth.ClientAuth, auth)
    )
    const before = yield* Effect.flip(client.get("/auth/bearer"))
    assert.strictEqual(before._tag, "AuthenticationError")

    // Credentials arrive after the client was made, under a header name it has never seen.
    yield* auth.set([["authorization", Redacted.make("Bearer token-1")], ["x-tenant-secret", "tenant-7"]])
    assert.strictEqual((yield* client.get("/auth/bearer")).status, 200)
    const [sent] = yield* home.requestsTo("/auth/bearer").pipe(Effect.map((log) => log.slice(-1)))
    assert.strictEqual(sent!.headers["x-tenant-secret"], "tenant-7")

    // A redirect to another origin drops both, the late-added name included.
    yield* client.get(`/redirect-to?url=${encodeURIComponent(`${other.url}/echo`)}&status=307`)
    const [arrived] = yield* other.requestsTo("/echo")
    assert.isUndefined(arrived!.headers["authorization"])
    assert.isUndefined(arrived!.headers["x-tenant-secret"])
  }).pipe(Effect.scoped))

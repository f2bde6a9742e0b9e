/**
 * Bearer auth with a refresh hook: `Auth.layerBearer(token, { onUnauthorized })`.
 *
 * The client sends `Authorization: Bearer <token>` on every attempt. Mid-way
 * the server rotates its token (`ServerControl.rotateToken`), so the next call
 * gets a 401; the client then runs `onUnauthorized` once (here it reads the
 * server's current token with `ServerControl.token`, where a real app would
 * call its token endpoint) and repeats the attempt with the new token, which
 * succeeds. The caller only sees the success.
 *
 * Run it with `npm run example -- client-auth-refresh` (starts the
 * fault-injection server embedded), or against a server started with
 * `npm run test-server`: `npm run example -- client-auth-refresh --url http://127.0.0.1:PORT`
 * (it resets that server's state).
 */
import * as Auth from "@httpkit/client/Auth"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Layer, Schema } from "effect"
import { check, runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- client-auth-refresh [--url URL]

Bearer auth refreshed after a 401: the server rotates its token, the client fetches the new one.

${serverHelp}`
const flags = serverFlags(usage)

const Authenticated = Schema.Struct({ authenticated: Schema.Boolean, token_generation: Schema.Number })

const program = (control: ServerControl.ServerControl["Service"]) =>
  Effect.gen(function*() {
    const client = yield* ResilientClient.ResilientClient

    const first = yield* client.getJson("/auth/bearer", Authenticated)
    yield* Console.log(`1. GET /auth/bearer: authenticated with token generation ${first.token_generation}`)

    const rotated = yield* control.rotateToken()
    yield* Console.log(`2. the server rotated its token to generation ${rotated.generation}; the old one is refused`)

    const second = yield* client.getJson("/auth/bearer", Authenticated)
    yield* Console.log(`3. GET /auth/bearer: authenticated with token generation ${second.token_generation}`)

    // What crossed the wire: the same call went out twice, with the old then the new token.
    const sent = (yield* control.requestsTo("/auth/bearer")).map((entry) => entry.headers["authorization"])
    yield* Console.log(`   the server saw /auth/bearer with: ${sent.join(", ")}`)
    yield* check(
      second.token_generation === rotated.generation && sent.length === 3,
      `a refresh to generation ${rotated.generation}, the call sent twice (3 requests in all)`
    )
  })

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)

  // The server's switches, and here its token endpoint too, through a client of their own.
  const control = ServerControl.make(baseUrl)
  yield* control.reset
  const initial = yield* control.token

  const refreshToken = Effect.gen(function*() {
    const fresh = yield* control.token
    yield* Console.log(
      `   401 Unauthorized -> onUnauthorized fetched a new token (generation ${fresh.generation}), retrying`
    )
    return fresh.token
  })

  const ClientLive = ResilientClient.layer({ baseUrl }).pipe(
    Layer.provide(Auth.layerBearer(initial.token, { onUnauthorized: refreshToken }))
  )
  yield* program(control).pipe(Effect.provide(ClientLive))
  yield* Console.log("done")
}).pipe(Effect.scoped)

runMain(main)

/**
 * A cookie session that outlives the process: `ClientCookies.layer({ file })`.
 *
 * A `ResilientClient` that finds `ClientCookies` in its context stores every
 * `Set-Cookie` it receives and sends the matching `Cookie` header on every
 * attempt. With a `file`, the jar is loaded when the layer is built and saved
 * on `save` (and when the layer is released). Here a first client logs in
 * (the server sets a persistent `session` cookie and a `theme` session
 * cookie), the jar is saved to a file in a temporary folder, and a second
 * client built from that file still sends `session`. `theme` has no expiry,
 * so like a browser's session cookie it is not persisted.
 *
 * Run it with `npm run example -- client-cookie-session` (starts the
 * fault-injection server embedded), or against a server started with
 * `npm run test-server`: `npm run example -- client-cookie-session --url http://127.0.0.1:PORT`.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { ClientCookies } from "@httpkit/client/CookieJar"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Console, Effect, FileSystem, Layer, Schema } from "effect"
import { join } from "node:path"
import { check, runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- client-cookie-session [--url URL]

A cookie session persisted to a file and loaded by a second client.

${serverHelp}`
const flags = serverFlags(usage)

/** What `/cookies` answers: the cookies it received. */
const Received = Schema.Struct({ cookies: Schema.Record(Schema.String, Schema.String) })

/** The client, with a cookie jar persisted to `file`. */
const clientWithJar = (baseUrl: string, file: string) =>
  ResilientClient.layer({ baseUrl }).pipe(
    Layer.provideMerge(ClientCookies.layer({ file })),
    Layer.provide(NodeFileSystem.layer)
  )

/** The names of the cookies the server received (values are secrets: never print them). */
const cookiesSent = Effect.gen(function*() {
  const client = yield* ResilientClient.ResilientClient
  const received = yield* client.getJson("/cookies", Received)
  return Object.keys(received.cookies).toSorted().join(", ") || "(none)"
})

const firstSession = Effect.gen(function*() {
  const client = yield* ResilientClient.ResilientClient
  yield* client.get("/cookies/set-with", { query: { name: "session", value: "s3cr3t-session-id", max_age: 3600 } })
  yield* client.get("/cookies/set", { query: { theme: "dark" } })
  yield* Console.log(`1. the server set cookies; the next request sends: ${yield* cookiesSent}`)
  const jar = yield* ClientCookies
  yield* jar.save
})

const secondSession = Effect.gen(function*() {
  const sent = yield* cookiesSent
  yield* Console.log(`3. a new client loaded from the file sends: ${sent}`)
  yield* check(sent === "session", "the session cookie, and only it, sent by the second client")
})

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  const fs = yield* FileSystem.FileSystem
  const file = join(yield* fs.makeTempDirectoryScoped({ prefix: "httpkit-cookies-" }), "cookies.json")

  yield* firstSession.pipe(Effect.provide(clientWithJar(baseUrl, file)))
  const saved = JSON.parse(yield* fs.readFileString(file)) as { cookies: ReadonlyArray<{ name: string }> }
  yield* Console.log(`2. saved to ${file}: ${saved.cookies.map((cookie) => cookie.name).join(", ")}`)

  yield* secondSession.pipe(Effect.provide(clientWithJar(baseUrl, file)))
  yield* Console.log("done")
}).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))

runMain(main)

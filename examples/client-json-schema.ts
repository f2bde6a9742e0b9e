/**
 * `ResilientClient.getJson`: a GET whose JSON body is decoded with a Schema,
 * and the client's typed errors handled by tag.
 *
 * Shows a successful decode, a 404 caught as `NotFoundError`, and a body that
 * does not match its Schema caught as `DecodeError`, each with
 * `Effect.catchTag`.
 *
 * Run it with `npm run example -- client-json-schema` (starts the
 * fault-injection server embedded), or against a server started with
 * `npm run test-server`: `npm run example -- client-json-schema --url http://127.0.0.1:PORT`.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Console, Effect, Schema } from "effect"
import { runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- client-json-schema [--url URL]

getJson with a Schema; a 404 and a body that does not match the Schema, each handled by its tag.

${serverHelp}`
const flags = serverFlags(usage)

/** What `GET /msg` answers (fields not named here are ignored). */
const Message = Schema.Struct({
  message_id: Schema.String,
  method: Schema.String,
  deduplicated: Schema.Boolean
})

/** A Schema that `/echo` does not satisfy: it has no `message_id`. */
const NotAnEcho = Schema.Struct({ message_id: Schema.String })

const program = Effect.gen(function*() {
  const client = yield* ResilientClient.ResilientClient

  // 1. Decoded into a typed value: `message.message_id` is a string.
  const message = yield* client.getJson("/msg", Message)
  yield* Console.log(`GET /msg decoded: message_id=${message.message_id} method=${message.method}`)

  // 2. A 404 is a `NotFoundError`, with the status and the request id.
  const missing = yield* client.getJson("/status/404", Message).pipe(
    Effect.flatMap(() => Effect.fail(new Error("GET /status/404 did not fail"))),
    Effect.catchTag("NotFoundError", (error) => Effect.succeed(`NotFoundError (status ${error.status})`))
  )
  yield* Console.log(`GET /status/404 handled: ${missing}`)

  // 3. A body that does not match the Schema is a `DecodeError` naming the problem.
  const mismatch = yield* client.getJson("/echo", NotAnEcho).pipe(
    Effect.flatMap(() => Effect.fail(new Error("GET /echo decoded with the wrong Schema"))),
    Effect.catchTag("DecodeError", (error) => Effect.succeed(`DecodeError: ${error.issue.replace(/\s*\n\s*/g, " ")}`))
  )
  yield* Console.log(`GET /echo handled: ${mismatch}`)
})

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  yield* program.pipe(Effect.provide(ResilientClient.layer({ baseUrl })))
  yield* Console.log("done")
}).pipe(Effect.scoped)

runMain(main)

/**
 * An Anthropic-style message through `ResilientClient`, with
 * `Auth.layerAnthropic`: every attempt carries `x-api-key` and
 * `anthropic-version`, both treated as secrets (redacted in logs, dropped on
 * a cross-origin redirect).
 *
 * The fault-injection server's `/v1/messages` mock answers
 * `Echo: <last user message>` in Anthropic's format and accepts any key
 * starting with `sk-ant-test`.
 *
 * Run it with `npm run example -- client-anthropic-message` (starts the
 * fault-injection server embedded), or against a server started with
 * `npm run test-server`: `npm run example -- client-anthropic-message --url http://127.0.0.1:PORT`.
 */
import * as Auth from "@httpkit/client/Auth"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Console, Effect, Layer, Schema } from "effect"
import { runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- client-anthropic-message [--url URL]

An Anthropic-style message through ResilientClient with Auth.layerAnthropic.

${serverHelp}`
const flags = serverFlags(usage)

/** The part of a `message` this program uses. */
const Message = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("message"),
  role: Schema.Literal("assistant"),
  model: Schema.String,
  content: Schema.Array(Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })),
  stop_reason: Schema.NullOr(Schema.String),
  usage: Schema.Struct({ input_tokens: Schema.Number, output_tokens: Schema.Number })
})

const program = (baseUrl: string) =>
  Effect.gen(function*() {
    const client = yield* ResilientClient.ResilientClient
    const question = "Name one reason to retry a request."
    yield* Console.log(`user: ${question}`)
    const message = yield* client.postJson("/v1/messages", {
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      system: "You are terse.",
      messages: [{ role: "user", content: question }]
    }, Message)
    yield* Console.log(`assistant: ${message.content.map((block) => block.text).join("")}`)
    yield* Console.log(`stop_reason: ${message.stop_reason}, model: ${message.model}`)
    yield* Console.log(`usage: ${message.usage.input_tokens} input + ${message.usage.output_tokens} output tokens`)

    // What crossed the wire, from the server's request log.
    const log = yield* ServerControl.make(baseUrl).requestsTo("/v1/messages")
    const sent = log.at(-1)?.headers ?? {}
    yield* Console.log(
      `headers sent: anthropic-version ${sent["anthropic-version"]}, x-api-key ${
        sent["x-api-key"] === undefined ? "missing" : "present"
      }`
    )
  })

const main = Effect.gen(function*() {
  const baseUrl = yield* serverUrl(flags.url)
  // In production: baseUrl "https://api.anthropic.com" and the key from the environment,
  // `Auth.layerAnthropicConfig(Config.Redacted("ANTHROPIC_API_KEY"))`.
  const ClientLive = ResilientClient.layer({ baseUrl }).pipe(
    Layer.provide(Auth.layerAnthropic("sk-ant-test-example", { version: "2023-06-01" }))
  )
  yield* program(baseUrl).pipe(Effect.provide(ClientLive))
  yield* Console.log("done")
}).pipe(Effect.scoped)

runMain(main)

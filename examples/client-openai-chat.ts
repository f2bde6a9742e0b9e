/**
 * An OpenAI-compatible chat completion through `ResilientClient`, with the
 * answer decoded by a Schema.
 *
 * The API client is a `ResilientClient` under a service key of its own
 * (`ResilientClient.layerAs`), with the API's base URL and a bearer key
 * (`Auth.layerBearer`), so it sits beside other clients in an application.
 * The fault-injection server's `/v1/chat/completions` mock answers
 * `Echo: <last user message>` in OpenAI's format and accepts any key
 * starting with `sk-test`.
 *
 * Run it with `npm run example -- client-openai-chat` (starts the
 * fault-injection server embedded), or against a server started with
 * `npm run test-server`: `npm run example -- client-openai-chat --url http://127.0.0.1:PORT`.
 */
import * as Auth from "@httpkit/client/Auth"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Console, Context, Effect, Layer, Schema } from "effect"
import { runMain } from "./support/outcome.ts"
import { serverFlags, serverHelp, serverUrl } from "./support/server.ts"

const usage = `Usage: npm run example -- client-openai-chat [--url URL]

An OpenAI-compatible chat completion, decoded with a Schema.

${serverHelp}`
const flags = serverFlags(usage)

/** The part of a `chat.completion` this program uses. */
const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Number,
    message: Schema.Struct({ role: Schema.Literal("assistant"), content: Schema.NullOr(Schema.String) }),
    finish_reason: Schema.String
  })),
  usage: Schema.Struct({ prompt_tokens: Schema.Number, completion_tokens: Schema.Number, total_tokens: Schema.Number })
})

/** The OpenAI-compatible API's client. */
class OpenAI extends Context.Service<OpenAI, ResilientClient.Service>()("examples/OpenAI") {}

const program = Effect.gen(function*() {
  const openai = yield* OpenAI
  const question = "What does a circuit breaker do?"
  yield* Console.log(`user: ${question}`)
  const completion = yield* openai.postJson("/chat/completions", {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: question }
    ],
    max_tokens: 64
  }, ChatCompletion)
  const [choice] = completion.choices
  if (choice === undefined) return yield* Effect.fail(new Error("the completion has no choice"))
  yield* Console.log(`assistant: ${choice.message.content ?? "(no content)"}`)
  yield* Console.log(`finish_reason: ${choice.finish_reason}, model: ${completion.model}`)
  yield* Console.log(
    `usage: ${completion.usage.prompt_tokens} prompt + ${completion.usage.completion_tokens} completion tokens`
  )
})

const main = Effect.gen(function*() {
  const base = yield* serverUrl(flags.url)
  // In production: baseUrl "https://api.openai.com/v1" and the key from the environment,
  // `Auth.layerBearerConfig(Config.Redacted("OPENAI_API_KEY"))`.
  const OpenAILive = ResilientClient.layerAs(OpenAI, { baseUrl: `${base}/v1` }).pipe(
    Layer.provide(Auth.layerBearer("sk-test-example"))
  )
  yield* program.pipe(Effect.provide(OpenAILive))
  yield* Console.log("done")
}).pipe(Effect.scoped)

runMain(main)

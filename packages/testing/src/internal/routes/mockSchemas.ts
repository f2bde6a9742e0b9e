/**
 * Schemas of the request bodies the API mocks accept, and the formatting of
 * a decoding failure into the message and parameter name their 400 answers
 * carry.
 *
 * **Details**
 *
 * Unknown fields are ignored, as the real APIs ignore most of what a client
 * may add (`user`, `metadata`, `top_p`...). Optional numbers also accept
 * `null`, which some SDKs send for "not given".
 */
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

/** Most choices `/v1/chat/completions` produces for one request (`n`). */
export const maxChoices = 8

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** A non-empty list of messages; reported at `messages` itself when empty. */
const nonEmpty = <S extends Schema.Top>(schema: S) => Schema.Array(schema).check(Schema.isMinLength(1))

const optionalNullable = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

/** A text part of a message's content, in either API. */
export const TextBlock = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })

/** One message of an OpenAI chat completion request. */
export const ChatMessage = Schema.Struct({
  role: Schema.Literals(["system", "user", "assistant", "tool", "developer"]),
  content: Schema.Union([Schema.String, Schema.Array(TextBlock)])
})

/** The body of `POST /v1/chat/completions`. */
export const ChatCompletionRequest = Schema.Struct({
  model: Schema.String,
  messages: nonEmpty(ChatMessage),
  max_tokens: optionalNullable(PositiveInt),
  max_completion_tokens: optionalNullable(PositiveInt),
  temperature: optionalNullable(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 2 }))),
  n: optionalNullable(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxChoices }))),
  stream: optionalNullable(Schema.Boolean),
  stream_options: optionalNullable(Schema.Struct({ include_usage: Schema.optionalKey(Schema.Boolean) }))
})

/** A decoded `POST /v1/chat/completions` body. */
export type ChatCompletionRequest = typeof ChatCompletionRequest.Type

/** One message of an Anthropic Messages request. */
export const AnthropicMessage = Schema.Struct({
  role: Schema.Literals(["user", "assistant"]),
  content: Schema.Union([Schema.String, Schema.Array(TextBlock)])
})

/** The body of `POST /v1/messages`. */
export const AnthropicMessagesRequest = Schema.Struct({
  model: Schema.String,
  max_tokens: PositiveInt,
  messages: nonEmpty(AnthropicMessage),
  system: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(TextBlock)])),
  temperature: Schema.optionalKey(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  stream: Schema.optionalKey(Schema.Boolean)
})

/** A decoded `POST /v1/messages` body. */
export type AnthropicMessagesRequest = typeof AnthropicMessagesRequest.Type

/** The text of a message content: the string itself, or its text blocks joined. */
export const contentText = (content: string | ReadonlyArray<{ readonly text: string }>): string =>
  typeof content === "string" ? content : content.map((block) => block.text).join("\n")

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const formatPath = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string => {
  let out = ""
  for (const segment of path) {
    const key = typeof segment === "object" ? segment.key : segment
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

/** The first problem of a failed decoding, as a message and the parameter it concerns (`messages[0].role`). */
export const describeSchemaError = (
  error: Schema.SchemaError
): { readonly message: string; readonly param: string | null } => {
  const first = formatter(error.issue).issues[0]
  if (first === undefined) return { message: "Invalid request body.", param: null }
  const param = first.path === undefined || first.path.length === 0 ? null : formatPath(first.path)
  return {
    message: param === null
      ? `Invalid request body: ${first.message}.`
      : `Invalid value for '${param}': ${first.message}.`,
    param
  }
}

import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as TestServer from "../src/TestServer.ts"

// ---------------------------------------------------------------------------
// The published shapes, written independently of the server's code, so that
// decoding an answer proves it is schema-valid.
// ---------------------------------------------------------------------------

const OpenAiError = Schema.Struct({
  error: Schema.Struct({
    message: Schema.String,
    type: Schema.String,
    param: Schema.NullOr(Schema.String),
    code: Schema.NullOr(Schema.String)
  })
})

const Usage = Schema.Struct({
  prompt_tokens: Schema.Int,
  completion_tokens: Schema.Int,
  total_tokens: Schema.Int
})

const ChatCompletion = Schema.Struct({
  id: Schema.String.check(Schema.isStartingWith("chatcmpl-")),
  object: Schema.Literal("chat.completion"),
  created: Schema.Int,
  model: Schema.String,
  choices: Schema.NonEmptyArray(Schema.Struct({
    index: Schema.Int,
    message: Schema.Struct({
      role: Schema.Literal("assistant"),
      content: Schema.NullOr(Schema.String),
      refusal: Schema.NullOr(Schema.String)
    }),
    logprobs: Schema.Null,
    finish_reason: Schema.Literals(["stop", "length", "tool_calls", "content_filter", "function_call"])
  })),
  usage: Usage,
  system_fingerprint: Schema.String
})

const ChatCompletionChunk = Schema.Struct({
  id: Schema.String.check(Schema.isStartingWith("chatcmpl-")),
  object: Schema.Literal("chat.completion.chunk"),
  created: Schema.Int,
  model: Schema.String,
  system_fingerprint: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    delta: Schema.Struct({
      role: Schema.optionalKey(Schema.Literal("assistant")),
      content: Schema.optionalKey(Schema.NullOr(Schema.String)),
      refusal: Schema.optionalKey(Schema.NullOr(Schema.String))
    }),
    logprobs: Schema.Null,
    finish_reason: Schema.NullOr(Schema.Literals(["stop", "length"]))
  })),
  usage: Schema.optionalKey(Schema.NullOr(Usage))
})

const AnthropicError = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.Struct({ type: Schema.String, message: Schema.String })
})

const AnthropicUsage = Schema.Struct({ input_tokens: Schema.Int, output_tokens: Schema.Int })

const AnthropicMessage = Schema.Struct({
  id: Schema.String.check(Schema.isStartingWith("msg_")),
  type: Schema.Literal("message"),
  role: Schema.Literal("assistant"),
  model: Schema.String,
  content: Schema.Array(Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })),
  stop_reason: Schema.Literals(["end_turn", "max_tokens", "stop_sequence", "tool_use"]),
  stop_sequence: Schema.NullOr(Schema.String),
  usage: AnthropicUsage
})

const AnthropicStreamEvent = Schema.Union([
  Schema.Struct({
    type: Schema.Literal("message_start"),
    message: Schema.Struct({
      id: Schema.String.check(Schema.isStartingWith("msg_")),
      type: Schema.Literal("message"),
      role: Schema.Literal("assistant"),
      model: Schema.String,
      content: Schema.Array(Schema.Unknown),
      stop_reason: Schema.Null,
      stop_sequence: Schema.Null,
      usage: AnthropicUsage
    })
  }),
  Schema.Struct({
    type: Schema.Literal("content_block_start"),
    index: Schema.Int,
    content_block: Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
  }),
  Schema.Struct({ type: Schema.Literal("ping") }),
  Schema.Struct({
    type: Schema.Literal("content_block_delta"),
    index: Schema.Int,
    delta: Schema.Struct({ type: Schema.Literal("text_delta"), text: Schema.String })
  }),
  Schema.Struct({ type: Schema.Literal("content_block_stop"), index: Schema.Int }),
  Schema.Struct({
    type: Schema.Literal("message_delta"),
    delta: Schema.Struct({
      stop_reason: Schema.Literals(["end_turn", "max_tokens"]),
      stop_sequence: Schema.Null
    }),
    usage: Schema.Struct({ output_tokens: Schema.Int })
  }),
  Schema.Struct({ type: Schema.Literal("message_stop") })
])

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const send = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
const readJson = (response: Response) => Effect.promise((): Promise<unknown> => response.json())
const readText = (response: Response) => Effect.promise(() => response.text())
const decode = <S extends Schema.Constraint & { readonly DecodingServices: never }>(schema: S, input: unknown) =>
  Schema.decodeUnknownEffect(schema)(input).pipe(Effect.orDie)

let keyCounter = 0
/** A fresh key per test, so that rate windows never carry over. */
const freshKey = (prefix: string) => `${prefix}-${Date.now()}-${++keyCounter}`

const chat = (url: string, key: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  send(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      ...headers
    },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

const anthropic = (
  url: string,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> = { "anthropic-version": "2023-06-01" }
) =>
  send(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { "x-api-key": key }), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

const userChat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: "gpt-test",
  messages: [{ role: "system", content: "You are terse." }, { role: "user", content }],
  ...extra
})

const userMessage = (content: string, extra: Record<string, unknown> = {}) => ({
  model: "claude-test",
  max_tokens: 100,
  messages: [{ role: "user", content }],
  ...extra
})

/** Parses a Go duration as OpenAI sends it (`6s`, `120ms`, `1m30.5s`) into milliseconds. */
const parseGoDuration = (value: string): number => {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(value)
  assert.isNotNull(match, `not a Go duration: ${value}`)
  const [, h = "0", m = "0", s = "0", ms = "0"] = match!
  return Number(h) * 3_600_000 + Number(m) * 60_000 + Number(s) * 1000 + Number(ms)
}

const header = (response: Response, name: string): string => {
  const value = response.headers.get(name)
  assert.isNotNull(value, `missing header ${name}`)
  return value!
}

/** Splits an SSE body into its events, asserting the framing (blank-line separated, `field: value` lines). */
const parseSse = (text: string): Array<{ event: string | undefined; data: string }> => {
  assert.isTrue(text.endsWith("\n\n"), "an SSE body ends with a blank line")
  return text.slice(0, -2).split("\n\n").map((block) => {
    let event: string | undefined
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      const colon = line.indexOf(": ")
      assert.isAbove(colon, 0, `malformed SSE line: ${line}`)
      const field = line.slice(0, colon)
      if (field === "event") event = line.slice(colon + 2)
      else if (field === "data") data.push(line.slice(colon + 2))
      else assert.fail(`unexpected SSE field ${field}`)
    }
    return { event, data: data.join("\n") }
  })
}

layer(TestServer.layer())("OpenAI-compatible mock", (it) => {
  it.effect("refuses a missing or unknown key with OpenAI's 401 shape", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions")
      for (const key of [undefined, "sk-live-nope", "token-2"]) {
        const response = yield* chat(url, key, userChat("hi"))
        assert.strictEqual(response.status, 401)
        const body = yield* decode(OpenAiError, yield* readJson(response))
        assert.strictEqual(body.error.type, "invalid_request_error")
        assert.strictEqual(body.error.code, "invalid_api_key")
        assert.isNull(body.error.param)
        assert.isAbove(body.error.message.length, 0)
      }
    }))

  it.effect("answers 400 with OpenAI's shape for invalid JSON and invalid bodies", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions")
      const key = freshKey("sk-test")

      const badJson = yield* chat(url, key, "{not json")
      assert.strictEqual(badJson.status, 400)
      const badJsonBody = yield* decode(OpenAiError, yield* readJson(badJson))
      assert.strictEqual(badJsonBody.error.type, "invalid_request_error")
      assert.include(badJsonBody.error.message, "could not parse the JSON body")

      const cases: Array<[unknown, string]> = [
        [{ messages: [{ role: "user", content: "hi" }] }, "model"],
        [{ model: "gpt-test", messages: [] }, "messages"],
        [{ model: "gpt-test", messages: [{ role: "robot", content: "hi" }] }, "messages[0].role"],
        [userChat("hi", { max_tokens: 0 }), "max_tokens"],
        [userChat("hi", { temperature: 3 }), "temperature"],
        [userChat("hi", { stream: "yes" }), "stream"]
      ]
      for (const [body, param] of cases) {
        const response = yield* chat(url, key, body)
        assert.strictEqual(response.status, 400, JSON.stringify(body))
        const error = yield* decode(OpenAiError, yield* readJson(response))
        assert.strictEqual(error.error.type, "invalid_request_error")
        assert.strictEqual(error.error.param, param)
        assert.include(error.error.message, param)
      }
    }))

  it.effect("answers a schema-valid chat.completion with OpenAI's headers", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* chat(server.urlFor("/v1/chat/completions"), freshKey("sk-test"), userChat("hello there"))
      assert.strictEqual(response.status, 200)
      const body = yield* decode(ChatCompletion, yield* readJson(response))
      assert.strictEqual(body.model, "gpt-test")
      assert.strictEqual(body.choices.length, 1)
      assert.strictEqual(body.choices[0].index, 0)
      assert.strictEqual(body.choices[0].message.content, "Echo: hello there")
      assert.strictEqual(body.choices[0].finish_reason, "stop")
      assert.deepStrictEqual(body.usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 })
      const nowSeconds = Date.now() / 1000
      assert.isTrue(Math.abs(body.created - nowSeconds) < 120)

      assert.match(header(response, "x-request-id"), /^req_/)
      assert.match(header(response, "openai-processing-ms"), /^\d+$/)
      assert.strictEqual(header(response, "x-ratelimit-limit-requests"), "10000")
      assert.strictEqual(header(response, "x-ratelimit-remaining-requests"), "9999")
      const resetRequests = parseGoDuration(header(response, "x-ratelimit-reset-requests"))
      assert.isTrue(resetRequests > 0 && resetRequests <= 60_000, `reset ${resetRequests}`)
      assert.strictEqual(header(response, "x-ratelimit-limit-tokens"), "1000000")
      assert.strictEqual(header(response, "x-ratelimit-remaining-tokens"), String(1_000_000 - 8))
      const resetTokens = parseGoDuration(header(response, "x-ratelimit-reset-tokens"))
      assert.isTrue(resetTokens > 0 && resetTokens <= 60_000, `reset ${resetTokens}`)
    }))

  it.effect("cuts the answer at max_tokens with finish_reason length, and honours n", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions")
      const key = freshKey("sk-test")
      const cut = yield* decode(
        ChatCompletion,
        yield* readJson(yield* chat(url, key, userChat("one two three four", { max_tokens: 2 })))
      )
      assert.strictEqual(cut.choices[0].message.content, "Echo: one")
      assert.strictEqual(cut.choices[0].finish_reason, "length")
      assert.strictEqual(cut.usage.completion_tokens, 2)

      const newer = yield* decode(
        ChatCompletion,
        yield* readJson(yield* chat(url, key, userChat("one two", { max_completion_tokens: 3, n: 2 })))
      )
      assert.deepStrictEqual(newer.choices.map((choice) => [choice.index, choice.finish_reason]), [[0, "stop"], [
        1,
        "stop"
      ]])
      assert.strictEqual(newer.choices[1].message.content, "Echo: one two")
      assert.strictEqual(newer.usage.completion_tokens, 6)

      const parts = yield* decode(
        ChatCompletion,
        yield* readJson(
          yield* chat(url, key, {
            model: "gpt-test",
            messages: [{ role: "user", content: [{ type: "text", text: "from parts" }] }]
          })
        )
      )
      assert.strictEqual(parts.choices[0].message.content, "Echo: from parts")
    }))

  it.effect("streams chat.completion.chunk events then data: [DONE]", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions")
      const key = freshKey("sk-test")
      const response = yield* chat(url, key, userChat("stream me please", { stream: true, max_tokens: 3 }))
      assert.strictEqual(response.status, 200)
      assert.match(header(response, "content-type"), /^text\/event-stream/)
      assert.strictEqual(header(response, "x-ratelimit-limit-requests"), "10000")
      const events = parseSse(yield* readText(response))
      assert.strictEqual(events.at(-1)?.data, "[DONE]")
      const chunks: Array<typeof ChatCompletionChunk.Type> = []
      for (const event of events.slice(0, -1)) {
        assert.isUndefined(event.event)
        chunks.push(yield* decode(ChatCompletionChunk, JSON.parse(event.data)))
      }
      assert.isTrue(chunks.every((chunk) => chunk.id === chunks[0].id && chunk.usage === undefined))
      assert.strictEqual(chunks[0].choices[0].delta.role, "assistant")
      const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")
      assert.strictEqual(text, "Echo: stream me")
      assert.strictEqual(chunks.at(-1)?.choices[0].finish_reason, "length")
      assert.isTrue(chunks.slice(0, -1).every((chunk) => chunk.choices[0].finish_reason === null))

      const withUsage = yield* chat(
        url,
        key,
        userChat("count me", { stream: true, stream_options: { include_usage: true } })
      )
      const usageEvents = parseSse(yield* readText(withUsage))
      assert.strictEqual(usageEvents.at(-1)?.data, "[DONE]")
      const last = yield* decode(ChatCompletionChunk, JSON.parse(usageEvents.at(-2)!.data))
      assert.deepStrictEqual(last.choices, [])
      assert.deepStrictEqual(last.usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 })
      const first = yield* decode(ChatCompletionChunk, JSON.parse(usageEvents[0].data))
      assert.isNull(first.usage)
    }))

  it.effect("answers 429 with retry-after and real reset headers once the rpm budget is spent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions?rpm=2")
      const key = freshKey("sk-test")
      for (const remaining of ["1", "0"]) {
        const ok = yield* chat(url, key, userChat("hi"))
        assert.strictEqual(ok.status, 200)
        assert.strictEqual(header(ok, "x-ratelimit-limit-requests"), "2")
        assert.strictEqual(header(ok, "x-ratelimit-remaining-requests"), remaining)
        yield* readJson(ok)
      }
      const refused = yield* chat(url, key, userChat("hi"))
      assert.strictEqual(refused.status, 429)
      const body = yield* decode(OpenAiError, yield* readJson(refused))
      assert.strictEqual(body.error.type, "requests")
      assert.strictEqual(body.error.code, "rate_limit_exceeded")
      const retryAfter = Number(header(refused, "retry-after"))
      assert.isTrue(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`)
      const retryAfterMs = Number(header(refused, "retry-after-ms"))
      assert.isTrue(retryAfterMs > 0 && retryAfterMs <= 60_000)
      assert.strictEqual(header(refused, "x-ratelimit-remaining-requests"), "0")
      const reset = parseGoDuration(header(refused, "x-ratelimit-reset-requests"))
      assert.isTrue(reset > 0 && reset <= 60_000, `reset ${reset}`)
      assert.isTrue(Math.abs(reset - retryAfterMs) <= 1000)

      // The budget is per key, and the x-mock-rpm header works as the query does.
      const other = yield* chat(url, freshKey("sk-test"), userChat("hi"))
      assert.strictEqual(other.status, 200)
      const viaHeader = server.urlFor("/v1/chat/completions")
      const headerKey = freshKey("sk-test")
      assert.strictEqual((yield* chat(viaHeader, headerKey, userChat("hi"), { "x-mock-rpm": "1" })).status, 200)
      assert.strictEqual((yield* chat(viaHeader, headerKey, userChat("hi"), { "x-mock-rpm": "1" })).status, 429)

      const invalid = yield* chat(server.urlFor("/v1/chat/completions?rpm=0"), key, userChat("hi"))
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual((yield* decode(OpenAiError, yield* readJson(invalid))).error.param, "rpm")
    }))
})

layer(TestServer.layer())("Anthropic-style mock", (it) => {
  it.effect("refuses a missing or unknown x-api-key with Anthropic's 401 shape", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/messages")
      for (const key of [undefined, "sk-ant-live", "sk-test-openai-only"]) {
        const response = yield* anthropic(url, key, userMessage("hi"))
        assert.strictEqual(response.status, 401)
        const body = yield* decode(AnthropicError, yield* readJson(response))
        assert.strictEqual(body.error.type, "authentication_error")
        assert.match(header(response, "request-id"), /^req_/)
      }
    }))

  it.effect("requires anthropic-version", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* anthropic(server.urlFor("/v1/messages"), freshKey("sk-ant-test"), userMessage("hi"), {})
      assert.strictEqual(response.status, 400)
      const body = yield* decode(AnthropicError, yield* readJson(response))
      assert.strictEqual(body.error.type, "invalid_request_error")
      assert.include(body.error.message, "anthropic-version")
    }))

  it.effect("answers 400 invalid_request_error for invalid JSON and invalid bodies", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/messages")
      const key = freshKey("sk-ant-test")
      const cases: Array<[unknown, string | undefined]> = [
        ["{nope", undefined],
        [{ model: "claude-test", messages: [{ role: "user", content: "hi" }] }, "max_tokens"],
        [userMessage("hi", { max_tokens: 1.5 }), "max_tokens"],
        [userMessage("hi", { messages: [] }), "messages"],
        [userMessage("hi", { messages: [{ role: "system", content: "hi" }] }), "messages[0].role"],
        [userMessage("hi", { messages: [{ role: "user", content: [{ type: "image", source: {} }] }] }), "messages[0]"]
      ]
      for (const [body, mention] of cases) {
        const response = yield* anthropic(url, key, body)
        assert.strictEqual(response.status, 400, JSON.stringify(body))
        const error = yield* decode(AnthropicError, yield* readJson(response))
        assert.strictEqual(error.error.type, "invalid_request_error")
        if (mention !== undefined) assert.include(error.error.message, mention)
      }
    }))

  it.effect("answers a schema-valid message with Anthropic's headers", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const before = Date.now()
      const response = yield* anthropic(server.urlFor("/v1/messages"), freshKey("sk-ant-test"), {
        ...userMessage("ignored"),
        system: "Be brief.",
        messages: [
          { role: "user", content: "first question" },
          { role: "assistant", content: "first answer" },
          { role: "user", content: [{ type: "text", text: "second" }, { type: "text", text: "question" }] }
        ]
      })
      assert.strictEqual(response.status, 200)
      const body = yield* decode(AnthropicMessage, yield* readJson(response))
      assert.strictEqual(body.model, "claude-test")
      assert.deepStrictEqual(body.content, [{ type: "text", text: "Echo: second\nquestion" }])
      assert.strictEqual(body.stop_reason, "end_turn")
      assert.isNull(body.stop_sequence)
      assert.deepStrictEqual(body.usage, { input_tokens: 8, output_tokens: 3 })

      assert.match(header(response, "request-id"), /^req_/)
      assert.strictEqual(header(response, "anthropic-ratelimit-requests-limit"), "10000")
      assert.strictEqual(header(response, "anthropic-ratelimit-requests-remaining"), "9999")
      const reset = header(response, "anthropic-ratelimit-requests-reset")
      assert.match(reset, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
      const resetAt = Date.parse(reset)
      assert.isTrue(resetAt >= before && resetAt <= Date.now() + 61_000, `reset ${reset}`)
      assert.strictEqual(header(response, "anthropic-ratelimit-tokens-limit"), "1000000")
      assert.strictEqual(header(response, "anthropic-ratelimit-tokens-remaining"), String(1_000_000 - 11))
      assert.match(header(response, "anthropic-ratelimit-tokens-reset"), /Z$/)
      assert.strictEqual(header(response, "anthropic-ratelimit-input-tokens-remaining"), String(1_000_000 - 8))
      assert.strictEqual(header(response, "anthropic-ratelimit-output-tokens-remaining"), String(1_000_000 - 3))
    }))

  it.effect("cuts the answer at max_tokens with stop_reason max_tokens", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* anthropic(
        server.urlFor("/v1/messages"),
        freshKey("sk-ant-test"),
        userMessage("alpha beta gamma", { max_tokens: 2 })
      )
      const body = yield* decode(AnthropicMessage, yield* readJson(response))
      assert.deepStrictEqual(body.content, [{ type: "text", text: "Echo: alpha" }])
      assert.strictEqual(body.stop_reason, "max_tokens")
      assert.strictEqual(body.usage.output_tokens, 2)
    }))

  it.effect("streams message_start ... message_stop as named SSE events", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const response = yield* anthropic(
        server.urlFor("/v1/messages"),
        freshKey("sk-ant-test"),
        userMessage("stream this now", { stream: true, max_tokens: 3 })
      )
      assert.strictEqual(response.status, 200)
      assert.match(header(response, "content-type"), /^text\/event-stream/)
      const events = parseSse(yield* readText(response))
      const decoded: Array<typeof AnthropicStreamEvent.Type> = []
      for (const event of events) {
        const data = yield* decode(AnthropicStreamEvent, JSON.parse(event.data))
        assert.strictEqual(event.event, data.type)
        decoded.push(data)
      }
      const types = decoded.map((event) => event.type).filter((type) => type !== "content_block_delta")
      assert.deepStrictEqual(types, [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_stop",
        "message_delta",
        "message_stop"
      ])
      const text = decoded.map((event) => event.type === "content_block_delta" ? event.delta.text : "").join("")
      assert.strictEqual(text, "Echo: stream this")
      const delta = decoded.find((event) => event.type === "message_delta")
      assert.deepStrictEqual(delta?.type === "message_delta" ? [delta.delta.stop_reason, delta.usage] : [], [
        "max_tokens",
        { output_tokens: 3 }
      ])
    }))

  it.effect("answers 429 rate_limit_error with retry-after once the rpm budget is spent", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/messages?rpm=1")
      const key = freshKey("sk-ant-test")
      const ok = yield* anthropic(url, key, userMessage("hi"))
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(header(ok, "anthropic-ratelimit-requests-limit"), "1")
      assert.strictEqual(header(ok, "anthropic-ratelimit-requests-remaining"), "0")
      yield* readJson(ok)
      const refused = yield* anthropic(url, key, userMessage("hi"))
      assert.strictEqual(refused.status, 429)
      const body = yield* decode(AnthropicError, yield* readJson(refused))
      assert.strictEqual(body.error.type, "rate_limit_error")
      const retryAfter = Number(header(refused, "retry-after"))
      assert.isTrue(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`)
      const resetAt = Date.parse(header(refused, "anthropic-ratelimit-requests-reset"))
      assert.isTrue(resetAt > Date.now() - 1000 && resetAt <= Date.now() + 61_000)
      assert.strictEqual(header(refused, "anthropic-ratelimit-requests-remaining"), "0")
    }))
})

layer(TestServer.layer())("API mocks and token rotation", (it) => {
  it.effect("both mocks accept the current /auth/bearer token and refuse a rotated-out one", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const chatUrl = server.urlFor("/v1/chat/completions")
      const messagesUrl = server.urlFor("/v1/messages")
      assert.strictEqual((yield* chat(chatUrl, "token-1", userChat("hi"))).status, 200)
      assert.strictEqual((yield* anthropic(messagesUrl, "token-1", userMessage("hi"))).status, 200)

      const rotated = yield* send(server.urlFor("/auth/rotate"), { method: "POST" })
      assert.strictEqual(rotated.status, 200)
      const { token } = yield* decode(Schema.Struct({ token: Schema.String }), yield* readJson(rotated))
      assert.notStrictEqual(token, "token-1")

      assert.strictEqual((yield* chat(chatUrl, "token-1", userChat("hi"))).status, 401)
      assert.strictEqual((yield* anthropic(messagesUrl, "token-1", userMessage("hi"))).status, 401)
      const openAi = yield* chat(chatUrl, token, userChat("after rotation"))
      assert.strictEqual(openAi.status, 200)
      assert.strictEqual(
        (yield* decode(ChatCompletion, yield* readJson(openAi))).choices[0].message.content,
        "Echo: after rotation"
      )
      const claude = yield* anthropic(messagesUrl, token, userMessage("after rotation"))
      assert.strictEqual(claude.status, 200)
      assert.deepStrictEqual(
        (yield* decode(AnthropicMessage, yield* readJson(claude))).content[0].text,
        "Echo: after rotation"
      )
      yield* server.reset
    }))

  it.effect("reset clears the rpm windows", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const url = server.urlFor("/v1/chat/completions?rpm=1")
      const key = freshKey("sk-test")
      assert.strictEqual((yield* chat(url, key, userChat("hi"))).status, 200)
      assert.strictEqual((yield* chat(url, key, userChat("hi"))).status, 429)
      yield* server.reset
      assert.strictEqual((yield* chat(url, key, userChat("hi"))).status, 200)
    }))
})

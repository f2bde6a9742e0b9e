/**
 * OpenAI-compatible and Anthropic-style API mocks: `POST /v1/chat/completions`
 * and `POST /v1/messages`.
 *
 * Both answer deterministically (`Echo: <last user message>`), count tokens
 * as whitespace-separated words, cut the answer at `max_tokens` words, stream
 * as Server-Sent Events when asked, and carry each API's own rate-limit
 * headers and error shapes, so that clients can be tested against them
 * without reaching the real services.
 *
 * **Details**
 *
 * - Accepted keys: any key starting with `sk-test` (OpenAI) or `sk-ant-test`
 *   (Anthropic), and the current token of `/auth/bearer` (so that token
 *   rotation can be tested against either mock).
 * - Every accepted key has a one-minute window per API, starting with its
 *   first request. `?rpm=N` (or the header `x-mock-rpm: N`) turns it into a
 *   budget of N requests: the next ones answer 429 with `retry-after` until
 *   the window ends. Without a budget nothing is refused and the headers
 *   report a nominal limit of 10,000 requests and 1,000,000 tokens a minute.
 * - Every request that passes authentication counts, invalid bodies included.
 */
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { intParam, query } from "../http.ts"
import { ownData } from "../own.ts"
import * as Respond from "../respond.ts"
import type { RouteEntry } from "../routeTable.ts"
import type { RateWindow, ServerState } from "../state.ts"
import { AnthropicMessagesRequest, ChatCompletionRequest, contentText, describeSchemaError } from "./mockSchemas.ts"
import {
  anthropicHeaders,
  currentWindow,
  formatGoDuration,
  type LimitSnapshot,
  maxLimit,
  openAiHeaders,
  retryAfterHeaders,
  retryAfterSeconds
} from "./ratelimit.ts"

/** Length of a mock's rate window, in milliseconds. */
export const mockWindowMillis = 60_000
/** Requests a minute the headers report when no `rpm` budget is set. */
export const nominalRequestLimit = 10_000
/** Tokens a minute the headers report (never enforced). */
export const nominalTokenLimit = 1_000_000
/** Largest request body the mocks read. */
export const maxMockBodyBytes = 4 * 1024 * 1024

/** The fingerprint every chat completion carries. */
const systemFingerprint = "fp_httpkit_mock"

interface MockWindow extends RateWindow {
  inputTokens: number
  outputTokens: number
}

// ---------------------------------------------------------------------------
// Text and tokens
// ---------------------------------------------------------------------------

/** Tokens of a text: its whitespace-separated words. */
export const countTokens = (text: string): number => text.match(/\S+/g)?.length ?? 0

/** The text cut after its `max`-th word, and whether anything was cut. */
export const truncateTokens = (text: string, max: number): { readonly text: string; readonly truncated: boolean } => {
  const words = /\S+/g
  let seen = 0
  for (let match = words.exec(text); match !== null; match = words.exec(text)) {
    seen += 1
    if (seen === max) {
      const end = match.index + match[0].length
      return { text: text.slice(0, end), truncated: /\S/.test(text.slice(end)) }
    }
  }
  return { text, truncated: false }
}

/** The pieces a streamed answer is sent in: one word each, with the whitespace before it. */
const streamPieces = (text: string): ReadonlyArray<string> => text.match(/\s*\S+/g) ?? []

const echo = (text: string): string => (text === "" ? "Echo:" : `Echo: ${text}`)

const randomId = (length: number): string => crypto.randomUUID().replaceAll("-", "").slice(0, length)

// ---------------------------------------------------------------------------
// Shared request plumbing
// ---------------------------------------------------------------------------

type BodyOutcome<A> =
  | { readonly kind: "Ok"; readonly value: A }
  | { readonly kind: "TooLarge" }
  | { readonly kind: "InvalidJson" }
  | { readonly kind: "Invalid"; readonly message: string; readonly param: string | null }

/**
 * The body decoded with `schema`, as `HttpServerRequest.schemaBodyJson` does
 * it, but on an own-keys copy of the parsed JSON and giving an own-keys copy
 * of the result: `Schema` reads an optional field with `in`, so a `stream` or
 * `max_tokens` on a polluted `Object.prototype` would otherwise change the
 * answer (RELIABILITY 10).
 */
const readBody = <A>(schema: Schema.ConstraintDecoder<A, never>): Effect.Effect<
  BodyOutcome<A>,
  never,
  HttpServerRequest.HttpServerRequest
> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.json).pipe(
    Effect.flatMap((json) => Schema.decodeUnknownEffect(Schema.toCodecJson(schema))(ownData(json))),
    Effect.map((value): BodyOutcome<A> => ({ kind: "Ok", value: ownData(value) })),
    Effect.catch((error): Effect.Effect<BodyOutcome<A>> => {
      if (Schema.isSchemaError(error)) return Effect.succeed({ kind: "Invalid", ...describeSchemaError(error) })
      const tooLarge = error.reason instanceof HttpServerError.RequestParseError &&
        error.reason.reason === "BodyTooLarge"
      return Effect.succeed(tooLarge ? { kind: "TooLarge" } : { kind: "InvalidJson" })
    }),
    Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxMockBodyBytes))
  )

/** Reads the `rpm` budget from the query, else from `x-mock-rpm`: `null` without one, `undefined` when invalid. */
const readBudget = (params: URLSearchParams, header: string | undefined): number | null | undefined => {
  const fromQuery = intParam(params, "rpm", 0, 1, maxLimit)
  if (fromQuery !== 0) return fromQuery
  if (header === undefined) return null
  const fromHeader = intParam(new URLSearchParams({ rpm: header }), "rpm", 0, 1, maxLimit)
  return fromHeader === 0 ? null : fromHeader
}

const budgetProblem = `rpm (or x-mock-rpm) must be an integer from 1 to ${maxLimit}`

/** What the headers of one answer report, taken after the request was counted. */
interface Admission {
  readonly allowed: boolean
  readonly window: MockWindow
  readonly limit: number
  readonly now: number
}

const snapshot = (admission: Admission, limit: number, used: number): LimitSnapshot => {
  const resetAt = admission.window.startedAt + mockWindowMillis
  return { limit, remaining: Math.max(0, limit - used), resetAt, resetIn: Math.max(0, resetAt - admission.now) }
}

const requestsSnapshot = (admission: Admission): LimitSnapshot =>
  snapshot(admission, admission.limit, admission.window.used)

const tokensSnapshot = (admission: Admission, used: number): LimitSnapshot =>
  snapshot(admission, nominalTokenLimit, used)

const openAiError = (
  status: number,
  error: { message: string; type: string; param?: string | null; code: string | null },
  headers: Record<string, string> = {}
) =>
  Respond.jsonUnsafe(
    { error: { message: error.message, type: error.type, param: error.param ?? null, code: error.code } },
    { status, headers }
  )

const openAiRateHeaders = (admission: Admission): Record<string, string> => ({
  ...openAiHeaders("requests", requestsSnapshot(admission)),
  ...openAiHeaders("tokens", tokensSnapshot(admission, admission.window.inputTokens + admission.window.outputTokens))
})

const anthropicError = (status: number, type: string, message: string, headers: Record<string, string>) =>
  Respond.jsonUnsafe({ type: "error", error: { type, message } }, { status, headers })

const anthropicRateHeaders = (admission: Admission): Record<string, string> => {
  const { inputTokens, outputTokens } = admission.window
  return {
    ...anthropicHeaders("requests", requestsSnapshot(admission)),
    ...anthropicHeaders("tokens", tokensSnapshot(admission, inputTokens + outputTokens)),
    ...anthropicHeaders("input-tokens", tokensSnapshot(admission, inputTokens)),
    ...anthropicHeaders("output-tokens", tokensSnapshot(admission, outputTokens))
  }
}

/** One choice of a `chat.completion.chunk`. */
const choiceDelta = (index: number, delta: object, finish: string | null = null) => ({
  index,
  delta,
  logprobs: null,
  finish_reason: finish
})

/** One named SSE event of Anthropic's stream; `data.type` repeats the event's name. */
const namedEvent = (name: string, data: object): string =>
  `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`

export const routes = (state: ServerState): ReadonlyArray<RouteEntry> => {
  const windows = new Map<string, MockWindow>()
  state.onReset(() => windows.clear())

  const admit = (api: string, apiKey: string, budget: number | null): Admission => {
    const now = Date.now()
    const window = currentWindow(windows, `${api}\u0000${apiKey}`, mockWindowMillis, now, (startedAt) => ({
      startedAt,
      used: 0,
      inputTokens: 0,
      outputTokens: 0
    }))
    const allowed = budget === null || window.used < budget
    if (allowed) window.used += 1
    return { allowed, window, limit: budget ?? nominalRequestLimit, now }
  }

  const isCurrentToken = (key: string): boolean => key !== "" && key === state.bearerToken

  // -------------------------------------------------------------------------
  // OpenAI: POST /v1/chat/completions
  // -------------------------------------------------------------------------

  const chatCompletions = Effect.gen(function*() {
    const started = Date.now()
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = yield* query
    const requestId = `req_${randomId(32)}`
    const baseHeaders = (): Record<string, string> => ({
      "x-request-id": requestId,
      "openai-version": "2020-10-01",
      "openai-processing-ms": String(Date.now() - started)
    })

    const authorization = request.headers["authorization"]
    const apiKey = authorization === undefined ? "" : (/^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] ?? "")
    if (!apiKey.startsWith("sk-test") && !isCurrentToken(apiKey)) {
      return openAiError(401, {
        message: apiKey === ""
          ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
          : "Incorrect API key provided. This mock accepts keys starting with sk-test and the current /auth/bearer token.",
        type: "invalid_request_error",
        code: "invalid_api_key"
      }, baseHeaders())
    }

    const budget = readBudget(params, request.headers["x-mock-rpm"])
    if (budget === undefined) {
      return openAiError(
        400,
        { message: budgetProblem, type: "invalid_request_error", param: "rpm", code: null },
        baseHeaders()
      )
    }

    const admission = admit("openai", apiKey, budget)
    if (!admission.allowed) {
      const requests = requestsSnapshot(admission)
      return openAiError(429, {
        message:
          `Rate limit reached for requests per min (RPM): Limit ${admission.limit}, Used ${admission.window.used}, ` +
          `Requested 1. Please try again in ${formatGoDuration(requests.resetIn)}.`,
        type: "requests",
        code: "rate_limit_exceeded"
      }, { ...baseHeaders(), ...openAiRateHeaders(admission), ...retryAfterHeaders(requests.resetIn, true) })
    }

    const body = yield* readBody(ChatCompletionRequest)
    if (body.kind !== "Ok") {
      const headers = { ...baseHeaders(), ...openAiRateHeaders(admission) }
      switch (body.kind) {
        case "TooLarge":
          return openAiError(413, {
            message: `The request body is larger than ${maxMockBodyBytes} bytes.`,
            type: "invalid_request_error",
            code: "request_too_large"
          }, headers)
        case "InvalidJson":
          return openAiError(400, {
            message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using " +
              "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            type: "invalid_request_error",
            code: null
          }, headers)
        case "Invalid":
          return openAiError(400, {
            message: body.message,
            type: "invalid_request_error",
            param: body.param,
            code: null
          }, headers)
      }
    }

    const chat = body.value
    const lastUser = chat.messages.findLast((message) => message.role === "user") ?? chat.messages.at(-1)
    const maxTokens = chat.max_completion_tokens ?? chat.max_tokens ?? undefined
    const full = echo(lastUser === undefined ? "" : contentText(lastUser.content))
    const answer = maxTokens === undefined ? { text: full, truncated: false } : truncateTokens(full, maxTokens)
    const finishReason = answer.truncated ? "length" : "stop"
    const choices = chat.n ?? 1
    const promptTokens = chat.messages.reduce((sum, message) => sum + countTokens(contentText(message.content)), 0)
    const completionTokens = countTokens(answer.text) * choices
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens
    }
    admission.window.inputTokens += promptTokens
    admission.window.outputTokens += completionTokens

    const id = `chatcmpl-${randomId(24)}`
    const created = Math.floor(Date.now() / 1000)
    const headers = { ...baseHeaders(), ...openAiRateHeaders(admission) }

    if (chat.stream === true) {
      const includeUsage = chat.stream_options?.include_usage === true
      const chunk = (chunkChoices: ReadonlyArray<unknown>, chunkUsage: typeof usage | null = null) =>
        `data: ${
          JSON.stringify({
            id,
            object: "chat.completion.chunk",
            created,
            model: chat.model,
            system_fingerprint: systemFingerprint,
            choices: chunkChoices,
            ...(includeUsage ? { usage: chunkUsage } : {})
          })
        }\n\n`
      const events: Array<string> = []
      for (let index = 0; index < choices; index++) {
        events.push(chunk([choiceDelta(index, { role: "assistant", content: "", refusal: null })]))
        for (const piece of streamPieces(answer.text)) events.push(chunk([choiceDelta(index, { content: piece })]))
        events.push(chunk([choiceDelta(index, {}, finishReason)]))
      }
      if (includeUsage) events.push(chunk([], usage))
      events.push("data: [DONE]\n\n")
      return Respond.stream(Stream.encodeText(Stream.fromIterable(events)), {
        contentType: "text/event-stream; charset=utf-8",
        headers: { ...headers, "cache-control": "no-cache" }
      })
    }

    return Respond.jsonUnsafe({
      id,
      object: "chat.completion",
      created,
      model: chat.model,
      choices: Array.from({ length: choices }, (_, index) => ({
        index,
        message: { role: "assistant", content: answer.text, refusal: null },
        logprobs: null,
        finish_reason: finishReason
      })),
      usage,
      system_fingerprint: systemFingerprint
    }, { headers })
  })

  // -------------------------------------------------------------------------
  // Anthropic: POST /v1/messages
  // -------------------------------------------------------------------------

  const messages = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = yield* query
    const baseHeaders = { "request-id": `req_${randomId(24)}` }

    const apiKey = request.headers["x-api-key"]?.trim() ?? ""
    if (!apiKey.startsWith("sk-ant-test") && !isCurrentToken(apiKey)) {
      return anthropicError(
        401,
        "authentication_error",
        apiKey === "" ? "x-api-key header is required" : "invalid x-api-key",
        baseHeaders
      )
    }
    const version = request.headers["anthropic-version"]
    if (version === undefined || version.trim() === "") {
      return anthropicError(400, "invalid_request_error", "anthropic-version: header is required", baseHeaders)
    }

    const budget = readBudget(params, request.headers["x-mock-rpm"])
    if (budget === undefined) return anthropicError(400, "invalid_request_error", budgetProblem, baseHeaders)
    const admission = admit("anthropic", apiKey, budget)
    if (!admission.allowed) {
      const requests = requestsSnapshot(admission)
      return anthropicError(
        429,
        "rate_limit_error",
        `This request would exceed the rate limit of ${admission.limit} requests per minute. ` +
          `Try again in ${retryAfterSeconds(requests.resetIn)} seconds.`,
        { ...baseHeaders, ...anthropicRateHeaders(admission), ...retryAfterHeaders(requests.resetIn, false) }
      )
    }

    const body = yield* readBody(AnthropicMessagesRequest)
    if (body.kind !== "Ok") {
      const headers = { ...baseHeaders, ...anthropicRateHeaders(admission) }
      switch (body.kind) {
        case "TooLarge":
          return anthropicError(413, "request_too_large", `Request exceeds the maximum size`, headers)
        case "InvalidJson":
          return anthropicError(400, "invalid_request_error", "The request body is not valid JSON.", headers)
        case "Invalid":
          return anthropicError(400, "invalid_request_error", body.message, headers)
      }
    }

    const message = body.value
    const lastUser = message.messages.findLast((entry) => entry.role === "user") ?? message.messages.at(-1)
    const full = echo(lastUser === undefined ? "" : contentText(lastUser.content))
    const answer = truncateTokens(full, message.max_tokens)
    const stopReason = answer.truncated ? "max_tokens" : "end_turn"
    const inputTokens = message.messages.reduce((sum, entry) => sum + countTokens(contentText(entry.content)), 0) +
      (message.system === undefined ? 0 : countTokens(contentText(message.system)))
    const outputTokens = countTokens(answer.text)
    admission.window.inputTokens += inputTokens
    admission.window.outputTokens += outputTokens
    const id = `msg_${randomId(24)}`
    const headers = { ...baseHeaders, ...anthropicRateHeaders(admission) }

    if (message.stream === true) {
      const events: Array<string> = [
        namedEvent("message_start", {
          message: {
            id,
            type: "message",
            role: "assistant",
            model: message.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: inputTokens, output_tokens: 1 }
          }
        }),
        namedEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
        namedEvent("ping", {}),
        ...streamPieces(answer.text).map((piece) =>
          namedEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } })
        ),
        namedEvent("content_block_stop", { index: 0 }),
        namedEvent("message_delta", {
          delta: { stop_reason: stopReason, stop_sequence: null },
          usage: { output_tokens: outputTokens }
        }),
        namedEvent("message_stop", {})
      ]
      return Respond.stream(Stream.encodeText(Stream.fromIterable(events)), {
        contentType: "text/event-stream; charset=utf-8",
        headers: { ...headers, "cache-control": "no-cache" }
      })
    }

    return Respond.jsonUnsafe({
      id,
      type: "message",
      role: "assistant",
      model: message.model,
      content: [{ type: "text", text: answer.text }],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: outputTokens }
    }, { headers })
  })

  return [
    {
      methods: ["POST"],
      path: "/v1/chat/completions",
      summary: "an OpenAI-compatible chat completion (Bearer sk-test...), streamed as SSE with stream: true",
      switches: { rpm: `requests a minute before 429, 1-${maxLimit} (or the header x-mock-rpm)` },
      handler: chatCompletions
    },
    {
      methods: ["POST"],
      path: "/v1/messages",
      summary: "an Anthropic-style message (x-api-key sk-ant-test..., anthropic-version), SSE with stream: true",
      switches: { rpm: `requests a minute before 429, 1-${maxLimit} (or the header x-mock-rpm)` },
      handler: messages
    }
  ]
}

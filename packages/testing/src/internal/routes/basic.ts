/**
 * Health, the `/msg` endpoint with server-side dedupe, failure injection,
 * arbitrary statuses, delays, `/echo` and the introspection endpoints.
 */
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import {
  badRequest,
  headerParam,
  headerParamProblem,
  headerRecord,
  intParam,
  maxDelayMillis,
  methodNotAllowed,
  pause,
  query,
  requestTarget
} from "../http.ts"
import * as Respond from "../respond.ts"
import type { RouteEntry } from "../routeTable.ts"
import type { ServerState } from "../state.ts"

/** Largest request body `/echo` and `/msg` read, in bytes. */
export const maxEchoBody = 10 * 1024 * 1024

/** The most `/fail/count/:n` arms. */
export const maxFailCount = 1_000_000

const tooLarge = { tooLarge: true as const, text: "" }

/**
 * The request body as text, or `tooLarge` as soon as it passes
 * {@link maxEchoBody}: a larger `Content-Length` is refused unread, and a
 * chunked body is read no further than the limit (Effect's `MaxBodySize`),
 * after which Effect closes the connection rather than drain the rest.
 */
const readBodyText = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const length = Number(request.headers["content-length"] ?? "0")
  if (length > maxEchoBody) return tooLarge
  return yield* request.arrayBuffer.pipe(
    Effect.map((bytes) => ({ tooLarge: false as const, text: new TextDecoder().decode(bytes) })),
    Effect.catch((error) =>
      Effect.succeed(
        error.reason instanceof HttpServerError.RequestParseError && error.reason.reason === "BodyTooLarge"
          ? tooLarge
          : { tooLarge: false as const, text: "" }
      )
    ),
    Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxEchoBody))
  )
})

const parseJsonOrText = (text: string): unknown => {
  if (text === "") return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** A final status the server may send (Node refuses 1xx as a final answer). */
const isSendableStatus = (code: number | undefined): code is number => code !== undefined && code >= 200 && code <= 599

const statusBody = (status: number) => ({ status, message: `status ${status} as requested` })

export const routes = (state: ServerState): ReadonlyArray<RouteEntry> => [
  {
    methods: ["GET"],
    path: "/health",
    summary: "{ status: \"ok\" }",
    handler: Effect.sync(() => Respond.jsonUnsafe({ status: "ok" }))
  },

  {
    methods: "*",
    serves: ["GET", "POST"],
    path: "/msg",
    summary: "a message id, the same for a repeated Idempotency-Key or X-Request-ID; fails while /fail/count is armed",
    switches: { delay: `ms before answering, 0-${maxDelayMillis}` },
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.method !== "GET" && request.method !== "POST") return methodNotAllowed(["GET", "POST"])
      const params = yield* query
      const delay = intParam(params, "delay", 0, 0, maxDelayMillis)
      if (delay === undefined) return badRequest(`delay must be an integer from 0 to ${maxDelayMillis}`)
      yield* pause(delay)
      if (state.failure.remaining > 0) {
        state.failure.remaining -= 1
        const headers: Record<string, string> = {}
        if (state.failure.retryAfter !== undefined) headers["retry-after"] = state.failure.retryAfter
        if (state.failure.retryAfterMs !== undefined) headers["retry-after-ms"] = state.failure.retryAfterMs
        return Respond.jsonUnsafe(
          { error: "injected_failure", status: state.failure.status, remaining: state.failure.remaining },
          { status: state.failure.status, headers }
        )
      }
      const body = request.method === "POST" ? yield* readBodyText : { tooLarge: false as const, text: "" }
      if (body.tooLarge) return Respond.jsonUnsafe({ error: "body_too_large" }, { status: 413 })
      const key = request.headers["idempotency-key"] ?? request.headers["x-request-id"]
      const known = key === undefined ? undefined : state.messageIds.get(key)
      const messageId = known ?? state.nextMessageId()
      if (key !== undefined && known === undefined) state.rememberMessage(key, messageId)
      return Respond.jsonUnsafe({
        message_id: messageId,
        deduplicated: known !== undefined,
        method: request.method,
        received_at: new Date().toISOString(),
        body: parseJsonOrText(body.text)
      })
    })
  },

  {
    methods: ["POST"],
    path: "/fail/count/:n",
    summary: `arms a failure: the next n (0-${maxFailCount}) requests to /msg answer that status`,
    switches: {
      status: "200-599, default 503",
      retry_after: "sent verbatim as Retry-After",
      retry_after_ms: "sent verbatim as retry-after-ms"
    },
    handler: Effect.gen(function*() {
      const { n } = yield* HttpRouter.params
      const params = yield* query
      const count = n !== undefined && /^\d{1,7}$/.test(n) && Number(n) <= maxFailCount ? Number(n) : undefined
      const status = intParam(params, "status", 503, 200, 599)
      const retryAfter = headerParam(params, "retry_after")
      const retryAfterMs = headerParam(params, "retry_after_ms")
      if (count === undefined) return badRequest(`n must be an integer from 0 to ${maxFailCount}`)
      if (status === undefined) return badRequest("status must be an integer from 200 to 599")
      if (retryAfter === undefined) return badRequest(headerParamProblem("retry_after"))
      if (retryAfterMs === undefined) return badRequest(headerParamProblem("retry_after_ms"))
      state.failure = {
        remaining: count,
        status,
        retryAfter: retryAfter ?? undefined,
        retryAfterMs: retryAfterMs ?? undefined
      }
      return Respond.jsonUnsafe({ failing: count, status })
    })
  },

  {
    methods: ["POST"],
    path: "/fail/reset",
    summary: "disarms the failures",
    handler: Effect.sync(() => {
      state.failure = { remaining: 0, status: 503, retryAfter: undefined }
      return Respond.jsonUnsafe({ failing: 0 })
    })
  },

  {
    methods: "*",
    path: "/status/:code",
    summary: "that status (200-599) with a JSON body (none for 204, 205, 304)",
    switches: {
      retry_after: "seconds or an HTTP-date, sent verbatim as Retry-After",
      retry_after_ms: "sent verbatim as retry-after-ms"
    },
    handler: Effect.gen(function*() {
      const { code } = yield* HttpRouter.params
      const status = code !== undefined && /^\d{3}$/.test(code) ? Number(code) : undefined
      if (!isSendableStatus(status)) return badRequest("code must be a status from 200 to 599")
      const params = yield* query
      const retryAfter = headerParam(params, "retry_after")
      const retryAfterMs = headerParam(params, "retry_after_ms")
      if (retryAfter === undefined) return badRequest(headerParamProblem("retry_after"))
      if (retryAfterMs === undefined) return badRequest(headerParamProblem("retry_after_ms"))
      const headers: Record<string, string> = {
        ...(retryAfter === null ? {} : { "retry-after": retryAfter }),
        ...(retryAfterMs === null ? {} : { "retry-after-ms": retryAfterMs })
      }
      if (status === 204 || status === 304 || status === 205) return Respond.empty({ status, headers })
      return Respond.jsonUnsafe(statusBody(status), { status, headers })
    })
  },

  {
    methods: "*",
    path: "/delay/:ms",
    summary: `{ delayed_ms } after ms milliseconds (0-${maxDelayMillis})`,
    handler: Effect.gen(function*() {
      const { ms } = yield* HttpRouter.params
      const millis = ms !== undefined && /^\d+$/.test(ms) ? Number(ms) : undefined
      if (millis === undefined || millis > maxDelayMillis) {
        return badRequest(`ms must be an integer from 0 to ${maxDelayMillis}`)
      }
      yield* pause(millis)
      return Respond.jsonUnsafe({ delayed_ms: millis })
    })
  },

  {
    methods: "*",
    path: "/echo",
    summary: "{ method, path, query, headers, body } of the request (body up to 10 MiB)",
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const target = requestTarget(request)
      const body = yield* readBodyText
      if (body.tooLarge) return Respond.jsonUnsafe({ error: "body_too_large" }, { status: 413 })
      return Respond.jsonUnsafe({
        method: request.method,
        path: target.path,
        query: Object.fromEntries(new URLSearchParams(target.query)),
        headers: headerRecord(request),
        body: body.text
      })
    })
  },

  {
    methods: ["GET"],
    path: "/__requests",
    summary: "the request log, oldest first (introspection requests are not logged)",
    handler: Effect.sync(() => Respond.jsonUnsafe(state.requests))
  },

  {
    methods: ["POST"],
    path: "/__reset",
    summary: "clears the log and every switch (failures, dedupe, token, rate windows, per-file counters)",
    handler: Effect.sync(() => {
      state.reset()
      return Respond.jsonUnsafe({ reset: true })
    })
  }
]

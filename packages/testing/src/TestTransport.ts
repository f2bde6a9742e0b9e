/**
 * A scripted, in-memory `HttpClient` for tests: queue responses and transport
 * faults per route, then assert on the requests that were made. No socket is
 * opened, and every wait goes through the `Clock`, so code that depends on
 * `ResilientClient` (or on any `HttpClient`) runs deterministically, and
 * retries, backoff and timeouts complete instantly under `TestClock`.
 *
 * **Details**
 *
 * - `layer(script)` provides both the `TestTransport` control service and the
 *   `HttpClient.HttpClient` that `ResilientClient.layerWith` (or your own code)
 *   sends through.
 * - Matching: a route matches when its method is `"*"` or equal to the
 *   request's (case-insensitive) and its path equals the URL's pathname (a
 *   string) or tests true against it (a `RegExp`). Routes are kept in the order
 *   they were first registered (by `layer`, `enqueue` or `setDefault`); the
 *   first matching route whose queue is not empty serves the next reply of its
 *   queue. When every matching queue is empty, the first matching route with a
 *   default serves that default (defaults are never used up).
 * - Unscripted requests are answered `404` with the header
 *   `x-test-transport: unscripted` and a JSON body
 *   `{ "error": "unscripted", "message", "method", "url" }`. They are recorded
 *   like any other request.
 * - Every request is recorded when it arrives, before any delay or fault,
 *   including requests that are answered with a fault or never answered. A
 *   request whose body fails to read (a failing stream) is recorded without
 *   `body`, uses up no reply, and fails with `HttpClientError` whose reason is
 *   an `EncodeError`.
 * - A `Fail` reply fails the request with `HttpClientError` whose reason is a
 *   `TransportError`; its `cause` is an `Error` with `code` (such as
 *   `ECONNREFUSED`) and `syscall` (`"connect"` when the request was not sent,
 *   `"read"` when it was), shaped like the errors Node's own sockets raise.
 * - Response bodies are Web `Response` bodies wrapped by
 *   `HttpClientResponse.fromWeb`, so `stream`, `text`, `json` and
 *   `arrayBuffer` all work. A body that fails part-way (`truncateAfter`) fails
 *   the read with `HttpClientError` whose reason is a `DecodeError` with the
 *   `ECONNRESET` error as its cause, as Node's client does.
 *
 * **Gotchas**
 *
 * - `delay`, `chunkDelay` and `Hang` wait on the `Clock`. Under `TestClock`
 *   nothing happens until the test calls `TestClock.adjust`, so fork the
 *   request first (`Effect.forkChild`), adjust, then join.
 * - `Response` only carries statuses 200 to 599; scripting another status is a
 *   defect.
 * - `reset` forgets everything, including the script given to `layer`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { own } from "./internal/own.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * A chunk of a scripted body: text (sent as UTF-8) or bytes.
 *
 * @category models
 * @since 0.1.0
 */
export type Chunk = string | Uint8Array

/**
 * A scripted response.
 *
 * @category models
 * @since 0.1.0
 */
export interface Respond {
  readonly _tag: "Respond"
  /** A status from 200 to 599. */
  readonly status: number
  /** Response headers, passed through untouched (`retry-after` included). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * The body: a string is sent as text, a `Uint8Array` as bytes, anything else
   * as JSON (with `content-type: application/json` unless a header sets one).
   * `null` and `undefined` mean no body (use `json` for a JSON `null`).
   * Ignored when `chunks` is set.
   */
  readonly body?: unknown
  /** The body in pieces, for streaming and idle-timeout tests. */
  readonly chunks?: ReadonlyArray<Chunk> | undefined
  /**
   * The wait before each chunk, the first one included (the gap after the
   * headers).
   *
   * @default 0
   */
  readonly chunkDelay?: Duration.Input | undefined
  /**
   * Fail the body with an `ECONNRESET` error after this many bytes: a
   * connection dropped mid-body.
   */
  readonly truncateAfter?: number | undefined
  /**
   * The wait before the response head arrives.
   *
   * @default 0
   */
  readonly delay?: Duration.Input | undefined
}

/**
 * Common error codes for scripted transport faults. Any other code is allowed.
 *
 * @category models
 * @since 0.1.0
 */
export type FaultCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EPIPE"
  | "ENOTFOUND"
  | "EAI_AGAIN"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "UND_ERR_CONNECT_TIMEOUT"
  | "UND_ERR_HEADERS_TIMEOUT"
  | "UND_ERR_BODY_TIMEOUT"
  | "UND_ERR_SOCKET"
  | (string & {})

/**
 * A scripted transport fault: the request fails with `HttpClientError` whose
 * reason is a `TransportError`, with an `Error` carrying `code` as its cause.
 *
 * @category models
 * @since 0.1.0
 */
export interface Fail {
  readonly _tag: "Fail"
  readonly code: FaultCode
  /**
   * Whether the request reached the server before the fault. Shown on the
   * cause as its `syscall`: `"read"` when sent, `"connect"` when not.
   */
  readonly sent: boolean
  /**
   * The wait before the fault.
   *
   * @default 0
   */
  readonly delay?: Duration.Input | undefined
}

/**
 * A request that is never answered. It can be interrupted, so a timeout
 * around it fires (under `TestClock`, once the clock is adjusted).
 *
 * @category models
 * @since 0.1.0
 */
export interface Hang {
  readonly _tag: "Hang"
}

/**
 * What the transport does with one request.
 *
 * @category models
 * @since 0.1.0
 */
export type Reply = Respond | Fail | Hang

/**
 * Which requests a script applies to.
 *
 * @category models
 * @since 0.1.0
 */
export interface Route {
  /**
   * An HTTP method (case-insensitive), or `"*"` for any.
   *
   * @default "*"
   */
  readonly method?: string | undefined
  /** Equal to the URL's pathname (a string), or tested against it (a `RegExp`). */
  readonly path: string | RegExp
}

/**
 * One request the transport received.
 *
 * @category models
 * @since 0.1.0
 */
export interface RecordedCall {
  /** The method, in upper case. */
  readonly method: string
  /** The full URL with its query string, without the fragment. */
  readonly url: string
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  /** The request body as text (bytes decoded as UTF-8), when there is one. */
  readonly body?: string | undefined
  /** When the request arrived, in milliseconds since the epoch, from `Clock`. */
  readonly at: number
}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

const checkStatus = (status: number): void => {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`TestTransport: status must be an integer from 200 to 599, got ${status}`)
  }
}

/**
 * A scripted response. The body (if any) goes in `options.body`, or in
 * `options.chunks` for a streamed one.
 *
 * @category constructors
 * @since 0.1.0
 */
export const respond = (status: number, options?: Omit<Respond, "_tag" | "status">): Respond => {
  checkStatus(status)
  return { ...options, _tag: "Respond", status }
}

/**
 * A scripted response with a JSON body and `content-type: application/json`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const json = (status: number, body: unknown, options?: Omit<Respond, "_tag" | "status" | "body">): Respond => {
  const headers = own(options, "headers")
  return respond(status, {
    ...options,
    headers: Object.keys(headers ?? {}).some((name) => name.toLowerCase() === "content-type")
      ? headers
      : { "content-type": "application/json", ...headers },
    body: JSON.stringify(body)
  })
}

const notSentCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/**
 * A scripted transport fault. `sent` defaults to `false` for the codes that
 * happen while connecting (`ECONNREFUSED`, `ETIMEDOUT`, `ENOTFOUND`,
 * `EAI_AGAIN`, `EHOSTUNREACH`, `ENETUNREACH`, `UND_ERR_CONNECT_TIMEOUT`) and
 * to `true` for every other code.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fail = (
  code: FaultCode,
  options?: { readonly sent?: boolean | undefined; readonly delay?: Duration.Input | undefined }
): Fail => {
  const delay = own(options, "delay")
  return {
    _tag: "Fail",
    code,
    sent: own(options, "sent") ?? !notSentCodes.has(code),
    ...(delay === undefined ? {} : { delay })
  }
}

/**
 * A request that is never answered.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hang: Hang = { _tag: "Hang" }

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * Controls the scripted transport that `layer` provides as
 * `HttpClient.HttpClient`.
 *
 * @category services
 * @since 0.1.0
 */
export class TestTransport extends Context.Service<TestTransport, {
  /** Queues replies for a route; matching requests get them in order, one each. */
  readonly enqueue: (route: Route, ...replies: ReadonlyArray<Reply>) => Effect.Effect<void>
  /** The reply for a route whenever its queue is empty. Replaces an earlier default. */
  readonly setDefault: (route: Route, reply: Reply) => Effect.Effect<void>
  /** Every request received so far, oldest first. */
  readonly calls: Effect.Effect<ReadonlyArray<RecordedCall>>
  /** Forgets every route, queue, default and recorded call. */
  readonly reset: Effect.Effect<void>
}>()("@httpkit/testing/TestTransport") {}

interface Entry {
  readonly method: string
  readonly path: string | RegExp
  readonly key: string
  readonly queue: ReadonlyArray<Reply>
  readonly fallback: Reply | undefined
}

interface State {
  readonly entries: ReadonlyArray<Entry>
  readonly calls: ReadonlyArray<RecordedCall>
}

const emptyState: State = { entries: [], calls: [] }

const routeKey = (route: Route): string => {
  const method = (own(route, "method") ?? "*").toUpperCase()
  return typeof route.path === "string"
    ? `${method} s:${route.path}`
    : `${method} r:${route.path.source}/${route.path.flags}`
}

const updateEntry = (
  state: State,
  route: Route,
  f: (entry: Entry) => Entry
): State => {
  const key = routeKey(route)
  const index = state.entries.findIndex((entry) => entry.key === key)
  if (index >= 0) {
    return { ...state, entries: state.entries.map((entry, i) => i === index ? f(entry) : entry) }
  }
  const fresh: Entry = {
    method: (own(route, "method") ?? "*").toUpperCase(),
    path: route.path,
    key,
    queue: [],
    fallback: undefined
  }
  return { ...state, entries: [...state.entries, f(fresh)] }
}

const matches = (entry: Entry, method: string, pathname: string): boolean => {
  if (entry.method !== "*" && entry.method !== method) return false
  if (typeof entry.path === "string") return entry.path === pathname
  entry.path.lastIndex = 0
  return entry.path.test(pathname)
}

/** Takes the reply for a request and records it, in one step. */
const take = (state: State, call: RecordedCall, pathname: string): [Reply | undefined, State] => {
  const calls = [...state.calls, call]
  const queued = state.entries.findIndex((entry) => entry.queue.length > 0 && matches(entry, call.method, pathname))
  if (queued >= 0) {
    const entry = state.entries[queued]!
    const entries = state.entries.map((e, i) => i === queued ? { ...e, queue: e.queue.slice(1) } : e)
    return [entry.queue[0], { entries, calls }]
  }
  const fallback = state.entries.find((entry) => entry.fallback !== undefined && matches(entry, call.method, pathname))
  return [fallback?.fallback, { ...state, calls }]
}

// -----------------------------------------------------------------------------
// Transport
// -----------------------------------------------------------------------------

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const toBytes = (chunk: Chunk): Uint8Array => typeof chunk === "string" ? encoder.encode(chunk) : chunk

const concatBytes = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Reads the request body as text, the way a transport would send it. */
const bodyText = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<string | undefined, HttpClientError.HttpClientError> => {
  const body: HttpBody.HttpBody = request.body
  const encodeError = (cause: unknown) =>
    new HttpClientError.HttpClientError({ reason: new HttpClientError.EncodeError({ request, cause }) })
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(undefined)
    case "Uint8Array":
      return Effect.succeed(decoder.decode(body.body))
    case "Raw": {
      const raw = body.body
      if (typeof raw === "string") return Effect.succeed(raw)
      if (raw instanceof Uint8Array) return Effect.succeed(decoder.decode(raw))
      if (raw instanceof ArrayBuffer) return Effect.succeed(decoder.decode(raw))
      return Effect.tryPromise({
        try: () => new Response(raw as ConstructorParameters<typeof Response>[0]).text(),
        catch: encodeError
      })
    }
    case "FormData":
      return Effect.tryPromise({ try: () => new Response(body.formData).text(), catch: encodeError })
    case "Stream":
      return body.stream.pipe(
        Stream.runCollect,
        Effect.map((chunks) => decoder.decode(concatBytes(chunks))),
        Effect.mapError(encodeError)
      )
  }
}

const resetError = (): Error =>
  Object.assign(new Error("TestTransport: connection reset mid-body (read ECONNRESET)"), {
    code: "ECONNRESET",
    syscall: "read"
  })

/** Cuts a body at `limit` bytes, then fails the stream with `ECONNRESET`. */
const truncate = (chunks: ReadonlyArray<Uint8Array>, limit: number): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let left = Math.max(0, Math.floor(limit))
  for (const chunk of chunks) {
    if (left <= 0) break
    out.push(chunk.length <= left ? chunk : chunk.subarray(0, left))
    left -= chunk.length
  }
  return out
}

const nullBodyStatuses: ReadonlySet<number> = new Set([204, 205, 304])

const makeResponse = Effect.fnUntraced(function*(request: HttpClientRequest.HttpClientRequest, reply: Respond) {
  // A reply is read by its own keys only: nothing on `Object.prototype` scripts a response (RELIABILITY 10).
  const headers = new globalThis.Headers(own(reply, "headers"))
  const givenChunks = own(reply, "chunks")
  const givenBody = own(reply, "body")
  const truncateAfter = own(reply, "truncateAfter")
  let chunks: ReadonlyArray<Uint8Array> | undefined
  if (givenChunks !== undefined) {
    chunks = givenChunks.map(toBytes)
  } else if (givenBody !== undefined && givenBody !== null) {
    const body = givenBody
    if (typeof body === "string") {
      chunks = [encoder.encode(body)]
      if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8")
    } else if (body instanceof Uint8Array) {
      chunks = [body]
    } else {
      chunks = [encoder.encode(JSON.stringify(body))]
      if (!headers.has("content-type")) headers.set("content-type", "application/json")
    }
  }
  let webBody: ReadableStream<Uint8Array> | null = null
  if (chunks !== undefined && !nullBodyStatuses.has(reply.status)) {
    const chunkDelay = own(reply, "chunkDelay")
    const parts = truncateAfter === undefined ? chunks : truncate(chunks, truncateAfter)
    let stream: Stream.Stream<Uint8Array, Error> = Stream.fromIterable(parts)
    if (chunkDelay !== undefined) stream = Stream.tap(stream, () => Effect.sleep(chunkDelay))
    if (truncateAfter !== undefined) stream = Stream.concat(stream, Stream.fail(resetError()))
    webBody = yield* Stream.toReadableStreamEffect(stream)
  }
  const response = yield* Effect.try({
    try: () => new Response(webBody, { status: reply.status, headers }),
    catch: (cause) => cause
  }).pipe(Effect.orDie)
  return HttpClientResponse.fromWeb(request, response)
})

const faultError = (reply: Fail, url: URL): Error => {
  const syscall = reply.sent ? "read" : "connect"
  const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port
  const where = reply.sent ? "" : ` ${url.hostname}:${port}`
  return Object.assign(new Error(`${syscall} ${reply.code}${where} (scripted by TestTransport)`), {
    code: reply.code,
    syscall
  })
}

const unscripted = (request: HttpClientRequest.HttpClientRequest, call: RecordedCall) =>
  HttpClientResponse.fromWeb(
    request,
    new Response(
      JSON.stringify({
        error: "unscripted",
        message: `TestTransport: no reply scripted for ${call.method} ${call.url}`,
        method: call.method,
        url: call.url
      }),
      { status: 404, headers: { "content-type": "application/json", "x-test-transport": "unscripted" } }
    )
  )

const wait = (delay: Duration.Input | undefined): Effect.Effect<void> =>
  delay === undefined ? Effect.void : Effect.sleep(delay)

const serve = (
  state: Ref.Ref<State>,
  request: HttpClientRequest.HttpClientRequest,
  url: URL
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.gen(function*() {
    const read = yield* Effect.result(bodyText(request))
    const body = read._tag === "Success" ? read.success : undefined
    const at = yield* Clock.currentTimeMillis
    const href = url.href.split("#")[0]!
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
    const call: RecordedCall = {
      method: request.method.toUpperCase(),
      url: href,
      headers,
      ...(body === undefined ? {} : { body }),
      at
    }
    if (read._tag === "Failure") {
      // Recorded like every request, without a body; no reply is used up by a request that was never sent.
      yield* Ref.update(state, (current) => ({ ...current, calls: [...current.calls, call] }))
      return yield* Effect.fail(read.failure)
    }
    const reply = yield* Ref.modify(state, (current) => take(current, call, url.pathname))
    if (reply === undefined) return unscripted(request, call)
    switch (reply._tag) {
      case "Hang":
        return yield* Effect.never
      case "Fail":
        yield* wait(own(reply, "delay"))
        return yield* Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, cause: faultError(reply, url) })
          })
        )
      case "Respond":
        yield* wait(own(reply, "delay"))
        return yield* makeResponse(request, reply)
    }
  })

/**
 * Provides `TestTransport` and an `HttpClient.HttpClient` that answers from
 * its script. Each `[route, ...replies]` of `script` is queued in order, as by
 * `enqueue`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  script: ReadonlyArray<readonly [Route, ...Array<Reply>]> = []
): Layer.Layer<TestTransport | HttpClient.HttpClient> =>
  Layer.effectContext(Effect.gen(function*() {
    const state = yield* Ref.make(emptyState)
    const enqueue = (route: Route, ...replies: ReadonlyArray<Reply>): Effect.Effect<void> =>
      Ref.update(state, (current) =>
        updateEntry(current, route, (entry) => ({ ...entry, queue: [...entry.queue, ...replies] })))
    const setDefault = (route: Route, reply: Reply): Effect.Effect<void> =>
      Ref.update(state, (current) =>
        updateEntry(current, route, (entry) => ({ ...entry, fallback: reply })))
    for (const [route, ...replies] of script) yield* enqueue(route, ...replies)
    const transport = TestTransport.of({
      enqueue,
      setDefault,
      calls: Effect.map(Ref.get(state), (current) => current.calls),
      reset: Ref.set(state, emptyState)
    })
    const client = HttpClient.make((request, url) => serve(state, request, url))
    return Context.make(TestTransport, transport).pipe(Context.add(HttpClient.HttpClient, client))
  }))

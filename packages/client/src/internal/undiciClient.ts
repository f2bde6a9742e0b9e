/**
 * Effect's `HttpClient` over an undici dispatcher, as `NodeHttpClient.makeUndici`
 * builds it, with one difference: reading a response's body runs no fiber.
 *
 * **Details**
 *
 * The client is `HttpClient.make` (Effect's own spans, trace propagation,
 * abort on interruption, and release of unread bodies) around a function
 * that dispatches a request through undici, as Effect's does, with a handler
 * and a body stream of our own (`undiciRequest.ts`, `nodeStream.ts`) where
 * Effect's uses undici's `request` and its own stream adapters: those build
 * Node streams from object literals, which read `signal`, `encoding` and more
 * from a polluted `Object.prototype` (RELIABILITY 10). Effect's undici
 * response memoises `arrayBuffer` with `Effect.cached` run by `Effect.runSync`,
 * a fiber per body read, about 30k machine instructions on a small JSON body:
 * a third of all that a bare `effect/http` GET + `json` costs
 * (bench/client-instructions.ts). This one memoises the body's promise
 * instead, and caches its `Headers` (Effect's copies them on every read).
 *
 * The call's deadlines (`Deadline.CurrentTransportDeadlines`) go into the
 * options under a symbol, for our dispatcher's interceptor. Other
 * per-request undici options still come from `RequestOptions.UndiciOptions`
 * (the key of `@effect/platform-node`'s `NodeHttpClient.UndiciOptions`, so a
 * value set through either is read here), copied first as Effect does, into an object with a null prototype: undici
 * reads many more request options than we set, and none may come from a
 * polluted `Object.prototype`. Connection upgrades (`101`) are not offered:
 * `ResilientClient` has no use for them, and `undiciRequest.ts` refuses them,
 * as undici's `request` does.
 */
import * as Effect from "effect/Effect"
import * as Cookies from "effect/http/Cookies"
import * as Headers from "effect/http/Headers"
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as UrlParams from "effect/http/UrlParams"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import type * as Socket from "effect/socket/Socket"
import type * as Stream from "effect/Stream"
import type * as Undici from "undici"
import { UndiciOptions } from "../RequestOptions.ts"
import * as Deadline from "./deadline.ts"
import * as NodeStream from "./nodeStream.ts"
import * as UndiciParts from "./undiciParts.ts"
import * as UndiciRequest from "./undiciRequest.ts"

/** An Effect `HttpClient` sending every request through `dispatcher`. */
export const make = (dispatcher: Undici.Dispatcher): HttpClient.HttpClient => {
  const { kQueuedAbort } = UndiciParts.load()
  return HttpClient.make((request, url, signal, fiber) => {
    const send = (body: RequestBody, headers: Headers.Headers = request.headers) =>
      Effect.tryPromise({
        try: (): Promise<UndiciRequest.ResponseData> => {
          // A null prototype: undici reads a dozen more options (`query`, `upgrade`, `reset`, `throwOnError`,
          // `dispatcher`...) from this object, and must find none of them on `Object.prototype` (RELIABILITY 10).
          const options: Mutable<UndiciRequest.Options> = Object.create(null)
          Object.assign(options, fiber.getRef(UndiciOptions))
          // The call's deadlines, for the interceptor on our dispatcher (transport.ts).
          const deadlines = fiber.getRef(Deadline.CurrentTransportDeadlines)
          if (deadlines !== undefined) {
            ;(options as { [Deadline.transportKey]?: unknown })[Deadline.transportKey] = deadlines
          }
          options.method = request.method as Undici.Dispatcher.HttpMethod
          options.headers = headers
          options.origin = url.origin
          options.path = url.pathname + url.search
          options.body = body
          // The signal goes to our handler, not to undici (`undiciRequest.ts`).
          delete (options as { signal?: unknown }).signal
          if (http2Unsafe()) (options as { allowH2?: boolean }).allowH2 = false
          return UndiciRequest.request(dispatcher, options, signal, kQueuedAbort)
        },
        catch: (cause) =>
          new HttpClientError.HttpClientError({ reason: new HttpClientError.TransportError({ request, cause }) })
      })
    // The response's URL excludes the hash (the interface says so), as Effect's does.
    const href = url.hash === "" ? url.href : url.href.slice(0, url.href.indexOf("#"))
    const respond = (source: UndiciRequest.ResponseData) => new UndiciResponse(request, source, href)
    const body = request.body
    switch (body._tag) {
      case "Empty":
        return Effect.map(send(null), respond)
      case "Uint8Array":
      case "Raw":
        return Effect.map(send(body.body as RequestBody), respond)
      case "Stream":
        return Effect.flatMap(NodeStream.toReadable(body.stream), (readable) => Effect.map(send(readable), respond))
      case "FormData":
        // undici writes the multipart content type with its boundary; a caller's own would lack it.
        return Effect.flatMap(
          undiciFormData(body),
          (formData) => Effect.map(send(formData, Headers.remove(request.headers, "content-type")), respond)
        )
    }
  })
}

/** undici sends only a `FormData` of its own, not the web one. */
const undiciFormData = (body: HttpBody.FormData) =>
  Effect.map(
    Effect.promise(() => import("undici")),
    (undici) => {
      const converted = new undici.FormData()
      for (const [name, value] of body.formData) converted.append(name, value)
      return converted as unknown as RequestBody
    }
  )

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * The names that break Node's HTTP/2 client when they are on a polluted
 * `Object.prototype`, where HTTP/1.1 works: events a stream or session keeps
 * in an object literal of listeners (adding or emitting one throws inside
 * undici, and may crash the process), the options Node reads from the object
 * literals it makes each stream and session with, the settings it reads from
 * its own defaults, and `undefined` (Node 24 reads a symbol it does not define
 * from each socket bound to a session).
 */
const http2Hazards: ReadonlyArray<string> = [
  "aborted",
  "continue",
  "enableConnectProtocol",
  "frameError",
  "headers",
  "highWaterMark",
  "maxConcurrentStreams",
  "maxHeaderSize",
  "newListener",
  "pause",
  "pipe",
  "readableHighWaterMark",
  "ready",
  "removeListener",
  "response",
  "resume",
  "signal",
  "timeout",
  "trailers",
  "undefined",
  "unpipe",
  "writableHighWaterMark"
]

/**
 * Whether some other code set one of `http2Hazards` on `Object.prototype`;
 * such a request is sent over HTTP/1.1 (`allowH2: false`, which undici routes
 * to a pool of its own) rather than fail or crash the process.
 */
const http2Unsafe = (): boolean => {
  for (let i = 0; i < http2Hazards.length; i++) {
    if (Object.hasOwn(Object.prototype, http2Hazards[i]!)) return true
  }
  return false
}

/** What undici's `request` sends as a body. */
type RequestBody = NonNullable<Undici.Dispatcher.DispatchOptions["body"]> | null

const decoder = new TextDecoder()

/** A response from undici: status and headers at once, the body read on demand, at most once from the socket. */
class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: typeof HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: typeof HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly source: UndiciRequest.ResponseData
  #headers: Headers.Headers | undefined = undefined
  #cookies: Cookies.Cookies | undefined = undefined
  #body: Promise<ArrayBuffer> | undefined = undefined
  constructor(request: HttpClientRequest.HttpClientRequest, source: UndiciRequest.ResponseData, url: string) {
    super()
    this.request = request
    this.source = source
    this.url = url
  }
  get status(): number {
    return this.source.statusCode
  }
  get headers(): Headers.Headers {
    return this.#headers ??= Headers.fromInput(this.source.headers as Headers.Input)
  }
  get cookies(): Cookies.Cookies {
    if (this.#cookies === undefined) {
      const header = this.source.headers["set-cookie"]
      this.#cookies = header === undefined ? Cookies.empty : Cookies.fromSetCookie(header)
    }
    return this.#cookies
  }
  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }
  #decodeError = (cause: unknown) =>
    new HttpClientError.HttpClientError({
      reason: new HttpClientError.DecodeError({ request: this.request, response: this, cause })
    })
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.HttpClientError> {
    return Effect.tryPromise({ try: () => this.#body ??= this.source.body.arrayBuffer(), catch: this.#decodeError })
  }
  get text(): Effect.Effect<string, HttpClientError.HttpClientError> {
    return Effect.map(this.arrayBuffer, (bytes) => decoder.decode(bytes))
  }
  get json(): Effect.Effect<Schema.Json, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => (text === "" ? null : JSON.parse(text)) as Schema.Json,
        catch: this.#decodeError
      }))
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.try({
        // A leading "?" is form data, not a query prefix.
        try: () => UrlParams.fromInput(new URLSearchParams(decoder.decode(bytes).replace(/^\?/, "%3F"))),
        catch: this.#decodeError
      }))
  }
  get formData(): Effect.Effect<FormData, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: this.headers as Record<string, string> }).formData(),
        catch: this.#decodeError
      }))
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.HttpClientError> {
    return NodeStream.fromReadable(() => this.source.body, this.#decodeError)
  }
  get upgrade(): Effect.Effect<Socket.Socket, HttpClientError.HttpClientError> {
    // undici's `request` never yields a 101, so this is always a refusal, as the interface says.
    return Effect.fail(
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.StatusCodeError({ request: this.request, response: this })
      })
    )
  }
  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "effect/http/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

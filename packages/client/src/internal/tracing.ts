/**
 * The spans of a call, after OpenTelemetry's HTTP client conventions: one
 * span for the logical call (`HTTP GET`, kind internal, a child of the
 * caller's span) and under it one client span per request sent (`GET`: each
 * attempt, and each redirect hop of an attempt), with `traceparent` and `b3`
 * on that request naming its client span. The call's rate-limit waits,
 * retries, token refreshes and circuit rejections are events on the call's
 * span.
 *
 * **Details**
 *
 * Effect's `HttpClient` makes a client span per request too, but it ends it
 * when the response head arrives and cannot know what the client knows: which
 * attempt a request is (`http.request.resend_count`), or which deadline cut a
 * failed one short (`error.type`). So the client makes its own, and turns
 * Effect's off for exactly the request the call is sending (the call's
 * `HttpClient.TracerDisabledWhen` matches it by identity), writing the
 * propagation headers itself, as `HttpTraceContext.toHeaders` writes them. A
 * request that other code sends inside a call (a rate limiter's own) keeps
 * Effect's span, a child of the call's.
 *
 * What a span is made with (the tracer, the parent, sampling, the clock) is
 * read from the caller's context once per distinct context, as Effect's
 * `makeSpanUnsafe` reads it per span. Under Effect's `nativeTracer` (no
 * tracing backend installed) spans are still made, for their ids, which
 * `traceparent` carries; but nothing only a backend could see is recorded:
 * no attribute, event or timestamp (as `nativeTracer`'s documentation
 * suggests). Nothing here runs when tracing is off:
 * the client option `tracing: false`, a call's `tracing: false`, or a fiber
 * whose `References.TracerEnabled` is false.
 *
 * **Gotchas**
 *
 * No header is recorded unless `HttpClient.TracerHeaderFilter` is provided,
 * and then a secret header's value (the client's secret names and the auth
 * provider's) is recorded as `REDACTED`. `url.full` has its user-info and the
 * values of secret query parameters replaced by `REDACTED`.
 */
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import * as Redact from "../Redact.ts"
import { findFailure, Unauthorized } from "./outcome.ts"

/** The methods OpenTelemetry knows; any other is recorded as `_OTHER`, with the method in `http.request.method_original`. */
const knownMethods: ReadonlySet<string> = new Set([
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "QUERY",
  "TRACE"
])

const defaultPorts: Readonly<Record<string, number>> = { "http:": 80, "https:": 443 }

/** The tags of the errors made from a status (`ClientError.fromStatus`): their `error.type` is the status. */
const statusErrorTags: ReadonlySet<string> = new Set([
  "AuthenticationError",
  "NotFoundError",
  "ServerTimeoutError",
  "RateLimitedError",
  "ServiceUnavailableError",
  "ServerError",
  "ClientStatusError"
])

const bigint0 = BigInt(0)

/**
 * `url.full` as OpenTelemetry asks for it: user-info as `REDACTED:REDACTED`,
 * no fragment, and what `Redact.url` redacts for logs and errors redacted
 * here too (secret query and path parameters, URLs nested in query values;
 * OpenTelemetry's own list is part of it): one rule for every place a URL
 * is shown, where Effect's `UrlParams.redactUrl` missed `?a=1;token=x` and
 * nested URLs.
 */
export const fullUrl = (url: URL): string => {
  const redacted = Redact.url(url)
  const shown = URL.parse(redacted)
  // A URL without a host comes back as text, already cut before its query and user-info.
  if (shown === null) return redacted
  if (url.username !== "" || url.password !== "") {
    shown.username = Redact.redacted
    shown.password = Redact.redacted
  }
  return shown.href
}

/** `server.address`: the URL's host, without IPv6 brackets. */
const addressOf = (url: URL): string => {
  const host = url.hostname
  return host.startsWith("[") ? host.slice(1, -1) : host
}

/** `server.port`: the URL's port, or its scheme's. */
const portOf = (url: URL): number | undefined => url.port === "" ? defaultPorts[url.protocol] : Number(url.port)

/** The `error.type` of a failure: the status for an error made from one, otherwise the error's tag. */
export const errorType = (error: unknown): string => {
  const tag = (error as { readonly _tag?: unknown } | undefined)?._tag
  if (typeof tag !== "string") return "_OTHER"
  const status = (error as { readonly status?: unknown }).status
  return statusErrorTags.has(tag) && typeof status === "number" ? String(status) : tag
}

/** A caller's span that its children may name as parent: itself, or its nearest ancestor that propagates. */
const propagatingParent = (span: Tracer.AnySpan | undefined): Tracer.AnySpan | undefined => {
  let current = span
  while (current !== undefined) {
    if (!Context.get(current.annotations, Tracer.DisablePropagation)) return current
    current = current._tag === "Span" ? Option.getOrUndefined(current.parent) : undefined
  }
  return undefined
}

/**
 * What the spans of calls made in one fiber context are made with, read
 * once per context (the same references Effect's `makeSpanUnsafe` reads per
 * span, and those `HttpClient` reads per request).
 */
export class Setup {
  readonly tracer: Tracer.Tracer
  readonly clock: Clock.Clock
  /**
   * Whether spans are recorded (attributes, events, times): false under
   * Effect's `nativeTracer`, which keeps spans nowhere.
   */
  readonly records: boolean
  readonly timing: boolean
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly sampled: boolean
  readonly annotations: Readonly<Record<string, unknown>>
  readonly links: ReadonlyArray<Tracer.SpanLink>
  /** Whether requests carry `traceparent` and `b3`. */
  readonly propagate: boolean
  /** `HttpClient.SpanNameGenerator`, when the caller provided one. */
  readonly spanName: ((request: HttpClientRequest.HttpClientRequest) => string) | undefined
  /** The caller's own `HttpClient.TracerDisabledWhen`: a request it matches gets no span. */
  readonly skip: ((request: HttpClientRequest.HttpClientRequest) => boolean) | undefined
  /** `HttpClient.TracerHeaderFilter`, when the caller provided one. */
  readonly headerFilter: ((name: string, phase: "request" | "response") => boolean) | undefined

  constructor(context: Context.Context<never>, clock: Clock.Clock, propagate: boolean) {
    this.tracer = Context.get(context, Tracer.Tracer)
    this.clock = clock
    this.records = this.tracer !== Tracer.nativeTracer
    this.timing = this.records && Context.get(context, References.TracerTimingEnabled)
    const parent = propagatingParent(Context.getOrUndefined(context, Tracer.ParentSpan))
    this.parent = parent === undefined ? Option.none() : Option.some(parent)
    this.sampled = parent?.sampled === false
      ? false
      : !LogLevel.isGreaterThan(
        Context.get(context, Tracer.MinimumTraceLevel),
        Context.get(context, Tracer.CurrentTraceLevel)
      )
    this.annotations = Context.get(context, References.TracerSpanAnnotations)
    this.links = Context.get(context, References.TracerSpanLinks)
    this.propagate = propagate && Context.get(context, HttpClient.TracerPropagationEnabled)
    this.spanName = Context.getOrUndefined(context, HttpClient.SpanNameGenerator)
    this.skip = callerPredicate(context)
    this.headerFilter = Context.getOrUndefined(context, HttpClient.TracerHeaderFilter)
  }

  /** The clock's reading for a span's start, end or event: zero when span timing is off. */
  now(): bigint {
    return this.timing ? this.clock.currentTimeNanosUnsafe() : bigint0
  }

  /** A span as Effect's `makeSpanUnsafe` makes one, the context's annotations and links included. */
  start(name: string, kind: Tracer.SpanKind, parent: Option.Option<Tracer.AnySpan>, sampled: boolean): Tracer.Span {
    const span = this.tracer.span({
      name,
      parent,
      annotations: Context.empty(),
      links: this.links.length === 0 || !this.records ? [] : this.links.slice(),
      startTime: this.now(),
      kind,
      root: false,
      sampled
    })
    // Own keys only: `for...in` over Effect's default annotations (`{}`) would add a polluted name (RELIABILITY 10).
    if (this.records) { for (const key of Object.keys(this.annotations)) span.attribute(key, this.annotations[key]) }
    return span
  }
}

/**
 * Whether spans are made in `context` at all: `References.TracerEnabled`,
 * and no `Tracer.DisablePropagation` (which `HttpClient` reads as off too).
 */
export const traces = (context: Context.Context<never>): boolean =>
  Context.get(context, References.TracerEnabled) && !Context.get(context, Tracer.DisablePropagation)

type RequestPredicate = (request: HttpClientRequest.HttpClientRequest) => boolean

/** The `HttpClient.TracerDisabledWhen` of a call that is not traced: no request sent inside it gets a span either. */
const untraced: RequestPredicate = () => true

/** The caller's own `HttpClient.TracerDisabledWhen` in `context`, not the one of an untraced call around it. */
const callerPredicate = (context: Context.Context<never>): RequestPredicate | undefined => {
  const predicate = Context.getOrUndefined(context, HttpClient.TracerDisabledWhen)
  return predicate === untraced ? undefined : predicate
}

/**
 * The context of calls that are not traced: Effect's client spans off for
 * every request sent inside them. Kept for the last context seen (each
 * `Context.add` copies).
 */
export class Untraced {
  #base: Context.Context<never> | undefined = undefined
  #context: Context.Context<never> | undefined = undefined

  contextFor(base: Context.Context<never>): Context.Context<never> {
    if (base !== this.#base) {
      this.#context = Context.add(base, HttpClient.TracerDisabledWhen, untraced)
      this.#base = base
    }
    return this.#context!
  }
}

/** The prototype of Effect's `Headers`: a traced request's headers are built on it directly. */
const headersProto: object = Object.getPrototypeOf(Headers.empty)

/**
 * `request` with `traceparent` (W3C) and `b3` naming `span`, whose parent is
 * `parentId`, written as `HttpTraceContext.toHeaders` writes them (the tests
 * compare the two). Not through it: its `Object.setPrototypeOf` on a fresh
 * object, and `HttpClientRequest.setHeaders`' two copies, were a third of
 * what a traced request cost.
 */
const withTraceHeaders = (
  request: HttpClientRequest.HttpClientRequest,
  span: Tracer.Span,
  parentId: string
): HttpClientRequest.HttpClientRequest => {
  const traceId = span.traceId
  const spanId = span.spanId
  const headers = Object.assign(Object.create(headersProto), request.headers) as Record<string, string>
  headers["b3"] = `${traceId}-${spanId}-${span.sampled ? "1" : "0"}-${parentId}`
  headers["traceparent"] = `00-${traceId.padStart(32, "0")}-${spanId}-${span.sampled ? "01" : "00"}`
  return HttpClientRequest.makeWith(
    request.method,
    request.url,
    request.urlParams,
    request.hash,
    headers as unknown as Headers.Headers,
    request.body
  )
}

/** Whether a header is a secret, as the client's redaction decides (its names and the auth provider's). */
export type IsSecret = (name: string) => boolean

/** The name of a request's span: its method when OpenTelemetry knows it, else `HTTP`. */
const methodName = (method: string): string => knownMethods.has(method) ? method : "HTTP"

/** The names of calls' spans by method, made once. */
const callNames = new Map([...knownMethods].map((method) => [method, `HTTP ${method}`]))

/** The name of a call's span: `HTTP GET`, or `HTTP` for a method OpenTelemetry does not know. */
const callName = (method: string): string => callNames.get(method) ?? "HTTP"

const addMethod = (span: Tracer.Span, method: string): void => {
  if (knownMethods.has(method)) {
    span.attribute("http.request.method", method)
  } else {
    span.attribute("http.request.method", "_OTHER")
    span.attribute("http.request.method_original", method)
  }
}

/** The spans of one call: its own, and the client span of the request in flight. */
export class CallTrace {
  readonly setup: Setup
  readonly span: Tracer.Span
  readonly #parent: Option.Option<Tracer.AnySpan>
  readonly #isSecret: IsSecret
  readonly #url: URL
  readonly #urlFull: string
  readonly #address: string
  readonly #port: number | undefined
  /** The request being sent: Effect's `HttpClient` makes no span of its own for it. */
  #sending: HttpClientRequest.HttpClientRequest | undefined = undefined
  /**
   * The call's `HttpClient.TracerDisabledWhen`: true for the request the call
   * is sending (its span is the call's own), and as the caller's own
   * predicate says for any other request sent inside the call.
   */
  readonly disabledWhen: RequestPredicate
  /** Requests sent so far (attempts and redirect hops): the next one's `http.request.resend_count`. */
  sends = 0
  /** The client span of the request in flight, until its attempt ends or its redirect is followed. */
  hop: Tracer.Span | undefined = undefined
  /** The status of the hop's response, once it came. */
  hopStatus: number | undefined = undefined

  constructor(setup: Setup, client: string, method: string, url: URL, isSecret: IsSecret) {
    this.setup = setup
    this.#isSecret = isSecret
    this.#url = url
    // Read for attributes only: not at all when nothing is recorded.
    this.#urlFull = setup.records ? fullUrl(url) : ""
    this.#address = setup.records ? addressOf(url) : ""
    this.#port = setup.records ? portOf(url) : undefined
    const span = setup.start(callName(method), "internal", setup.parent, setup.sampled)
    if (setup.records) {
      addMethod(span, method)
      span.attribute("url.full", this.#urlFull)
      this.#addServer(span, url)
      span.attribute("httpkit.client.name", client)
    }
    this.span = span
    this.#parent = Option.some(span)
    const skip = setup.skip
    this.disabledWhen = skip === undefined
      ? (request) => request === this.#sending
      : (request) => request === this.#sending || skip(request)
  }

  /**
   * Starts the client span of a request about to be sent to `url`, and
   * returns the request to send: with `traceparent` and `b3` naming that
   * span, when the call propagates. A request the caller's
   * `TracerDisabledWhen` matches gets no span, and is sent as it is.
   */
  send(request: HttpClientRequest.HttpClientRequest, url: URL): HttpClientRequest.HttpClientRequest {
    const resends = this.sends++
    if (this.hop !== undefined) this.endHop(Exit.void)
    const setup = this.setup
    if (setup.skip !== undefined && setup.skip(request)) {
      this.#sending = request
      return request
    }
    const method = request.method
    const span = setup.start(
      setup.spanName === undefined ? methodName(method) : setup.spanName(request),
      "client",
      this.#parent,
      this.span.sampled
    )
    if (setup.records) {
      addMethod(span, method)
      span.attribute("url.full", url === this.#url ? this.#urlFull : fullUrl(url))
      this.#addServer(span, url)
      if (resends > 0) span.attribute("http.request.resend_count", resends)
      if (setup.headerFilter !== undefined) this.#headers(span, "request", request.headers)
    }
    this.hop = span
    this.hopStatus = undefined
    const sent = setup.propagate ? withTraceHeaders(request, span, this.span.spanId) : request
    this.#sending = sent
    return sent
  }

  /** `server.address` and `server.port` of `url`, read once for the call's own URL. */
  #addServer(span: Tracer.Span, url: URL): void {
    const same = url === this.#url
    span.attribute("server.address", same ? this.#address : addressOf(url))
    const port = same ? this.#port : portOf(url)
    if (port !== undefined) span.attribute("server.port", port)
  }

  /** The response of the request in flight: its status (an error's when 4xx or 5xx, as OpenTelemetry has it). */
  received(status: number, headers: Headers.Headers): void {
    const span = this.hop
    if (span === undefined) return
    this.hopStatus = status
    if (!this.setup.records) return
    span.attribute("http.response.status_code", status)
    if (status >= 400) span.attribute("error.type", String(status))
    if (this.setup.headerFilter !== undefined) this.#headers(span, "response", headers)
  }

  /**
   * Ends the client span of the request in flight with `exit`: a failure
   * without a status gets its tag as `error.type` (and a timeout its phase);
   * a 4xx or 5xx response ends it as an error even when the call accepted it
   * (`failed` makes that error).
   */
  endHop(exit: Exit.Exit<unknown, unknown>, failed?: (status: number) => unknown): void {
    const span = this.hop
    if (span === undefined) return
    this.hop = undefined
    if (!this.setup.records) return span.end(bigint0, exit)
    let ended = exit
    if (exit._tag === "Failure") {
      const error = failureOf(exit)
      if (error !== undefined) {
        if (this.hopStatus === undefined) {
          span.attribute("error.type", errorType(error))
          const phase = (error as { readonly phase?: unknown }).phase
          if (typeof phase === "string") span.attribute("httpkit.timeout.phase", phase)
        }
        ended = Exit.fail(error)
      }
    } else if (this.hopStatus !== undefined && this.hopStatus >= 400 && failed !== undefined) {
      ended = Exit.fail(failed(this.hopStatus))
    }
    span.end(this.setup.now(), ended)
  }

  /** Ends the call's span with its exit, its final status and how many requests were resent. */
  end(exit: Exit.Exit<unknown, unknown>, status: number | undefined): void {
    if (this.hop !== undefined) this.endHop(exit)
    const span = this.span
    if (!this.setup.records) return span.end(bigint0, exit)
    if (status !== undefined) span.attribute("http.response.status_code", status)
    if (this.sends > 1) span.attribute("http.request.resend_count", this.sends - 1)
    let ended = exit
    if (exit._tag === "Failure") {
      const error = failureOf(exit)
      if (error !== undefined) {
        span.attribute("error.type", errorType(error))
        if ((error as { readonly _tag?: unknown })._tag === "CircuitOpenError") this.#circuitRejected(error)
        ended = Exit.fail(error)
      }
    }
    span.end(this.setup.now(), ended)
  }

  /** The limiter held attempt `attempt` for `waitMillis` before letting it through. */
  rateLimitWait(attempt: number, waitMillis: number): void {
    if (this.setup.records) {
      this.span.event("httpkit.rate_limit.wait", this.setup.now(), {
        "httpkit.attempt": attempt,
        "httpkit.rate_limit.wait_ms": waitMillis
      })
    }
  }

  /** Attempt `attempt` failed with `reason` (an error's tag); the next starts after `delayMillis`. */
  retry(attempt: number, reason: string, delayMillis: number): void {
    if (this.setup.records) {
      this.span.event("httpkit.retry", this.setup.now(), {
        "httpkit.attempt": attempt,
        "httpkit.retry.reason": reason,
        "httpkit.retry.delay_ms": delayMillis
      })
    }
  }

  /** A 401 on attempt `attempt` made the auth provider refresh its credentials (`refreshed`: with new ones). */
  tokenRefresh(attempt: number, refreshed: boolean): void {
    if (this.setup.records) {
      this.span.event("httpkit.auth.refresh", this.setup.now(), {
        "httpkit.attempt": attempt,
        "httpkit.auth.refreshed": refreshed
      })
    }
  }

  #circuitRejected(error: unknown): void {
    const { key, retryAfterMillis } = error as { readonly key?: unknown; readonly retryAfterMillis?: unknown }
    const attributes: Record<string, unknown> = { "httpkit.circuit.key": key }
    if (typeof retryAfterMillis === "number") attributes["httpkit.circuit.retry_after_ms"] = retryAfterMillis
    if (this.setup.records) this.span.event("httpkit.circuit.rejected", this.setup.now(), attributes)
  }

  #headers(span: Tracer.Span, phase: "request" | "response", headers: Headers.Headers): void {
    const filter = this.setup.headerFilter!
    for (const name in headers) {
      if (!filter(name, phase)) continue
      // A URL-valued header (`Location`, `Link`...) may carry user-info or a token: its URLs are redacted.
      const value = this.#isSecret(name) ? Redact.redacted : Redact.headerValue(name, headers[name]!)
      span.attribute(`http.${phase}.header.${name}`, value)
    }
  }
}

/**
 * A call refused before anything was sent (`InvalidRequestError`): a span
 * of its own, started and ended at once.
 */
export const refused = (
  setup: Setup,
  client: string,
  method: string,
  url: URL | undefined,
  error: { readonly _tag: string }
): void => {
  if (!setup.records) return
  const span = setup.start(callName(method), "internal", setup.parent, setup.sampled)
  addMethod(span, method)
  if (url !== undefined) {
    span.attribute("url.full", fullUrl(url))
    span.attribute("server.address", addressOf(url))
    const port = portOf(url)
    if (port !== undefined) span.attribute("server.port", port)
  }
  span.attribute("httpkit.client.name", client)
  span.attribute("error.type", error._tag)
  span.end(setup.now(), Exit.fail(error))
}

/**
 * The failure of an exit, as a span shows it: the client's error (the 401
 * inside the pipeline's `Unauthorized` too), or undefined for a defect or an
 * interruption.
 */
const failureOf = (exit: Exit.Failure<unknown, unknown>): unknown => {
  const error = findFailure(exit.cause)
  return error instanceof Unauthorized ? error.error : error
}

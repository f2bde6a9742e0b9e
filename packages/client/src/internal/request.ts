/**
 * The request of a call, built once before its first attempt: the absolute
 * URL (base URL, query, no fragment), the headers (defaults, then the
 * caller's, checked), the request id and idempotency key, and the body (with
 * where a resend gets it again). Anything unsafe or malformed refuses the
 * call with `InvalidRequestError` before a byte is sent.
 */
import * as Headers from "effect/http/Headers"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as UrlParams from "effect/http/UrlParams"
import * as Option from "effect/Option"
import * as ClientConfig from "../ClientConfig.ts"
import { InvalidRequestError } from "../ClientError.ts"
import * as Redact from "../Redact.ts"
import type { RequestOptions } from "../RequestOptions.ts"
import type { ClientState } from "./env.ts"
import { callContext, type ErrorContext } from "./failure.ts"
import { headerProblem, invalidValue, invalidValueText, plainHeaders, token } from "./headerSyntax.ts"
import { own } from "./own.ts"
import * as ReplayBody from "./replayBody.ts"
import * as UserInfo from "./userInfo.ts"

/** A call's request, ready for its first attempt. */
export interface Request {
  readonly _tag: "Request"
  readonly method: string
  readonly url: URL
  readonly requestId: string
  readonly context: ErrorContext
  /** The merged headers (lower-case names), as in `base`. */
  readonly headers: Record<string, string>
  /** The caller's own headers, as given. */
  readonly ownHeaders: Readonly<Record<string, string>> | undefined
  readonly idempotencyKey: string | undefined
  readonly base: HttpClientRequest.HttpClientRequest
  /** Where a resend gets its body, when the body is not a value every send can reuse (RELIABILITY 20). */
  readonly bodySource: ReplayBody.Source | undefined
  /** The call's own timeouts and attempts, checked; undefined when it sets neither. */
  readonly overrides: ClientConfig.CallOverrides | undefined
}

/** A call refused before anything was sent; `url` when the URL itself was valid. */
export interface Refused {
  readonly _tag: "Refused"
  readonly error: InvalidRequestError
  readonly url: URL | undefined
}

/** Builds the absolute URL of a call, or explains why it cannot. */
export const buildUrl = (
  base: string | undefined,
  input: string | URL,
  query: RequestOptions["query"]
): URL | string => {
  let url: URL
  const relative = typeof input === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(input)
  if (relative && base === undefined) {
    return "the URL is relative and the client has no baseUrl: set baseUrl (HTTPKIT_BASE_URL) or pass an absolute URL"
  }
  try {
    url = typeof input === "string"
      ? (base !== undefined && relative
        ? new URL(base + (input.startsWith("/") ? input : `/${input}`))
        : new URL(input))
      : new URL(input.href)
  } catch {
    return "the URL is not valid"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `the scheme ${url.protocol} is not http or https`
  if (query !== undefined) {
    for (const [name, value] of Object.entries(query)) {
      if (Array.isArray(value)) { for (const item of value) url.searchParams.append(name, String(item)) }
      else url.searchParams.append(name, String(value))
    }
  }
  if (url.hash !== "") url.hash = ""
  return url
}

/** The methods every call uses, accepted without a look at their characters. */
const knownMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

/** The prototype of Effect's `Headers`: a request's headers are built on it directly, already lower-case. */
const headersProto: object = Object.getPrototypeOf(Headers.empty)

const refused = (url: URL | undefined, context: ErrorContext, detail: string): Refused => ({
  _tag: "Refused",
  url,
  error: new InvalidRequestError({ ...context, retryable: false, detail })
})

/**
 * The request of a call to `input` with `call`'s options (read by their own
 * keys only: a polluted `Object.prototype` changes no request), or why it
 * is refused.
 */
export const build = (
  state: ClientState,
  method: string,
  input: string | URL,
  call: RequestOptions
): Request | Refused => {
  const { options } = state
  const givenRequestId = own(call, "requestId")
  const requestId = givenRequestId ?? crypto.randomUUID()
  if (!knownMethods.has(method) && !token.test(method)) {
    // Shown escaped: a method with CR LF must not put them into a message or a log line.
    const shown = JSON.stringify(method.slice(0, 32)).slice(1, -1)
    const shownId = givenRequestId === undefined ? requestId : JSON.stringify(requestId.slice(0, 64)).slice(1, -1)
    return refused(
      undefined,
      { method: shown, url: Redact.url(String(input)), requestId: shownId },
      `the method "${shown}" is not an HTTP token`
    )
  }
  const built = buildUrl(options.baseUrl, input, own(call, "query"))
  if (typeof built === "string") {
    return refused(undefined, { method, url: Redact.url(String(input)), requestId }, built)
  }
  const url = built
  // User-info is never sent in the URL: as curl, requests and got do, it becomes `Authorization: Basic`, unless
  // the call or the client has credentials of its own (below). The URL loses it either way.
  const basic = UserInfo.take(url)
  // The URL as errors and log lines show it: the URL itself when it holds no secret, else redacted on first use.
  const context = callContext(method, url, requestId)

  // Headers: defaults, then the caller's (which win); refused if unsafe.
  let headers: Record<string, string>
  const ownHeaders = own(call, "headers")
  const inPlace = state.defaultsProblem === undefined && (ownHeaders === undefined || plainHeaders(ownHeaders))
  if (inPlace) {
    headers = Object.assign(Object.create(headersProto), state.defaultHeaders)
    if (ownHeaders !== undefined) {
      for (const name of Object.keys(ownHeaders)) headers[name.toLowerCase()] = ownHeaders[name]!
    }
  } else {
    headers = Object.assign(Object.create(null), state.defaultHeaders)
    for (const [name, value] of Object.entries(ownHeaders ?? {})) headers[name.toLowerCase()] = value
    const problem = headerProblem(headers)
    if (problem !== undefined) return refused(url, context, problem)
  }
  if (givenRequestId !== undefined && (typeof requestId !== "string" || invalidValue.test(requestId))) {
    const shown = { ...context, requestId: JSON.stringify(String(requestId).slice(0, 64)).slice(1, -1) }
    return refused(url, shown, `the request id has ${invalidValueText}`)
  }
  const tokens = own(own(call, "rateLimit"), "tokens")
  if (tokens !== undefined && !(Number.isFinite(tokens) && tokens >= 0)) {
    return refused(url, context, `rateLimit.tokens must be a finite number of at least 0, not ${String(tokens)}`)
  }
  // The call's own timeouts and attempts: the same field schemas as the client's options, the same messages.
  let overrides: ClientConfig.CallOverrides | undefined
  const timeoutOption = own(call, "timeout")
  const retryOption = own(call, "retry")
  if (timeoutOption !== undefined || (retryOption !== undefined && retryOption !== false)) {
    const checked = ClientConfig.resolveCall(timeoutOption, retryOption)
    if ("problem" in checked) return refused(url, context, checked.problem)
    overrides = checked
  }
  if (basic !== undefined && headers["authorization"] === undefined && state.env.auth === undefined) {
    headers["authorization"] = basic
  }
  headers[state.requestIdHeader] = requestId
  const givenKey = own(call, "idempotencyKey")
  const wantsKey = givenKey === true ||
    (givenKey === undefined && options.retry.idempotencyKeys && (method === "POST" || method === "PATCH"))
  const idempotencyKey = typeof givenKey === "string"
    ? givenKey
    : wantsKey
    ? crypto.randomUUID()
    : undefined
  if (idempotencyKey !== undefined) {
    if (typeof idempotencyKey !== "string" || invalidValue.test(idempotencyKey)) {
      return refused(url, context, `the idempotency key has ${invalidValueText}`)
    }
    // A blank key gives a server nothing to deduplicate on: it must not make a POST retryable (RELIABILITY 14).
    if (idempotencyKey.trim() === "") {
      return refused(url, context, "the idempotency key is empty or blank: pass a non-blank key or true")
    }
    headers[state.idempotencyKeyHeader] = idempotencyKey
  }

  // The request as Effect's own constructor would make it, without its copies: a URL with a query goes
  // through `setUrl`, which moves the query into `urlParams` (so the query is encoded as before).
  let base: HttpClientRequest.HttpClientRequest
  if (inPlace) {
    base = HttpClientRequest.makeWith(
      method,
      url.search === "" ? url.href : "",
      UrlParams.empty,
      Option.none(),
      headers as unknown as Headers.Headers,
      HttpClientRequest.empty.body
    )
    if (url.search !== "") base = HttpClientRequest.setUrl(base, url)
  } else {
    base = HttpClientRequest.make(method as "GET")(url, { headers })
  }
  let bodySource: ReplayBody.Source | undefined
  const json = own(call, "json")
  const body = json === undefined ? own(call, "body") : undefined
  if (json !== undefined) {
    // `JSON.stringify` throws on a BigInt, a cycle or a throwing `toJSON`: a typed refusal, not a defect.
    let text: string | undefined
    try {
      text = JSON.stringify(json)
    } catch (error) {
      const reason = error instanceof Error ? error.name : "an error"
      return refused(url, context, `the json body cannot be serialised (JSON.stringify threw ${reason})`)
    }
    if (text === undefined) return refused(url, context, "the json body serialises to nothing (a function or a symbol)")
    base = HttpClientRequest.bodyText(base, text, "application/json")
  } else if (body !== undefined) {
    const made = ReplayBody.make(body)
    if ("problem" in made) return refused(url, context, made.problem)
    if (ReplayBody.isSource(made)) bodySource = made
    base = HttpClientRequest.setBody(base, ReplayBody.isSource(made) ? made.next() : made.body)
  }
  return {
    _tag: "Request",
    method,
    url,
    requestId,
    context,
    headers,
    ownHeaders,
    idempotencyKey,
    base,
    bodySource,
    overrides
  }
}

/**
 * The one family of typed errors every `ResilientClient` call fails with.
 *
 * Each error is a flat tagged class, so a caller handles one kind with
 * `Effect.catchTag("NotFoundError", ...)` or several with `Effect.catchTags`.
 * Every error names the method and the URL (credentials, user-info and
 * token-like query parameters redacted), the request id sent as
 * `X-Request-ID`, the status where there is one, and whether retrying could
 * help (`retryable`).
 *
 * **Details**
 *
 * Status mapping: 401 and 403 `AuthenticationError`, 404 `NotFoundError`, 400
 * and 422 `InvalidRequestError`, 408 `ServerTimeoutError`, 429
 * `RateLimitedError`, 502, 503 and 504 `ServiceUnavailableError`, other 5xx
 * `ServerError`, other 4xx `ClientStatusError`. Transport failures are
 * `ConnectionError` or `TimeoutError` (with the phase that timed out). The
 * toolkit's own refusals are `BulkheadFullError`, `CircuitOpenError`,
 * `RedirectError`, `BodyNotReplayableError`, `InvalidRequestError` without a
 * status, and, with
 * `@httpkit/rate-limiter`, `RateLimitExceededError` and
 * `RateLimiterUnavailableError`.
 *
 * **Gotchas**
 *
 * Messages, `toJSON` and inspection never contain secrets: URLs are redacted
 * when the error is made, and no header value is kept.
 *
 * @since 0.1.0
 */
import * as Own from "@httpkit/core/Own"
import { RateLimiterUnavailableError, RateLimitExceededError } from "@httpkit/core/RateLimitError"
import * as Schema from "effect/Schema"

export {
  /**
   * The rate limiter's shared store could not be used; defined in
   * `@httpkit/core/RateLimitError`, shared with `@httpkit/rate-limiter`.
   *
   * @category errors
   * @since 0.1.0
   */
  RateLimiterUnavailableError,
  /**
   * The caller's own rate limiter refused the request; defined in
   * `@httpkit/core/RateLimitError`, shared with `@httpkit/rate-limiter`.
   *
   * @category errors
   * @since 0.1.0
   */
  RateLimitExceededError
}

const common = {
  /** The request method. */
  method: Schema.String,
  /** The URL with credentials and token-like query parameters redacted. */
  url: Schema.String,
  /** The `X-Request-ID` every attempt of this call carried. */
  requestId: Schema.optionalKey(Schema.String),
  /** Whether another attempt could succeed. */
  retryable: Schema.Boolean
}

const withStatus = {
  ...common,
  /** The HTTP status the server answered. */
  status: Schema.Number
}

const withRetryAfter = {
  ...withStatus,
  /** The server's `Retry-After`, in milliseconds, when it sent a valid one. */
  retryAfterMillis: Schema.optionalKey(Schema.Number)
}

/** `what: METHOD url (status N)`, the status only when the error owns one (not a polluted prototype's). */
const describe = (
  error: { readonly method: string; readonly url: string; readonly status?: number | undefined },
  what: string
): string => {
  const status = Own.own(error, "status")
  return `${what}: ${error.method} ${error.url}${status === undefined ? "" : ` (status ${status})`}`
}

/** `, retry after N ms` when the error owns a `retryAfterMillis`; nothing otherwise. */
const retryAfter = (error: { readonly retryAfterMillis?: number | undefined }): string => {
  const millis = Own.own(error, "retryAfterMillis")
  return millis === undefined ? "" : `, retry after ${millis} ms`
}

/**
 * The connection failed: refused, reset, DNS, TLS, or closed mid-response.
 * `sent` tells whether the request may have reached the server; a POST
 * without an idempotency key is retried only when it is `false`.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectionError extends Own.fields(
  Schema.TaggedError<ConnectionError>()("ConnectionError", {
    ...common,
    /** Whether the request may have reached the server. */
    sent: Schema.Boolean,
    /** The transport's own description, without secrets. */
    detail: Schema.String
  })
) {
  override get message(): string {
    return `${describe(this, "connection failed")}: ${this.detail}`
  }
}

/**
 * Which deadline expired.
 *
 * @category models
 * @since 0.1.0
 */
export const TimeoutPhase = Schema.Literals(["connect", "headers", "idle", "attempt", "total", "bulkhead"])

/**
 * @category models
 * @since 0.1.0
 */
export type TimeoutPhase = typeof TimeoutPhase.Type

/**
 * A deadline expired: `phase` says which one (`connect`, `headers` = time to
 * the response head, `idle` = between body bytes, `attempt` = one whole
 * attempt, `total` = the call with every retry and wait). `sent: false` when
 * the `attempt` or `total` deadline ended a request that provably never left:
 * it was still waiting for a connection (queued behind other requests, or
 * behind a connect or TLS handshake), so not a byte reached the server.
 *
 * @category errors
 * @since 0.1.0
 */
export class TimeoutError extends Own.fields(
  Schema.TaggedError<TimeoutError>()("TimeoutError", {
    ...common,
    phase: TimeoutPhase,
    /** The deadline that expired, in milliseconds. */
    timeoutMillis: Schema.Number,
    /**
     * `false` when nothing of the request was sent (it waited for a connection); absent when it may have been.
     * A POST or PATCH without an idempotency key is retried after an `attempt` timeout only when it is `false`.
     */
    sent: Schema.optionalKey(Schema.Boolean)
  })
) {
  override get message(): string {
    const unsent = Own.own(this, "sent") === false ? ", before the request was sent" : ""
    return `${describe(this, `${this.phase} timeout after ${this.timeoutMillis} ms${unsent}`)}`
  }
}

/**
 * 401 or 403: the credentials are missing, wrong or not enough.
 *
 * @category errors
 * @since 0.1.0
 */
export class AuthenticationError
  extends Own.fields(Schema.TaggedError<AuthenticationError>()("AuthenticationError", withStatus))
{
  override get message(): string {
    return describe(this, this.status === 403 ? "forbidden" : "unauthorized")
  }
}

/**
 * 404.
 *
 * @category errors
 * @since 0.1.0
 */
export class NotFoundError extends Own.fields(Schema.TaggedError<NotFoundError>()("NotFoundError", withStatus)) {
  override get message(): string {
    return describe(this, "not found")
  }
}

/**
 * 400 or 422 from the server, or (without a status) a request refused before
 * anything was sent, such as a header value with CR, LF or NUL, or a relative
 * URL when the client has no `baseUrl` (`detail` says which).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRequestError extends Own.fields(
  Schema.TaggedError<InvalidRequestError>()("InvalidRequestError", {
    ...common,
    status: Schema.optionalKey(Schema.Number),
    /** Why the request is invalid, without secrets. */
    detail: Schema.String
  })
) {
  override get message(): string {
    return `${describe(this, "invalid request")}: ${this.detail}`
  }
}

/**
 * 408: the server gave up waiting for the request.
 *
 * @category errors
 * @since 0.1.0
 */
export class ServerTimeoutError
  extends Own.fields(Schema.TaggedError<ServerTimeoutError>()("ServerTimeoutError", withRetryAfter))
{
  override get message(): string {
    return describe(this, "the server timed out")
  }
}

/**
 * 429, with the parsed `Retry-After` when the server sent one.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimitedError
  extends Own.fields(Schema.TaggedError<RateLimitedError>()("RateLimitedError", withRetryAfter))
{
  override get message(): string {
    return `${describe(this, "rate limited")}${retryAfter(this)}`
  }
}

/**
 * 502, 503 or 504.
 *
 * @category errors
 * @since 0.1.0
 */
export class ServiceUnavailableError
  extends Own.fields(Schema.TaggedError<ServiceUnavailableError>()("ServiceUnavailableError", withRetryAfter))
{
  override get message(): string {
    return describe(this, "service unavailable")
  }
}

/**
 * Any other 5xx.
 *
 * @category errors
 * @since 0.1.0
 */
export class ServerError extends Own.fields(Schema.TaggedError<ServerError>()("ServerError", withRetryAfter)) {
  override get message(): string {
    return describe(this, this.status > 599 ? "status outside HTTP's 1xx-5xx" : "server error")
  }
}

/**
 * Any other 4xx, and a 3xx the client did not follow (redirects off, or
 * one without a usable `Location`).
 *
 * @category errors
 * @since 0.1.0
 */
export class ClientStatusError
  extends Own.fields(Schema.TaggedError<ClientStatusError>()("ClientStatusError", withStatus))
{
  override get message(): string {
    return describe(this, this.status < 400 ? "redirect not followed" : "request refused")
  }
}

/**
 * Why a bulkhead refused a call: `queue-full` when `bulkhead.maxWaiting` calls
 * were already waiting for a slot (refused at once, without waiting),
 * `wait-timeout` when the call waited for a slot until `bulkhead.acquireTimeout`
 * and none freed.
 *
 * @category models
 * @since 0.1.0
 */
export const BulkheadFullReason = Schema.Literals(["queue-full", "wait-timeout"])

/**
 * @category models
 * @since 0.1.0
 */
export type BulkheadFullReason = typeof BulkheadFullReason.Type

/**
 * The bulkhead refused the call: its queue of calls waiting for a slot was
 * full (`reason: "queue-full"`, refused at once), or no slot freed within its
 * acquisition timeout (`reason: "wait-timeout"`). The request was never sent
 * and does not count against the remote service.
 *
 * @category errors
 * @since 0.1.0
 */
export class BulkheadFullError extends Own.fields(
  Schema.TaggedError<BulkheadFullError>()("BulkheadFullError", {
    ...common,
    /** Why the call was refused: its queue was full, or its wait for a slot ran out. */
    reason: BulkheadFullReason,
    /** The bulkhead's size. */
    maxConcurrency: Schema.Number,
    /** How long the call waited for a slot, in milliseconds. */
    waitedMillis: Schema.Number,
    /**
     * When to try again, in milliseconds from when the error was made: how long recent calls held a slot, less
     * how long the oldest call in flight has run, at least 1; absent until the bulkhead has seen a call end.
     */
    retryAfterMillis: Schema.optionalKey(Schema.Number)
  })
) {
  override get message(): string {
    const held = `${this.maxConcurrency} in flight, waited ${this.waitedMillis} ms`
    return `${describe(this, `bulkhead full (${this.reason})`)}: ${held}${retryAfter(this)}`
  }
}

/**
 * The circuit for this host is open: the request was not sent.
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitOpenError extends Own.fields(
  Schema.TaggedError<CircuitOpenError>()("CircuitOpenError", {
    ...common,
    /** The breaker's key (by default the origin). */
    key: Schema.String,
    /** When to try again, in milliseconds from when the error was made, when known. */
    retryAfterMillis: Schema.optionalKey(Schema.Number)
  })
) {
  override get message(): string {
    return `${describe(this, `circuit open for ${this.key}`)}${retryAfter(this)}`
  }
}

/**
 * The body did not match the Schema; `issue` is the parse issue, formatted.
 *
 * @category errors
 * @since 0.1.0
 */
export class DecodeError extends Own.fields(
  Schema.TaggedError<DecodeError>()("DecodeError", {
    ...common,
    status: Schema.Number,
    issue: Schema.String
  })
) {
  override get message(): string {
    return `${describe(this, "the response did not decode")}: ${this.issue}`
  }
}

/**
 * A buffered body was larger than the configured maximum.
 *
 * @category errors
 * @since 0.1.0
 */
export class ResponseTooLargeError extends Own.fields(
  Schema.TaggedError<ResponseTooLargeError>()("ResponseTooLargeError", {
    ...common,
    status: Schema.Number,
    /** The maximum, in bytes. */
    maxBytes: Schema.Number
  })
) {
  override get message(): string {
    return `${describe(this, "response too large")}: more than ${this.maxBytes} bytes`
  }
}

/**
 * A redirect was refused: too many hops, a scheme other than http(s), https
 * to http without permission, or a `Location` that is not a URL.
 *
 * @category errors
 * @since 0.1.0
 */
export class RedirectError extends Own.fields(
  Schema.TaggedError<RedirectError>()("RedirectError", {
    ...common,
    reason: Schema.Literals(["too-many", "scheme", "downgrade", "invalid-location"]),
    /** The refused `Location`, redacted. */
    location: Schema.String
  })
) {
  override get message(): string {
    return `${describe(this, `redirect refused (${this.reason})`)} to ${this.location}`
  }
}

/**
 * A retry, a retry after an auth refresh, or a 307/308 redirect needed the
 * request body again, and the body can be read only once (a stream already
 * read, a raw Node or web stream): the request is not sent again, because a
 * resend would carry an empty or partial body that the server could accept
 * as the whole upload. Pass the body as a function (`body: () => HttpBody`)
 * so that every send gets a fresh one.
 *
 * @category errors
 * @since 0.1.0
 */
export class BodyNotReplayableError extends Own.fields(
  Schema.TaggedError<BodyNotReplayableError>()("BodyNotReplayableError", {
    ...common,
    /** What needed the body again. */
    reason: Schema.Literals(["retry", "redirect"]),
    /** The status that asked for the resend (a 503, a 401 before a refresh, a 307), when a response did. */
    status: Schema.optionalKey(Schema.Number),
    /** The tag of the error that would have been retried (`ServiceUnavailableError`, `ConnectionError`...), or `RedirectError` for a redirect. */
    after: Schema.String
  })
) {
  override get message(): string {
    return `${describe(this, `the request body cannot be sent again for a ${this.reason} (after ${this.after})`)}`
  }
}

/**
 * Every error a `ResilientClient` call can fail with.
 *
 * @category errors
 * @since 0.1.0
 */
export type ClientError =
  | ConnectionError
  | TimeoutError
  | AuthenticationError
  | NotFoundError
  | InvalidRequestError
  | ServerTimeoutError
  | RateLimitedError
  | ServiceUnavailableError
  | ServerError
  | ClientStatusError
  | BulkheadFullError
  | CircuitOpenError
  | DecodeError
  | ResponseTooLargeError
  | RedirectError
  | BodyNotReplayableError
  | RateLimitExceededError
  | RateLimiterUnavailableError

/**
 * The errors that come from a status code.
 *
 * @category errors
 * @since 0.1.0
 */
export type StatusError =
  | AuthenticationError
  | NotFoundError
  | InvalidRequestError
  | ServerTimeoutError
  | RateLimitedError
  | ServiceUnavailableError
  | ServerError
  | ClientStatusError

/**
 * What every status error is made from.
 *
 * @category models
 * @since 0.1.0
 */
export interface StatusContext {
  readonly method: string
  readonly url: string
  readonly requestId?: string | undefined
  readonly status: number
  readonly retryAfterMillis?: number | undefined
  /** Statuses the client retries (from its configuration). */
  readonly retryableStatuses: ReadonlySet<number>
}

/**
 * Maps a non-success status to its error.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromStatus = (context: StatusContext): StatusError => {
  const { method, url, status } = context
  // The optional fields by own key: a polluted prototype's `requestId` or `retryAfterMillis` is not the server's.
  const requestId = Own.own(context, "requestId")
  const retryAfterMillis = Own.own(context, "retryAfterMillis")
  const base = {
    method,
    url,
    status,
    retryable: context.retryableStatuses.has(status),
    ...(requestId === undefined ? {} : { requestId })
  }
  const withRetryAfter = retryAfterMillis === undefined ? base : { ...base, retryAfterMillis }
  switch (status) {
    case 401:
    case 403:
      return new AuthenticationError(base)
    case 404:
      return new NotFoundError(base)
    case 400:
    case 422:
      return new InvalidRequestError({ ...base, detail: `the server answered ${status}` })
    case 408:
      return new ServerTimeoutError(withRetryAfter)
    case 429:
      return new RateLimitedError(withRetryAfter)
    case 502:
    case 503:
    case 504:
      return new ServiceUnavailableError(withRetryAfter)
  }
  return status >= 500 ? new ServerError(withRetryAfter) : new ClientStatusError(base)
}

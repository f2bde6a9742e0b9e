/**
 * Turns transport failures (Effect's `HttpClientError` and the undici or Node
 * errors in its cause) into the client's typed errors, so that retry decisions
 * and user code never look at raw error codes.
 */
import { ConnectionError, InvalidRequestError, TimeoutError } from "../ClientError.ts"
import * as Redact from "../Redact.ts"
import { DeadlineExpired } from "./deadline.ts"

/** TLS failures: the handshake failed, so nothing was sent, and retrying will not make it succeed. */
const tlsCodes = [
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
  "ERR_SSL_WRONG_VERSION_NUMBER"
]

/** Codes that mean the request never left this machine, or never reached a server. */
const notSentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  ...tlsCodes
])

/** Codes that retrying cannot fix (a name that does not resolve, a certificate that will not become valid). */
const permanentCodes = new Set(["ENOTFOUND", ...tlsCodes])

/** System calls whose failure means no connection was made, so no byte of the request left. */
const notSentSyscalls = new Set(["connect", "getaddrinfo"])

/**
 * The first `code` found along an error's `cause` chain (with the `syscall`
 * of the same error, as Node's socket errors carry it), and the deepest
 * message.
 */
export const describeCause = (
  error: unknown
): { readonly code: string | undefined; readonly syscall: string | undefined; readonly detail: string } => {
  let code: string | undefined
  let syscall: string | undefined
  let detail = ""
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const candidate = (current as { code?: unknown }).code
      if (code === undefined && typeof candidate === "string") {
        code = candidate
        const call = (current as { syscall?: unknown }).syscall
        if (typeof call === "string") syscall = call
      }
      const message = (current as { message?: unknown }).message
      if (typeof message === "string" && message !== "") detail = message
      current = (current as { cause?: unknown }).cause
    } else {
      detail = String(current)
      break
    }
  }
  return { code, syscall, detail: code === undefined ? detail : `${code}: ${detail}` }
}

/** What every error of one call shares. */
export interface ErrorContext {
  readonly method: string
  readonly url: string
  readonly requestId: string
}

/**
 * The `ErrorContext` of one call, its URL redacted on first use (only errors
 * and log lines need it). `url` is an own, enumerable property, so spreading
 * the context into an error's fields copies it; its getter is one function
 * shared by every call, so the objects share one shape (a getter made per
 * object would give each its own hidden class, kept in the old generation
 * until a full GC).
 */
export class CallContext implements ErrorContext {
  readonly method: string
  declare readonly url: string
  readonly requestId: string
  readonly #target: URL
  #redacted: string | undefined = undefined
  static readonly #urlProperty: PropertyDescriptor = {
    enumerable: true,
    get(this: CallContext): string {
      return this.#redacted ??= Redact.url(this.#target)
    }
  }
  constructor(method: string, target: URL, requestId: string) {
    this.method = method
    Object.defineProperty(this, "url", CallContext.#urlProperty)
    this.requestId = requestId
    this.#target = target
  }
}

/** An `ErrorContext` whose URL holds nothing to redact, as a plain object. */
class PlainContext implements ErrorContext {
  readonly method: string
  readonly url: string
  readonly requestId: string
  constructor(method: string, url: string, requestId: string) {
    this.method = method
    this.url = url
    this.requestId = requestId
  }
}

/**
 * The `ErrorContext` of one call to `target` (its fragment already removed).
 * A URL without user info or query is its own redaction, so it is kept as is
 * (the common case, and the cheap one); any other is redacted on first use.
 */
export const callContext = (method: string, target: URL, requestId: string): ErrorContext =>
  target.search === "" && target.username === "" && target.password === ""
    ? new PlainContext(method, target.href, requestId)
    : new CallContext(method, target, requestId)

/**
 * A transport failure as a `ConnectionError`, or a `TimeoutError`: for a
 * deadline our transport enforces (the attempt's, the head's or a body's idle
 * gap: the phase the deadline that passed carries), and for undici's connect,
 * headers and body (idle) timeouts. A request undici
 * refused to send (`UND_ERR_INVALID_ARG`, `UND_ERR_NOT_SUPPORTED`) is an
 * `InvalidRequestError`: nothing was sent, and retrying cannot help.
 */
export const fromTransport = (
  cause: unknown,
  context: ErrorContext,
  deadlines: { readonly connect: number; readonly headers: number; readonly idle: number }
): ConnectionError | TimeoutError | InvalidRequestError => {
  const expired = findExpired(cause)
  if (expired !== undefined) {
    const { phase, sent, timeoutMillis } = expired
    const retryable = phase !== "total"
    // Said only when known: nothing of the request left (it waited for a connection).
    return new TimeoutError(
      sent ? { ...context, retryable, phase, timeoutMillis } : { ...context, retryable, phase, timeoutMillis, sent }
    )
  }
  const { code, detail, syscall } = describeCause(cause)
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return new TimeoutError({ ...context, retryable: true, phase: "connect", timeoutMillis: deadlines.connect })
    case "UND_ERR_HEADERS_TIMEOUT":
      return new TimeoutError({ ...context, retryable: true, phase: "headers", timeoutMillis: deadlines.headers })
    case "UND_ERR_BODY_TIMEOUT":
      return new TimeoutError({ ...context, retryable: true, phase: "idle", timeoutMillis: deadlines.idle })
    case "UND_ERR_INVALID_ARG":
    case "UND_ERR_NOT_SUPPORTED":
      return new InvalidRequestError({
        ...context,
        retryable: false,
        detail: `refused by the transport before sending: ${redactDetail(detail)}`
      })
  }
  return new ConnectionError({
    ...context,
    // A fault raised while connecting (`connect ETIMEDOUT`, `connect ECONNRESET`) never carried the request.
    sent: code === undefined
      ? true
      : !(notSentCodes.has(code) || (syscall !== undefined && notSentSyscalls.has(syscall))),
    retryable: code === undefined || !permanentCodes.has(code),
    detail: redactDetail(detail)
  })
}

/** The abort of a deadline our transport enforces, in an error's `cause` chain, if it is one. */
const findExpired = (error: unknown): DeadlineExpired | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof DeadlineExpired) return current
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Transport messages may quote a URL with user-info (drop everything from
 * `//` to the last `@` of the word, so a password holding `@` or `/` goes
 * too), or a caller's control characters (replaced by spaces).
 */
const redactDetail = (detail: string): string =>
  detail.replace(/\/\/\S*@/g, "//REDACTED@").replace(/[^\t\x20-\x7e\x80-\uffff]/g, " ").slice(0, 300)

/**
 * Turns transport failures (Effect's `HttpClientError` and the undici or Node
 * errors in its cause) into the client's typed errors, so that retry decisions
 * and user code never look at raw error codes.
 */
import { ConnectionError, TimeoutError } from "../ClientError.ts"

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
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
  "ERR_SSL_WRONG_VERSION_NUMBER"
])

/** Codes that retrying cannot fix (a certificate will not become valid). */
const permanentCodes = new Set([
  "ENOTFOUND",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
  "ERR_SSL_WRONG_VERSION_NUMBER"
])

/** The first `code` found along an error's `cause` chain, and the deepest message. */
export const describeCause = (error: unknown): { readonly code: string | undefined; readonly detail: string } => {
  let code: string | undefined
  let detail = ""
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const candidate = (current as { code?: unknown }).code
      if (code === undefined && typeof candidate === "string") code = candidate
      const message = (current as { message?: unknown }).message
      if (typeof message === "string" && message !== "") detail = message
      current = (current as { cause?: unknown }).cause
    } else {
      detail = String(current)
      break
    }
  }
  return { code, detail: code === undefined ? detail : `${code}: ${detail}` }
}

/** What every error of one call shares. */
export interface ErrorContext {
  readonly method: string
  readonly url: string
  readonly requestId: string
}

/**
 * A transport failure as a `ConnectionError`, or a `TimeoutError` for
 * undici's connect timeout.
 */
export const fromTransport = (
  cause: unknown,
  context: ErrorContext,
  connectTimeoutMillis: number
): ConnectionError | TimeoutError => {
  const { code, detail } = describeCause(cause)
  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return new TimeoutError({ ...context, retryable: true, phase: "connect", timeoutMillis: connectTimeoutMillis })
  }
  return new ConnectionError({
    ...context,
    sent: code === undefined ? true : !notSentCodes.has(code),
    retryable: code === undefined || !permanentCodes.has(code),
    detail: redactDetail(detail)
  })
}

/** Transport messages may quote a URL with user-info; drop anything that looks like one. */
const redactDetail = (detail: string): string => detail.replace(/\/\/[^\s/@]+@/g, "//REDACTED@").slice(0, 300)

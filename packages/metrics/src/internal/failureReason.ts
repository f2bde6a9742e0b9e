/**
 * What went wrong with an export's request, in words for a warning: the
 * innermost error of a transport failure, as Node reported it.
 */
import type * as HttpClientError from "effect/http/HttpClientError"

/** The innermost error of `error`, as `message (code)`: what Node said went wrong, at most 300 characters. */
export const reasonOf = (error: HttpClientError.HttpClientError): string => {
  let inner: unknown = error.reason
  for (let depth = 0; depth < 8 && inner instanceof Object && "cause" in inner && inner.cause !== undefined; depth++) {
    inner = inner.cause
  }
  if (!(inner instanceof Error)) return String(inner)
  const code = "code" in inner && typeof inner.code === "string" ? ` (${inner.code})` : ""
  const text = `${inner.message === "" ? inner.name : inner.message}${code}`
  return text.length > 300 ? `${text.slice(0, 300)}...` : text
}

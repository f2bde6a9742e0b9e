/**
 * The rules for following one redirect: which method and body go on, which
 * headers are dropped, and which targets are refused.
 */

/** Statuses that redirect. */
export const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** What to do with one redirect answer. */
export type Decision =
  | {
    readonly _tag: "Follow"
    readonly url: URL
    readonly method: string
    readonly keepBody: boolean
    readonly crossOrigin: boolean
  }
  | { readonly _tag: "Refuse"; readonly reason: "scheme" | "downgrade" | "invalid-location"; readonly location: string }

/**
 * Decides where a redirect goes. Only http and https are followed; https to
 * http only with `allowDowngrade`. 303 turns every method but HEAD into GET;
 * 301 and 302 turn POST into GET (as browsers and fetch do); 307 and 308 keep
 * the method and body.
 */
export const decide = (
  from: URL,
  status: number,
  location: string,
  method: string,
  allowDowngrade: boolean
): Decision => {
  if (/[\r\n\0]/.test(location)) return { _tag: "Refuse", reason: "invalid-location", location }
  // Several `Location` headers (one smuggled in by CR LF, say) reach us joined with ", ", which no valid
  // URI-reference contains: which one was meant is unknowable, so none is followed.
  if (/,[ \t]/.test(location)) return { _tag: "Refuse", reason: "invalid-location", location }
  let target: URL
  try {
    target = new URL(location, from)
  } catch {
    return { _tag: "Refuse", reason: "invalid-location", location }
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return { _tag: "Refuse", reason: "scheme", location: `${target.protocol}...` }
  }
  if (from.protocol === "https:" && target.protocol === "http:" && !allowDowngrade) {
    return { _tag: "Refuse", reason: "downgrade", location: target.href }
  }
  target.hash = ""
  const toGet = (status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")
  return {
    _tag: "Follow",
    url: target,
    method: toGet ? "GET" : method,
    keepBody: !toGet,
    crossOrigin: target.origin !== from.origin
  }
}

/** Headers that describe a body, dropped when a redirect drops the body. */
export const bodyHeaders: ReadonlyArray<string> = [
  "content-type",
  "content-length",
  "content-encoding",
  "transfer-encoding"
]

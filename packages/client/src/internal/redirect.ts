/**
 * The rules for following one redirect: which method and body go on, which
 * headers are dropped, which targets are refused, and what becomes of
 * user-info in the `Location`.
 */
import * as UserInfo from "./userInfo.ts"

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
    /**
     * The `Authorization: Basic` value of the `Location`'s user-info, when it
     * had some and stays on the origin that sent it; never in `url`.
     */
    readonly basic: string | undefined
  }
  | { readonly _tag: "Refuse"; readonly reason: "scheme" | "downgrade" | "invalid-location"; readonly location: string }

/**
 * Decides where a redirect goes. Only http and https are followed; https to
 * http only with `allowDowngrade`. 303 turns every method but HEAD into GET;
 * 301 and 302 turn POST into GET (as browsers and fetch do); 307 and 308 keep
 * the method and body.
 *
 * User-info in the `Location` (`http://user:pass@host/`) never stays in the
 * URL followed, nor in a refused one. It is offered as `basic` only when the
 * target is on the origin of `from`, the server that sent it; to another
 * origin it is dropped, so a server cannot make the client authenticate to a
 * third party (the fetch standard refuses such a redirect in CORS mode; got
 * and requests drop the credentials).
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
  const userInfo = UserInfo.take(target)
  if (from.protocol === "https:" && target.protocol === "http:" && !allowDowngrade) {
    return { _tag: "Refuse", reason: "downgrade", location: target.href }
  }
  target.hash = ""
  const toGet = (status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")
  const crossOrigin = target.origin !== from.origin
  return {
    _tag: "Follow",
    url: target,
    method: toGet ? "GET" : method,
    keepBody: !toGet,
    crossOrigin,
    basic: crossOrigin ? undefined : userInfo
  }
}

/** Headers that describe a body, dropped when a redirect drops the body. */
export const bodyHeaders: ReadonlyArray<string> = [
  "content-type",
  "content-length",
  "content-encoding",
  "transfer-encoding"
]

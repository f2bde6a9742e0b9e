/**
 * One log line per request for `TestServer`'s `log` option (the standalone
 * server's `--log`): `GET /status/503?x=1 -> 503 12ms`.
 *
 * No header is ever written, so `Authorization` and cookies cannot leak; in
 * the query, values of parameters named like secrets (`token`, `api_key`,
 * `password`, `pass`, `authorization`, `bearer`, `jwt`...) and user-info
 * inside values (`url=https://user:pass@host`) are replaced by `REDACTED`
 * (RELIABILITY 8). `@httpkit/core`'s `Redact`
 * cannot be used here: core's tests depend on this package.
 */
import type * as Http from "node:http"
import type * as Http2 from "node:http2"

/** What replaces a redacted value. */
export const redacted = "REDACTED"

/** Query parameter names whose values are secrets: the whole name or a `_`/`-` separated suffix. */
const secretParam =
  /(^|[_-])(token|access[_-]?token|refresh[_-]?token|id[_-]?token|api[_-]?key|apikey|key|secret|password|passwd|pass|passphrase|pwd|signature|sig|auth|authorization|bearer|jwt|assertion|cookie|session|sessionid|code|credentials?)$/i

/** User-info in a URL-shaped value, plain or percent-encoded: `//user:pass@`. */
const userInfo = /(\/\/|%2F%2F)[^&]*?(@|%40)/gi

/** Whether a query parameter's name says its value is a secret. */
export const isSecretParam = (name: string): boolean => secretParam.test(name)

/** The request target (path and query) fit for a log: secret values and user-info replaced, the rest verbatim. */
export const redactTarget = (target: string): string => {
  const mark = target.indexOf("?")
  if (mark === -1) return target
  const pairs = target.slice(mark + 1).split("&").map((pair) => {
    const equals = pair.indexOf("=")
    if (equals === -1) return pair
    const name = pair.slice(0, equals)
    let decoded = name
    try {
      decoded = decodeURIComponent(name.replaceAll("+", " "))
    } catch {
      // A malformed escape: judge the name as it is.
    }
    if (isSecretParam(decoded)) return `${name}=${redacted}`
    return `${name}=${pair.slice(equals + 1).replace(userInfo, `$1${redacted}$2`)}`
  })
  return `${target.slice(0, mark)}?${pairs.join("&")}`
}

/** One answered (or abandoned) request. */
export interface Entry {
  readonly method: string
  /** The request target as received: path and query. */
  readonly target: string
  /**
   * The status sent; `"bytes"` for an answer that is not HTTP (the raw-socket
   * listener's `/bytes`); `undefined` when the connection closed before any answer.
   */
  readonly status: number | "bytes" | undefined
  readonly millis: number
  /** False when the answer did not end normally: the server dropped the connection or the client left. */
  readonly completed: boolean
}

/**
 * `GET /status/503?x=1 -> 503 12ms`; ` (not completed)` follows an answer cut
 * short, and `no answer` stands for the status when the connection closed
 * before one.
 */
export const format = (entry: Entry): string =>
  `${entry.method} ${redactTarget(entry.target)} -> ${entry.status ?? "no answer"} ${Math.round(entry.millis)}ms${
    entry.completed || entry.status === undefined ? "" : " (not completed)"
  }`

/**
 * Calls `write` with the line of this request once Node has finished with its
 * response (sent, or the connection closed), so the status is what went on the
 * wire, including the answers written to Node's response directly.
 */
export const watch = (
  response: Http.ServerResponse | Http2.Http2ServerResponse,
  method: string,
  target: string,
  write: (line: string) => void
): void => {
  const started = performance.now()
  response.once("close", () => {
    write(format({
      method,
      target,
      status: response.headersSent ? response.statusCode : undefined,
      millis: performance.now() - started,
      completed: response.writableFinished
    }))
  })
}

/**
 * One log line per request for `TestServer`'s `log` option (the standalone
 * server's `--log`): `GET /status/503?x=1 -> 503 12ms`.
 *
 * No header is ever written, so `Authorization` and cookies cannot leak; the
 * target goes through the same redaction as every other httpkit log
 * (`@httpkit/core`'s `Redact.url`): values of secret-named query parameters
 * (`token`, `api_key`, `key`, `session_id`, `sid`, `secretKey`,
 * `user[password]`, `PHPSESSID`...), `;jsessionid=` path parameters and
 * user-info in URLs given as values become `REDACTED` (RELIABILITY 8). A
 * target with nothing secret is written verbatim.
 */
import * as Redact from "@httpkit/core/Redact"
import type * as Http from "node:http"
import type * as Http2 from "node:http2"

/** What replaces a redacted value. */
export const redacted = Redact.redacted

/** Whether a query parameter's name says its value is a secret (`Redact.isSecretParam`). */
export const isSecretParam = Redact.isSecretParam

/** Where an origin-form target is put to be parsed as a URL. */
const base = "http://log.invalid"

/**
 * The request target (path and query) fit for a log: verbatim when it holds
 * nothing secret, otherwise as `Redact.url` writes it (secret values and
 * user-info replaced, the path kept as sent).
 */
export const redactTarget = (target: string): string => {
  if (!target.startsWith("/")) return Redact.url(target)
  const mark = target.indexOf("?")
  const path = mark === -1 ? target : target.slice(0, mark)
  if (mark === -1 && !path.includes(";")) return target
  let parsed: URL
  try {
    parsed = new URL(`${base}${target}`)
  } catch {
    return Redact.url(`${base}${target}`).slice(base.length)
  }
  const clean = new URL(Redact.url(parsed))
  if (clean.href === parsed.href) return target
  const query = mark === -1 ? "" : clean.search === "" ? "?" : clean.search
  return `${path.includes(";") ? clean.pathname : path}${query}`
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

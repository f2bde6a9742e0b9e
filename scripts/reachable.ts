/**
 * Whether anything answers at a URL's host and port: the check a script makes
 * before it relies on a server such as Redis, so that an unreachable one is
 * one line naming the URL instead of a client's reconnection warnings and a
 * stack trace.
 *
 * ```ts
 * await requireReachable("Redis", redisUrl, Redact.url)
 * // or exits 1 with: Redis was unreachable at redis://127.0.0.1:6390/ (ECONNREFUSED)
 * await requireReachable("the test server", url, Redact.url, { hint: "start it with npm run test-server" })
 * ```
 */
import * as Net from "node:net"
import { fail } from "./args.ts"

/** The port of a URL that names none, by scheme. */
const defaultPorts: Readonly<Record<string, number>> = { "redis:": 6379, "rediss:": 6379, "http:": 80, "https:": 443 }

/**
 * Why no TCP connection to `url`'s host and port opened within
 * `timeoutMillis` (an error code such as `ECONNREFUSED`), or `undefined` when
 * one did (it is closed at once).
 */
export const unreachable = (url: string, timeoutMillis = 3_000): Promise<string | undefined> =>
  new Promise((resolve) => {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return resolve("not a URL")
    }
    const { hostname, port, protocol } = parsed
    const socket = Net.connect({
      host: hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
      port: port === "" ? defaultPorts[protocol] ?? 0 : Number(port)
    })
    const settle = (reason: string | undefined) => {
      socket.destroy()
      resolve(reason)
    }
    socket.setTimeout(timeoutMillis, () => settle(`no connection within ${timeoutMillis} ms`))
    socket.once("connect", () => settle(undefined))
    socket.once("error", (error: NodeJS.ErrnoException) => settle(error.code ?? error.message))
  })

/**
 * Exits with status 1 and one line on stderr,
 * `<what> was unreachable at <redact(url)> (<reason>)` followed by
 * `; <hint>` when one is given, unless a TCP connection to `url`'s host and
 * port opens within `timeoutMillis` (default 3 s). `redact` hides the URL's
 * credentials (`Redact.url` of `@httpkit/core`). A `url` that does not parse
 * is a bad command line: exit 2, and the value is not repeated (it may hold
 * a password); scripts check their URL flags before this, naming the flag.
 */
export const requireReachable = async (
  what: string,
  url: string,
  redact: (url: string) => string,
  options: { readonly timeoutMillis?: number | undefined; readonly hint?: string | undefined } = {}
): Promise<void> => {
  if (URL.parse(url) === null) fail(`the URL of ${what} does not parse`)
  const reason = await unreachable(url, options.timeoutMillis)
  if (reason !== undefined) {
    fail(
      `${what} was unreachable at ${redact(url)} (${reason})${options.hint === undefined ? "" : `; ${options.hint}`}`,
      1
    )
  }
}

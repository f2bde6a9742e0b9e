/**
 * Whether a text is a Redis URL the store can connect to, and how to show it
 * without its credentials.
 */
import * as Redact from "@httpkit/core/Redact"

const shape = "redis://[[user]:password@]host[:port][/db], or rediss:// for TLS"

/** Why `text` is not a Redis URL the store can use, as what is expected instead; `undefined` when it is one. */
export const problem = (text: string): string | undefined => {
  // `host:6379` would parse with `host:` as its scheme: a URL here has `//` after its scheme.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `a URL ${shape}`
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    return `a URL ${shape}`
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return `a URL ${shape}, not ${parsed.protocol}//`
  }
  if (parsed.hostname === "") return `a URL with a host, ${shape}`
  if (parsed.port !== "" && Number(parsed.port) < 1) return `a port from 1 to 65535, ${shape}`
  if (!/^\/?(\d+)?$/.test(parsed.pathname)) return `a database number after the host (/0, /1, ...), ${shape}`
  return undefined
}

/**
 * The text fit for an error: a URL's user-info and token-like query
 * parameters redacted (`Redact.url`), and, in a text that is not quite a URL,
 * anything before an `@` that precedes the path.
 */
export const redacted = (text: string): string =>
  Redact.url(text).replace(
    /^((?:[a-z][a-z0-9+.-]*:)?(?:\/\/)?)[^/?#]*@/i,
    (_, start: string) => `${start}${Redact.redacted}@`
  )

/**
 * Redaction of secrets in URLs and headers, applied before anything reaches a
 * log line, an error, a span attribute or a metric label.
 *
 * @since 0.1.0
 */

/**
 * Header names whose values are always secret (lower case).
 *
 * @category constants
 * @since 0.1.0
 */
export const secretHeaderNames: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "x-auth-token",
  "x-amz-security-token"
])

/**
 * Query parameter names that carry secrets, matched case-insensitively on the
 * whole name or a `_`/`-` separated suffix.
 *
 * @category constants
 * @since 0.1.0
 */
export const secretParamPattern: RegExp =
  /(^|[_-])(token|access[_-]?token|refresh[_-]?token|id[_-]?token|api[_-]?key|apikey|key|secret|client[_-]?secret|password|passwd|pwd|signature|sig|auth|session|sessionid|code|credential|credentials)$/i

/**
 * Whether a query parameter name looks like it carries a secret.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isSecretParam = (name: string): boolean => secretParamPattern.test(name)

/**
 * The replacement for a redacted value.
 *
 * @category constants
 * @since 0.1.0
 */
export const redacted = "REDACTED"

/**
 * A URL fit for logs and errors: user-info replaced, token-like query values
 * replaced, everything else kept. A string that is not a URL is reduced to
 * what precedes its query and user-info.
 *
 * @category utils
 * @since 0.1.0
 */
export const url = (input: string | URL): string => {
  let parsed: URL
  try {
    parsed = typeof input === "string" ? new URL(input) : new URL(input.href)
  } catch {
    const text = String(input)
    const withoutQuery = text.split(/[?#]/, 1)[0] ?? ""
    return withoutQuery.replace(/\/\/[^/@]*@/, `//${redacted}@`)
  }
  if (parsed.username !== "" || parsed.password !== "") {
    parsed.username = redacted
    parsed.password = ""
  }
  let changed = false
  const params = new URLSearchParams()
  for (const [name, value] of parsed.searchParams) {
    const secret = isSecretParam(name)
    changed ||= secret
    params.append(name, secret ? redacted : value)
  }
  if (changed) parsed.search = params.toString()
  parsed.hash = ""
  return parsed.href
}

/**
 * A header record fit for logs: values of secret headers (the built-in list
 * plus `extraSecretNames`, lower case) replaced.
 *
 * @category utils
 * @since 0.1.0
 */
export const headers = (
  input: Readonly<Record<string, string>>,
  extraSecretNames: ReadonlySet<string> = new Set()
): Record<string, string> => {
  const out: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(input)) {
    const lower = name.toLowerCase()
    out[lower] = secretHeaderNames.has(lower) || extraSecretNames.has(lower) ? redacted : value
  }
  return out
}

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
  "x-amz-security-token",
  "x-honeycomb-team"
])

/**
 * Header names that carry credentials by their form (lower case), besides
 * `secretHeaderNames`: a last word (after `-` or `_`) naming a key, a token,
 * a secret, a password or a signature, such as `x-goog-api-key`, `apikey`,
 * `ocp-apim-subscription-key`, `x-functions-key`, `private-token`,
 * `x-access-token`, `x-csrf-token`, `x-client-secret`, `x-auth`,
 * `authentication`, `x-session-id`, `x-hub-signature-256`, `x-rapidapi-key`,
 * `dd-application-key`, `x-consumer-key`; or any word that ends in
 * `authorization` or is `jwt`, wherever it stands (`x-serverless-authorization`,
 * `x-forwarded-authorization`, `x-ms-authorization-auxiliary`,
 * `x-goog-iap-jwt-assertion`). A bare `-key` is not enough
 * (`idempotency-key`, `cache-key` are not secrets).
 *
 * @category constants
 * @since 0.1.0
 */
export const secretHeaderPattern: RegExp =
  /(?:^|[-_])(?:api[-_]?key|apikey|(?:access|secret|subscription|functions|client|private|master|auth|app|application|consumer|rapidapi|license|developer|customer|signing|account|partner|integration|user)[-_]?key|(?:access|auth|api|session|refresh|private|csrf|xsrf|id|bearer|security)[-_]?token|token|secret|client[-_]?secret|password|passwd|credentials?|signature(?:-sha\d+|-\d+)?|auth|authentication|session(?:[-_]?id)?)$|(?:^|[-_])(?:[a-z]*authorization|jwt)(?:$|[-_])/

/**
 * Whether a header (any case) carries a secret: one of `secretHeaderNames`,
 * or a name of the form `secretHeaderPattern` describes.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isSecretHeader = (name: string): boolean => {
  const lower = name.toLowerCase()
  return secretHeaderNames.has(lower) || secretHeaderPattern.test(lower)
}

/**
 * Query parameter names that carry secrets, matched case-insensitively on the
 * whole name or a `_`, `-`, `.` or `[` separated suffix (`token`,
 * `access_token`, `api_key`, `api.key`, `secret_key`, `session_id`, `sid`,
 * `jwt`, `access-key-id`...), the last optionally closed by `]` or followed
 * by `[]` (`user[password]`, `auth[token]`, `token[]`). camelCase names
 * (`apiToken`, `secretKey`) are matched by `camelSecretParamPattern`.
 *
 * @category constants
 * @since 0.1.0
 */
export const secretParamPattern: RegExp =
  /(?:^|[_\-.[])(?:token|(?:access|refresh|id|api|auth|session|bearer|csrf|xsrf)[_-]?token|api[_-]?key|apikey|key|(?:secret|access|private)[_-]?key(?:[_-]?id)?|secret|client[_-]?secret|password|passwd|passphrase|pass|pwd|signature|sig|auth|authorization|bearer|session|session[_-]?id|sessid|sid|jwt|code|verifier|credential|credentials)\]?(?:\[\])?$/i

/**
 * The camelCase form of `secretParamPattern`: a lower-case letter or digit
 * followed by a capitalised secret suffix (`apiToken`, `authToken`,
 * `sessionToken`, `secretKey`, `accessKey`, `clientSecret`, `sessionId`,
 * `idJwt`). Case-sensitive, so `monkey` or `decode` are not matched.
 *
 * @category constants
 * @since 0.1.0
 */
export const camelSecretParamPattern: RegExp =
  /[a-z0-9](?:Token|TOKEN|Key|KEY|Key(?:Id|ID)|Secret|Password|Passwd|Pwd|Signature|Sig|Auth|Session|Session(?:Id|ID)|Sid|SID|Jwt|JWT|Code|Verifier|Credentials?)\]?(?:\[\])?$/

/**
 * Whole parameter names of session cookies that frameworks also put in URLs
 * (`;jsessionid=` in a path, `?PHPSESSID=`), case-insensitive.
 *
 * @category constants
 * @since 0.1.0
 */
export const sessionParamPattern: RegExp = /^(?:phpsessid|jsessionid|aspsessionid[a-z]*|cfid|cftoken)$/i

/**
 * A parameter name as a server may read it: without the spaces around it, a
 * trailing `%` (a broken escape), an index (`token[0]`), and anything up to a
 * `;` (`amp;token` from an `&amp;` written into a URL, `;token`).
 */
const plainName = (name: string): string => {
  const semicolon = name.lastIndexOf(";")
  const last = semicolon === -1 ? name : name.slice(semicolon + 1)
  return last.trim().replace(/%+$/, "").replace(/\[\d*\]$/, "")
}

const matchesSecret = (name: string): boolean =>
  secretParamPattern.test(name) || camelSecretParamPattern.test(name) || sessionParamPattern.test(name)

/**
 * Whether a query parameter name looks like it carries a secret: it matches
 * `secretParamPattern`, `camelSecretParamPattern` or `sessionParamPattern`,
 * as given or as a server may read it (`token%20`, `token[0]`, `amp;token`).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isSecretParam = (name: string): boolean => {
  if (matchesSecret(name)) return true
  const plain = plainName(name)
  return plain !== name && matchesSecret(plain)
}

/** Whether a value holds a `;`-separated `name=value` part whose name is a secret one. */
const hasSecretPart = (value: string): boolean =>
  value.split(";").some((part) => {
    const equals = part.indexOf("=")
    return equals > 0 && isSecretParam(part.slice(0, equals).trim())
  })

/**
 * The replacement for a redacted value.
 *
 * @category constants
 * @since 0.1.0
 */
export const redacted = "REDACTED"

/**
 * A text that does not parse as a URL with a host: cut at its query or
 * fragment, and everything from after `//` (or from the start) to its last
 * `@` replaced, so a password holding `@` or `/` never shows.
 */
const unparsed = (text: string): string => {
  const end = text.search(/[?#]/)
  const head = end === -1 ? text : text.slice(0, end)
  const at = head.lastIndexOf("@")
  if (at === -1) return head
  const slashes = head.indexOf("//")
  const start = slashes !== -1 && slashes < at ? slashes + 2 : 0
  return `${head.slice(0, start)}${redacted}${head.slice(at)}`
}

/**
 * A parameter value that is itself a URL (`?next=https://u:p@host/?token=x`),
 * or holds an authority with user-info (`http//u:p@host`).
 */
const looksLikeUrl = (value: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /\/\/[^/?#\s]*@/.test(value)

/** Whether a fragment carries `name=value` parts with a secret name (`#access_token=...`). */
const hasSecretFragment = (hash: string): boolean => [...new URLSearchParams(hash.slice(1)).keys()].some(isSecretParam)

/** How deep URLs nested in query values are looked into. */
const maxNesting = 4

/**
 * Redacts `parsed` in place (user-info, secret query values, and URLs nested
 * in query values), and tells whether it held anything secret.
 */
const redactParsed = (parsed: URL, depth: number): boolean => {
  let secret = false
  if (parsed.username !== "" || parsed.password !== "") {
    parsed.username = redacted
    parsed.password = ""
    secret = true
  }
  // `/app;jsessionid=x/page`: path parameters with a secret name.
  if (parsed.pathname.includes(";")) {
    const pathname = redactPathParams(parsed.pathname)
    if (pathname !== parsed.pathname) {
      parsed.pathname = pathname
      secret = true
    }
  }
  if (parsed.search.length > 1) {
    const search = redactQuery(parsed.search.slice(1), depth)
    if (search !== undefined) {
      parsed.search = search
      secret = true
    }
  }
  return secret
}

/** One `name=value` part of a query, decoded as `URLSearchParams` does (`+` a space, a broken escape as written). */
const decodedPart = (part: string): readonly [string, string] => {
  for (const entry of new URLSearchParams(part)) return entry
  return ["", ""]
}

/**
 * A query (without its `?`) with the values of secret parameters replaced
 * and URLs in values redacted, every other part kept as written; or
 * `undefined` when nothing in it is secret.
 */
const redactQuery = (query: string, depth: number): string | undefined => {
  let changed = false
  const parts = query.split("&").map((part) => {
    if (part === "") return part
    const [name, value] = decodedPart(part)
    const equals = part.indexOf("=")
    const rawName = equals === -1 ? part : part.slice(0, equals)
    // `a=1;token=x`: a server that splits on `;` reads a second parameter inside the value.
    if (isSecretParam(name) || (value.includes(";") && hasSecretPart(value))) {
      changed = true
      return `${rawName}=${redacted}`
    }
    const inner = depth < maxNesting && looksLikeUrl(value) ? nestedSecretless(value, depth + 1) : undefined
    if (inner === undefined) return part
    changed = true
    return `${rawName}=${encodeURIComponent(inner)}`
  })
  return changed ? parts.join("&") : undefined
}

/** A path whose `;name=value` parameters with a secret name have their values replaced. */
const redactPathParams = (pathname: string): string =>
  pathname.replace(/;([^;/=]*)=([^;/]*)/g, (part, name: string) => {
    let decoded = name
    try {
      decoded = decodeURIComponent(name)
    } catch {
      // A broken escape: the name as written.
    }
    return isSecretParam(decoded) ? `;${name}=${redacted}` : part
  })

/** A nested URL with its secrets redacted, or `undefined` when it holds none. */
const nestedSecretless = (value: string, depth: number): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    return value.includes("@") ? unparsed(value) : undefined
  }
  if (parsed.host === "") return value.includes("@") ? unparsed(value) : undefined
  let secret = redactParsed(parsed, depth)
  // The outer URL's fragment is dropped; a nested one is kept unless it names a secret.
  if (parsed.hash !== "" && hasSecretFragment(parsed.hash)) {
    parsed.hash = redacted
    secret = true
  }
  return secret ? parsed.href : undefined
}

/**
 * A URL fit for logs and errors: user-info replaced, token-like query values
 * replaced (also inside a URL given as a query value, such as
 * `?next=https://u:p@host/?token=x`), everything else kept. A string that is
 * not a URL with a host (`http//user:pass@host`, `user:pass@host`, a bad
 * port) is reduced to what precedes its query, with everything up to its last
 * `@` replaced.
 *
 * @category utils
 * @since 0.1.0
 */
export const url = (input: string | URL): string => {
  let parsed: URL
  try {
    parsed = typeof input === "string" ? new URL(input) : new URL(input.href)
  } catch {
    return unparsed(String(input))
  }
  // `user:pass@host` parses with the scheme `user:` and no host: treat it as text.
  if (parsed.host === "" && parsed.href.includes("@")) return unparsed(parsed.href)
  redactParsed(parsed, 0)
  parsed.hash = ""
  return parsed.href
}

/**
 * A header record fit for logs: values of secret headers (`isSecretHeader`,
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
    out[lower] = isSecretHeader(lower) || extraSecretNames.has(lower) ? redacted : value
  }
  return out
}

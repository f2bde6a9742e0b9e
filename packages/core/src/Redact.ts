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
 * `authentication`, `x-session-id`, `x-hub-signature-256`,
 * `x-shopify-hmac-sha256`, `x-rapidapi-key`, `dd-application-key`,
 * `x-consumer-key`; or any word that ends in
 * `authorization` or is `jwt`, wherever it stands (`x-serverless-authorization`,
 * `x-forwarded-authorization`, `x-ms-authorization-auxiliary`,
 * `x-goog-iap-jwt-assertion`). A bare `-key` is not enough
 * (`idempotency-key`, `cache-key` are not secrets).
 *
 * @category constants
 * @since 0.1.0
 */
export const secretHeaderPattern: RegExp =
  /(?:^|[-_])(?:api[-_]?key|apikey|(?:access|secret|subscription|functions|client|private|master|auth|app|application|consumer|rapidapi|license|developer|customer|signing|account|partner|integration|user)[-_]?key|(?:access|auth|api|session|refresh|private|csrf|xsrf|id|bearer|security)[-_]?token|token|secret|client[-_]?secret|password|passwd|credentials?|signature(?:-sha\d+|-\d+)?|hmac(?:[-_]?(?:sha|md)\d+)?|auth|authentication|session(?:[-_]?id)?)$|(?:^|[-_])(?:[a-z]*authorization|jwt)(?:$|[-_])/

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
 * `jwt`, `access-key-id`, `hmac`, `hmac_sha256`, `x_hmac`...), the last
 * optionally closed by `]` or followed by `[]` (`user[password]`,
 * `auth[token]`, `token[]`). camelCase names (`apiToken`, `secretKey`) are
 * matched by `camelSecretParamPattern`. A bare `mac` is not among them: it is
 * most often a network address (`client_mac`, `ap_mac`).
 *
 * @category constants
 * @since 0.1.0
 */
export const secretParamPattern: RegExp =
  /(?:^|[_\-.[])(?:token|(?:access|refresh|id|api|auth|session|bearer|csrf|xsrf)[_-]?token|api[_-]?key|apikey|key|(?:secret|access|private)[_-]?key(?:[_-]?id)?|secret|client[_-]?secret|password|passwd|passphrase|pass|pwd|signature|sig|hmac(?:[_-]?(?:sha|md)\d+)?|auth|authorization|bearer|session|session[_-]?id|sessid|sid|jwt|code|verifier|credential|credentials)\]?(?:\[\])?$/i

/**
 * The camelCase form of `secretParamPattern`: a lower-case letter or digit
 * followed by a capitalised secret suffix (`apiToken`, `authToken`,
 * `sessionToken`, `secretKey`, `accessKey`, `clientSecret`, `sessionId`,
 * `idJwt`, `requestHmac`). Case-sensitive, so `monkey` or `decode` are not
 * matched.
 *
 * @category constants
 * @since 0.1.0
 */
export const camelSecretParamPattern: RegExp =
  /[a-z0-9](?:Token|TOKEN|Key|KEY|Key(?:Id|ID)|Secret|Password|Passwd|Pwd|Signature|Sig|Hmac|HMAC|Auth|Session|Session(?:Id|ID)|Sid|SID|Jwt|JWT|Code|Verifier|Credentials?)\]?(?:\[\])?$/

/**
 * Whole parameter names of session cookies that frameworks also put in URLs
 * (`;jsessionid=` in a path, `?PHPSESSID=`), case-insensitive.
 *
 * @category constants
 * @since 0.1.0
 */
export const sessionParamPattern: RegExp = /^(?:phpsessid|jsessionid|aspsessionid[a-z]*|cfid|cftoken)$/i

/** Spaces and control characters (C0, DEL, C1) around a name: `token%20`, `token%09`, `token%00`, `%01token`. */
const spacesAndControls = /^[\s\p{Cc}]+|[\s\p{Cc}]+$/gu

/**
 * A parameter name as a server may read it: without the spaces and control
 * characters around it, a trailing `%` (a broken escape), an index
 * (`token[0]`), and anything up to a `;` (`amp;token` from an `&amp;`
 * written into a URL, `;token`).
 */
const plainName = (name: string): string => {
  const semicolon = name.lastIndexOf(";")
  const last = semicolon === -1 ? name : name.slice(semicolon + 1)
  return last.replace(spacesAndControls, "").replace(/%+$/, "").replace(/\[\d*\]$/, "")
}

const matchesSecret = (name: string): boolean =>
  secretParamPattern.test(name) || camelSecretParamPattern.test(name) || sessionParamPattern.test(name)

/**
 * Whether a query parameter name looks like it carries a secret: it matches
 * `secretParamPattern`, `camelSecretParamPattern` or `sessionParamPattern`,
 * as given or as a server may read it: without the spaces or control
 * characters around it (`token%20`, `token%09`, `token%00`), a trailing `%`,
 * an index (`token[0]`), what precedes a `;` (`amp;token`), or what follows
 * a NUL (`token%00x`, which a server that ends a name at NUL reads as
 * `token`).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isSecretParam = (name: string): boolean => {
  if (matchesSecret(name)) return true
  const plain = plainName(name)
  if (plain !== name && matchesSecret(plain)) return true
  // A server written in C reads a name up to its first NUL.
  const nul = name.indexOf("\0")
  return nul !== -1 && matchesSecret(plainName(name.slice(0, nul)))
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

/** A base that a relative reference is resolved against, then cut off again. */
const relativeBase = "http://relative.invalid/"

/**
 * A URL reference as a header carries it, absolute or relative
 * (`/next?token=x`), redacted as `url` redacts an absolute one; a relative
 * one stays relative.
 */
const urlReference = (value: string): string => {
  const trimmed = value.trim()
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed) || trimmed.startsWith("//")) return url(trimmed)
  let resolved: URL
  try {
    resolved = new URL(trimmed, relativeBase)
  } catch {
    return unparsed(trimmed)
  }
  const shown = url(resolved)
  return shown.startsWith(relativeBase)
    ? (trimmed.startsWith("/") ? "/" : "") + shown.slice(relativeBase.length)
    : shown
}

/**
 * Headers whose values are URLs, or hold URLs, that a server may fill with
 * credentials (a redirect to `https://u:p@host/?access_token=...`).
 *
 * @category constants
 * @since 0.1.0
 */
export const urlHeaderNames: ReadonlySet<string> = new Set([
  "location",
  "content-location",
  "referer",
  "refresh",
  "link"
])

/**
 * A header's value fit for logs, spans and errors, for a header that is not
 * secret as a whole: a URL-valued header (`urlHeaderNames`) has its URLs
 * redacted as `url` does (`Location`, `Content-Location`, `Referer`; the
 * `url=` of `Refresh: 5; url=...`; each `<...>` of `Link`), relative ones
 * included; any other value is returned as it is.
 *
 * @category utils
 * @since 0.1.0
 */
export const headerValue = (name: string, value: string): string => {
  switch (name.toLowerCase()) {
    case "location":
    case "content-location":
    case "referer":
      return urlReference(value)
    case "refresh":
      return value.replace(
        /(url\s*=\s*)(["']?)([^"']*)\2/i,
        (_, prefix: string, quote: string, target: string) => `${prefix}${quote}${urlReference(target)}${quote}`
      )
    case "link":
      return value.replace(/<([^>]*)>/g, (_, target: string) => `<${urlReference(target)}>`)
    default:
      return value
  }
}

/**
 * A header record fit for logs: values of secret headers (`isSecretHeader`,
 * plus `extraSecretNames`, lower case) replaced, and the URLs in URL-valued
 * headers redacted (`headerValue`).
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
    out[lower] = isSecretHeader(lower) || extraSecretNames.has(lower)
      ? redacted
      : urlHeaderNames.has(lower)
      ? headerValue(lower, value)
      : value
  }
  return out
}

/** A character of a URL's scheme, and one that ends a URL in free text. */
const schemeCharacter = /[a-z0-9+.-]/i
const letter = /[a-z]/i
const urlEnd = /[\s"'<>`]/

/**
 * The URLs inside free text, as `[start, end)`: a scheme (a letter, then
 * letters, digits, `+`, `.`, `-`), `://`, then everything up to a space or a
 * quote. Found from each `://` outwards, so a long run of letters costs one
 * pass (a regular expression tried at each of its positions took time
 * quadratic in its length: 1.5 s for 50,000 letters).
 */
const urlsInText = function*(input: string): Generator<readonly [number, number]> {
  let from = 0
  for (let separator = input.indexOf("://"); separator !== -1; separator = input.indexOf("://", from)) {
    let start = separator
    while (start > from && schemeCharacter.test(input[start - 1]!)) start--
    while (start < separator && !letter.test(input[start]!)) start++
    let end = separator + 3
    while (end < input.length && !urlEnd.test(input[end]!)) end++
    if (start === separator || end === separator + 3) {
      from = separator + 3
      continue
    }
    yield [start, end]
    from = end
  }
}

/** Punctuation that ends a sentence rather than the URL before it. */
const trailingPunctuation = /[.,;:!?)\]}]+$/

/**
 * A name and its separator in free text: `name=`, `name: ` or, quoted as in
 * JSON, `"name": `. A name starts where a run of name characters starts: a
 * match tried from inside a run could not succeed where the run's start
 * failed, and trying each position of a long run without a separator took
 * time quadratic in its length (9 s for 50,000 letters).
 */
const nameInText = /(["']?)(?<![A-Za-z0-9_.\-[\]%])([A-Za-z0-9_.\-[\]%]+)\1(\s*[=:]\s*)/g

/**
 * The value after a name in free text: quoted, an auth scheme and the word
 * after it (`Bearer x`, `Basic x`...), or up to a space, `&`, `;`, `,`, a
 * quote or `}`.
 */
const valueInText = /(["'])[^"']*\1|(?:bearer|basic|token|digest)\s+[^\s&;,"'}]+|[^\s&;,"'}]+/iy

/**
 * Redacts the values of secret-named `name=value` and `name: value` pairs in
 * text that holds no URL. A pair whose name is not secret is passed by its
 * name only, so its value is read for names too: in `failed: token=x` or
 * `Error: password: x` the second name is found.
 */
const redactPairs = (text: string): string => {
  const names = new RegExp(nameInText)
  let out = ""
  let kept = 0
  for (let match = names.exec(text); match !== null; match = names.exec(text)) {
    const [, quote = "", name = "", separator = ""] = match
    // `name=value` and quoted names (JSON) by their parameter form; `Name: value` in prose by a header's, so
    // `StatusCode: Non 2xx` stays while `Authorization: Bearer x` and `password: x` go.
    if (!(separator.trim() === "=" || quote !== "" ? isSecretParam(name) : isSecretHeader(name))) continue
    valueInText.lastIndex = names.lastIndex
    const value = valueInText.exec(text)
    if (value === null) continue
    const valueQuote = value[1] ?? ""
    out += `${text.slice(kept, names.lastIndex)}${valueQuote}${redacted}${valueQuote}`
    kept = names.lastIndex + value[0].length
    names.lastIndex = kept
  }
  return out + text.slice(kept)
}

/**
 * Free text fit for logs, such as an error message from a hook or a
 * server: every URL in it (`scheme://...`) passed through `url` (user-info,
 * secret query values and fragments gone), and the values of `name=value`
 * or `name: value` pairs (also `"name": "value"`) whose name is a secret
 * one replaced: `isSecretParam` for `name=value` and quoted names
 * (`client_secret=...`, `"access_token": "..."`), `isSecretHeader` for
 * `Name: value` (`Authorization: Bearer ...`, `password: ...`, while
 * `StatusCode: 400` stays). Secrets in any other form (a bare token with no name) cannot be
 * recognised: scrub values you know yourself first.
 *
 * @category utils
 * @since 0.1.0
 */
export const text = (input: string): string => {
  let out = ""
  let last = 0
  for (const [start, end] of urlsInText(input)) {
    const found = input.slice(start, end)
    const tail = trailingPunctuation.exec(found)?.[0] ?? ""
    const inner = found.slice(0, found.length - tail.length)
    out += redactPairs(input.slice(last, start)) + url(inner)
    last = start + inner.length
  }
  return out + redactPairs(input.slice(last))
}

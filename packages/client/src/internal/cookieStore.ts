/**
 * The pure part of `CookieJar`: accepting `Set-Cookie` values into an array of
 * Effect `Cookies.Cookie`s, bounding it, and converting to and from the
 * persisted form.
 *
 * Effect's `Cookies` does the RFC 6265 work (parsing, host-only and `Domain`
 * scoping, default path, replacement, deletion, request matching). What is
 * added here runs before and after it: the public suffix check, size and
 * character limits, the `Secure` and `__Host-`/`__Secure-` rules of RFC 6265bis,
 * the 400-day expiry cap, splitting of folded `Set-Cookie` lines, and eviction.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Cookies from "effect/http/Cookies"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type * as Tldts from "tldts"
import { own, ownData, pinned } from "./own.ts"

/** How many cookies the jar keeps, and how large one may be. */
export interface Limits {
  readonly maxCookies: number
  readonly maxCookiesPerDomain: number
  readonly maxCookieBytes: number
}

/** One cookie as the jar exposes and persists it. */
export interface CookieFields {
  readonly name: string
  readonly value: string
  readonly domain: string
  readonly hostOnly: boolean
  readonly path: string
  readonly secure: boolean
  readonly httpOnly: boolean
  readonly sameSite?: "lax" | "strict" | "none"
  readonly expires?: number
  /** The port of the origin that set it (explicit, or 80/443 by scheme); absent: sent to any port (older files). */
  readonly port?: number
}

/** RFC 6265bis caps every cookie's lifetime at 400 days. */
export const maxLifetimeMillis = 400 * 24 * 60 * 60 * 1000

/** RFC 6265bis limits `Domain` and `Path` attribute values to 1024 bytes. */
export const maxAttributeLength = 1024

/** RFC 6265 cookie-name: an RFC 7230 token. */
export const namePattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** A cookie value as sent: printable, no `;`, no control characters (so no CR, LF or NUL). */
export const valuePattern = /^[\x20-\x3a\x3c-\x7e\x80-\xff]*$/

/** A stored domain: lower-case host name labels or a bracketed IPv6 address; no trailing dot. */
export const domainPattern = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$/

/** A stored path: starts with `/`, printable, no `;`. */
export const pathPattern = /^\/[\x20-\x3a\x3c-\x7e]*$/

const ipv4Pattern = /^\d+\.\d+\.\d+\.\d+$/

const isIpAddress = (host: string): boolean => host.startsWith("[") || ipv4Pattern.test(host)

const suffixOptions = { allowPrivateDomains: true, extractHostname: false } as const

let tldts: typeof Tldts | undefined

/**
 * Loads `tldts`, which holds the Public Suffix List (about 200 KiB of
 * JavaScript), once: when a cookie jar is made (`CookieJar`), so a client
 * that never stores a cookie, and every script's start-up, need not pay for
 * it (`bench/startup.ts`), and so that no cookie waits for a `require` that a
 * polluted `Object.prototype` can break (Node's module loader reads `signal`
 * and `encoding` from an options object of its own for every file it
 * resolves; RELIABILITY 10). A synchronous `require` keeps the jar's functions
 * synchronous; `tldts` ships CommonJS as its main entry, which is what an
 * `import` of it loads too.
 */
export const loadSuffixList = (): typeof Tldts =>
  tldts ??= createRequire(fileURLToPath(import.meta.url))("tldts") as typeof Tldts

/** `tldts`'s `getDomain` (`loadSuffixList` loads it, if no jar did). */
const getDomain = (domain: string): string | null => loadSuffixList().getDomain(domain, suffixOptions)

/**
 * Whether `domain` is a public suffix (ICANN or private section of the Public
 * Suffix List, so `co.uk`, `com` and `github.io` all are). A name under no
 * listed suffix counts as one too (the list's `*` rule), like `localhost`.
 */
export const isPublicSuffix = (domain: string): boolean => !isIpAddress(domain) && getDomain(domain) === null

const groups = new WeakMap<Cookies.Cookie, string>()

/** The registrable domain (eTLD+1) a cookie counts against, or its host when it has none. */
const groupOf = (cookie: Cookies.Cookie): string => {
  const cached = groups.get(cookie)
  if (cached !== undefined) return cached
  const domain = own(cookie.options, "domain") ?? ""
  const group = isIpAddress(domain) ? domain : (getDomain(domain) ?? domain)
  groups.set(cookie, group)
  return group
}

const domainMatches = (host: string, domain: string): boolean =>
  host === domain || (host.endsWith("." + domain) && !isIpAddress(host))

const pathMatches = (requestPath: string, cookiePath: string): boolean =>
  requestPath === cookiePath ||
  (requestPath.startsWith(cookiePath) && (cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/"))

const defaultPath = (pathname: string): string => {
  const index = pathname.lastIndexOf("/")
  return index <= 0 ? "/" : pathname.slice(0, index)
}

const encoder = new TextEncoder()

/** A template whose prototype every rebuilt cookie shares, so they stay `Cookies.isCookie`. */
const cookieProto: object = Object.getPrototypeOf(Cookies.makeCookieUnsafe("a", "b"))

/**
 * Every option Effect's `Cookies` reads. A stored cookie's options hold each
 * as an own key (`undefined` when unset) on a null-prototype object, and
 * Effect's `mergeIntoArray` copies own keys into the options it makes, so no
 * read ever falls through to a polluted `Object.prototype` (RELIABILITY 10).
 */
const optionNames: ReadonlyArray<string> = [
  "domain",
  "path",
  "expires",
  "maxAge",
  "secure",
  "httpOnly",
  "sameSite",
  "partitioned",
  "priority",
  "hostOnly",
  // Ours, not Effect's (its scoping copies it along): the port of the origin that set the cookie.
  "port"
]

const rebuild = (
  fields: { readonly name: string; readonly value: string; readonly valueEncoded: string },
  options: NonNullable<Cookies.Cookie["options"]>
): Cookies.Cookie =>
  Object.assign(Object.create(cookieProto), {
    name: fields.name,
    value: fields.value,
    valueEncoded: fields.valueEncoded,
    options: pinned(optionNames, options)
  })

/**
 * Splits one `Set-Cookie` line that may hold several cookies folded with
 * commas (as `Headers` does with repeated headers). A comma starts a new cookie
 * only when a `name=` follows it, so the comma of an `Expires` date stays put.
 */
export const splitSetCookie = (line: string): Array<string> => {
  const out: Array<string> = []
  let start = 0
  let comma = line.indexOf(",")
  while (comma !== -1) {
    let end = comma + 1
    while (end < line.length && line[end] !== "=" && line[end] !== ";" && line[end] !== ",") end++
    if (line[end] === "=" && namePattern.test(line.slice(comma + 1, end).trim())) {
      out.push(line.slice(start, comma))
      start = comma + 1
    }
    comma = line.indexOf(",", comma + 1)
  }
  out.push(line.slice(start))
  return out.map((part) => part.trim()).filter((part) => part !== "")
}

const isHttp = (url: URL): boolean => url.protocol === "http:" || url.protocol === "https:"

/** The port a request to `url` goes to: the explicit one, or 80 or 443 by scheme. */
export const effectivePort = (url: URL): number =>
  url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80

/**
 * Whether a stored cookie may go to (or be replaced from) `port`: set from
 * that port, or stored without one (a jar file written before ports were
 * recorded). Stricter than RFC 6265 and browsers, which share cookies
 * between the ports of a host: credentials never cross an origin
 * (RELIABILITY 6).
 */
const samePort = (cookie: Cookies.Cookie, port: number): boolean => {
  const stored = (cookie.options as { readonly port?: unknown } | undefined)?.port
  return stored === undefined || stored === port
}

/**
 * Checks one parsed cookie against the rules Effect does not apply and
 * normalises its expiry. Returns `undefined` to refuse it.
 */
const admit = (
  stored: ReadonlyArray<Cookies.Cookie>,
  url: URL,
  cookie: Cookies.Cookie,
  now: number,
  limits: Limits
): Cookies.Cookie | undefined => {
  const host = url.hostname
  const secureOrigin = url.protocol === "https:"
  const options = ownData(cookie.options ?? {})
  if (encoder.encode(cookie.name).length + encoder.encode(cookie.valueEncoded).length > limits.maxCookieBytes) {
    return undefined
  }
  if (!valuePattern.test(cookie.valueEncoded)) return undefined
  if (options.path !== undefined && (options.path.length > maxAttributeLength || !pathPattern.test(options.path))) {
    return undefined
  }

  let domain = options.domain?.toLowerCase()
  if (domain !== undefined) {
    if (domain.length > maxAttributeLength || !domainPattern.test(domain)) return undefined
    if (domain === host && (isIpAddress(host) || isPublicSuffix(domain))) {
      // RFC 6265 5.3 step 5: a public suffix (or an IP) naming the host itself makes a host-only cookie.
      domain = undefined
    } else if (isPublicSuffix(domain)) {
      return undefined
    }
  }

  // RFC 6265bis: only secure origins set Secure cookies, and the cookie name prefixes.
  if (options.secure === true && !secureOrigin) return undefined
  const lowerName = cookie.name.toLowerCase()
  if (lowerName.startsWith("__secure-") && options.secure !== true) return undefined
  if (lowerName.startsWith("__host-") && (options.secure !== true || domain !== undefined || options.path !== "/")) {
    return undefined
  }
  // RFC 6265bis 5.7: an insecure origin may not shadow or overwrite a Secure cookie.
  if (!secureOrigin) {
    const effectiveDomain = domain ?? host
    const effectivePath = options.path ?? defaultPath(url.pathname)
    const shadows = stored.some((existing) => {
      if (existing.name !== cookie.name || own(existing.options, "secure") !== true) return false
      const existingDomain = own(existing.options, "domain") ?? ""
      return (domainMatches(existingDomain, effectiveDomain) || domainMatches(effectiveDomain, existingDomain)) &&
        pathMatches(effectivePath, own(existing.options, "path") ?? "/")
    })
    if (shadows) return undefined
  }

  // Max-Age wins over Expires; both become an absolute time, capped at 400 days.
  let expires: number | undefined = options.maxAge !== undefined
    ? now + Duration.toMillis(Duration.fromInputUnsafe(options.maxAge))
    : options.expires?.getTime()
  if (expires !== undefined) {
    expires = Number.isNaN(expires) ? now : Math.min(expires, now + maxLifetimeMillis)
  }
  const { maxAge: _maxAge, domain: _domain, expires: _expires, ...rest } = options
  return rebuild(cookie, {
    ...rest,
    ...(domain === undefined ? {} : { domain }),
    ...(expires === undefined ? {} : { expires: new Date(expires) }),
    port: effectivePort(url)
  } as NonNullable<Cookies.Cookie["options"]>)
}

const isLive = (cookie: Cookies.Cookie, now: number): boolean => {
  const expires = own(cookie.options, "expires")
  return expires === undefined || expires.getTime() > now
}

/** Drops expired cookies; returns the same array when none expired. */
export const purgeExpired = (stored: ReadonlyArray<Cookies.Cookie>, now: number): ReadonlyArray<Cookies.Cookie> =>
  stored.every((cookie) => isLive(cookie, now)) ? stored : stored.filter((cookie) => isLive(cookie, now))

/**
 * Enforces the per-domain and total bounds, evicting the oldest cookies first
 * (array order is creation order: Effect's merge keeps a replaced cookie in
 * place and appends new ones).
 */
export const enforceLimits = (stored: ReadonlyArray<Cookies.Cookie>, limits: Limits): ReadonlyArray<Cookies.Cookie> => {
  const counts = new Map<string, number>()
  for (const cookie of stored) {
    const group = groupOf(cookie)
    counts.set(group, (counts.get(group) ?? 0) + 1)
  }
  let out = stored
  if ([...counts.values()].some((count) => count > limits.maxCookiesPerDomain)) {
    out = stored.filter((cookie) => {
      const group = groupOf(cookie)
      const count = counts.get(group)!
      if (count <= limits.maxCookiesPerDomain) return true
      counts.set(group, count - 1)
      return false
    })
  }
  return out.length > limits.maxCookies ? out.slice(out.length - limits.maxCookies) : out
}

/**
 * Stores the `Set-Cookie` values of a response from `url`. Returns the new
 * array and whether any cookie was admitted (set, replaced or deleted).
 */
export const merge = (
  stored: ReadonlyArray<Cookies.Cookie>,
  url: URL,
  setCookie: ReadonlyArray<string>,
  now: number,
  limits: Limits
): { readonly cookies: ReadonlyArray<Cookies.Cookie>; readonly changed: boolean } => {
  let cookies = purgeExpired(stored, now)
  if (!isHttp(url) || !domainPattern.test(url.hostname)) return { cookies, changed: false }
  let changed = false
  for (const line of setCookie) {
    for (const header of splitSetCookie(line)) {
      // One header at a time: `fromSetCookie` keys by name, so a batch would keep only the last of a name.
      for (const parsed of Object.values(Cookies.fromSetCookie(header).cookies)) {
        const cookie = admit(cookies, url, parsed, now, limits)
        if (cookie === undefined) continue
        // A cookie replaces (or deletes) only its own port's of the same name, domain and path.
        const port = effectivePort(url)
        const others = cookies.filter((existing) => !samePort(existing, port))
        const mine = others.length === 0 ? cookies : cookies.filter((existing) => samePort(existing, port))
        const merged = Cookies.mergeIntoArray(mine, url.href, Cookies.fromIterable([cookie]), now)
        cookies = others.length === 0 ? merged : [...others, ...merged]
        changed = true
      }
    }
  }
  return { cookies: changed ? enforceLimits(cookies, limits) : cookies, changed }
}

/** The `Cookie` header for a request to `url`, or `undefined`. */
export const header = (stored: ReadonlyArray<Cookies.Cookie>, url: URL, now: number): string | undefined => {
  if (!isHttp(url)) return undefined
  const port = effectivePort(url)
  const sendable = stored.every((cookie) => samePort(cookie, port))
    ? stored
    : stored.filter((cookie) => samePort(cookie, port))
  return Cookies.toRequestCookieHeader(sendable, url.href, now)
}

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** The exposed and persisted form of a stored cookie. */
export const toFields = (cookie: Cookies.Cookie): CookieFields => {
  const options = ownData(cookie.options ?? {})
  return {
    name: cookie.name,
    value: cookie.valueEncoded,
    domain: options.domain ?? "",
    hostOnly: options.hostOnly === true,
    path: options.path ?? "/",
    secure: options.secure === true,
    httpOnly: options.httpOnly === true,
    ...(options.sameSite === undefined ? {} : { sameSite: options.sameSite }),
    ...(options.expires === undefined ? {} : { expires: options.expires.getTime() }),
    ...(typeof (options as { readonly port?: unknown }).port === "number"
      ? { port: (options as { readonly port: number }).port }
      : {})
  }
}

/** Rebuilds a stored cookie from its persisted form. */
export const fromFields = (fields: CookieFields): Cookies.Cookie =>
  rebuild({ name: fields.name, value: decode(fields.value), valueEncoded: fields.value }, {
    domain: fields.domain,
    path: fields.path,
    ...(fields.hostOnly ? { hostOnly: true } : {}),
    ...(fields.secure ? { secure: true } : {}),
    ...(fields.httpOnly ? { httpOnly: true } : {}),
    ...(fields.sameSite === undefined ? {} : { sameSite: fields.sameSite }),
    ...(fields.expires === undefined ? {} : { expires: new Date(fields.expires) }),
    ...(fields.port === undefined ? {} : { port: fields.port })
  } as NonNullable<Cookies.Cookie["options"]>)

/**
 * Cookies read back from a file: expired ones and domain cookies on a public
 * suffix are dropped, a later duplicate (name, domain, path) replaces an
 * earlier one, and the bounds apply.
 */
export const fromPersisted = (
  fields: ReadonlyArray<CookieFields>,
  now: number,
  limits: Limits
): ReadonlyArray<Cookies.Cookie> => {
  const byKey = new Map<string, Cookies.Cookie>()
  for (const entry of fields) {
    if (entry.expires !== undefined && entry.expires <= now) continue
    if (!entry.hostOnly && isPublicSuffix(entry.domain)) continue
    byKey.set(JSON.stringify([entry.name, entry.domain, entry.path, entry.port]), fromFields(entry))
  }
  return enforceLimits([...byKey.values()], limits)
}

/**
 * Bearer auth with token rotation, and cookie setting and echo.
 *
 * Bearer: `/auth/bearer` accepts only `Authorization: Bearer <current token>`;
 * `POST /auth/rotate` replaces the token (the old one is refused from then
 * on, as an expired token would be) and `GET /auth/token` tells a test's
 * refresh hook the current one. `reset` restores `token-1`, generation 1.
 *
 * Cookies: `Set-Cookie` values are sent verbatim (no percent-encoding), so
 * names must be RFC 6265 tokens and values cookie-octets; `/cookies` echoes
 * the `Cookie` header verbatim too (no decoding, no quote stripping), into a
 * null-prototype object so that a `__proto__` cookie pollutes nothing.
 */
import * as Effect from "effect/Effect"
import * as Cookies from "effect/http/Cookies"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { badRequest, intParam, query } from "../http.ts"
import * as Respond from "../respond.ts"
import type { RouteEntry } from "../routeTable.ts"
import type { ServerState } from "../state.ts"

/** The realm every bearer challenge names. */
export const bearerRealm = "httpkit-test"

/** Longest token `/auth/rotate` accepts. */
export const maxTokenLength = 512

/** Longest cookie value, domain, path or expiry the cookie routes accept. */
export const maxCookieField = 4096

/** Most cookies one `/cookies/set` or `/cookies/delete` handles. */
export const maxCookiesPerRequest = 50

/** A token `/auth/rotate` accepts: visible ASCII, no spaces. */
const tokenPattern = new RegExp(`^[\\x21-\\x7e]{1,${maxTokenLength}}$`)

/** RFC 6265 cookie-name: an RFC 7230 token. */
const cookieNamePattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** RFC 6265 cookie-value without quotes: cookie-octets (no space, DQUOTE, comma, semicolon or backslash). */
const cookieValuePattern = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/

/** An attribute value (RFC 6265 av-octet): printable ASCII without semicolon. */
const attributePattern = /^[\x20-\x3a\x3c-\x7e]*$/

/** What `Expires` is set to when a cookie is deleted. */
const epoch = "Thu, 01 Jan 1970 00:00:00 GMT"

/** Query parameters of `/cookies/set` and `/cookies/delete` that are switches, not cookie names. */
const reservedCookieParams: ReadonlySet<string> = new Set(["redirect"])

const sameSiteValues: ReadonlyMap<string, string> = new Map([["lax", "Lax"], ["strict", "Strict"], ["none", "None"]])

const unauthorized = (message: string): HttpServerResponse.HttpServerResponse =>
  Respond.jsonUnsafe({ error: "invalid_token", message }, {
    status: 401,
    headers: { "www-authenticate": `Bearer realm="${bearerRealm}", error="invalid_token"` }
  })

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any. */
const bearerOf = (header: string | undefined): string | undefined => {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header)
  return match === null ? undefined : match[1]
}

const isCookieName = (name: string): boolean => name.length <= 256 && cookieNamePattern.test(name)
const isCookieValue = (value: string): boolean => value.length <= maxCookieField && cookieValuePattern.test(value)
const isAttribute = (value: string): boolean =>
  value.length > 0 && value.length <= maxCookieField && attributePattern.test(value)

/** Parses a `Cookie` header verbatim into a null-prototype record; the first cookie of a name wins. */
export const parseCookieHeader = (header: string | undefined): Record<string, string> => {
  const out: Record<string, string> = Object.create(null)
  if (header === undefined) return out
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=")
    if (equals === -1) continue
    const name = pair.slice(0, equals).trim()
    if (name === "" || Object.hasOwn(out, name)) continue
    out[name] = pair.slice(equals + 1).trim()
  }
  return out
}

/** The cookie parameters of a query (every distinct name but the reserved switches, last value wins). */
const cookieParams = (params: URLSearchParams): Map<string, string> => {
  const out = new Map<string, string>()
  for (const [name, value] of params) {
    if (!reservedCookieParams.has(name)) out.set(name, value)
  }
  return out
}

/** Reads the `redirect` switch: absent, `0` or `1`. */
const redirectFlag = (params: URLSearchParams): boolean | undefined => {
  const raw = params.get("redirect")
  if (raw === null || raw === "" || raw === "0") return false
  return raw === "1" ? true : undefined
}

/** Reads a boolean attribute switch: absent, `0` or `1`. */
const flag = (params: URLSearchParams, name: string): boolean | undefined => {
  const raw = params.get(name)
  if (raw === null || raw === "" || raw === "0") return false
  return raw === "1" ? true : undefined
}

/** Answers JSON `body`, or 302 to `/cookies` when asked, carrying `cookies` either way. */
const cookieAnswer = (
  body: unknown,
  redirect: boolean,
  cookies: Cookies.Cookies
): HttpServerResponse.HttpServerResponse =>
  redirect
    ? Respond.redirect("/cookies", { status: 302, cookies })
    : Respond.jsonUnsafe(body, { cookies })

export const routes = (state: ServerState): ReadonlyArray<RouteEntry> => [
  {
    methods: "*",
    path: "/auth/bearer",
    summary: "200 with Authorization: Bearer <current token>, else 401 with WWW-Authenticate",
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const header = request.headers["authorization"]
      if (header === undefined) return unauthorized("an Authorization: Bearer header is required")
      const token = bearerOf(header)
      if (token === undefined) return unauthorized("the Authorization header is not a Bearer credential")
      if (token !== state.bearerToken) return unauthorized("the bearer token is wrong or expired")
      return Respond.jsonUnsafe({ authenticated: true, token_generation: state.tokenGeneration })
    })
  },

  {
    methods: ["POST"],
    path: "/auth/rotate",
    summary: "replaces the bearer token; the old one is refused from then on",
    switches: { token: `the new token, 1-${maxTokenLength} visible ASCII characters; default token-<generation>` },
    handler: Effect.gen(function*() {
      const params = yield* query
      const requested = params.get("token")
      if (requested !== null && !tokenPattern.test(requested)) {
        return badRequest(`token must be 1 to ${maxTokenLength} visible ASCII characters without spaces`)
      }
      state.tokenGeneration += 1
      state.bearerToken = requested ?? `token-${state.tokenGeneration}`
      return Respond.jsonUnsafe({ token: state.bearerToken, token_generation: state.tokenGeneration })
    })
  },

  {
    methods: ["GET"],
    path: "/auth/token",
    summary: "the current { token, token_generation }",
    handler: Effect.sync(() =>
      Respond.jsonUnsafe({ token: state.bearerToken, token_generation: state.tokenGeneration })
    )
  },

  {
    methods: "*",
    path: "/cookies",
    summary: "{ cookies } as the Cookie header sent them",
    handler: Effect.map(
      HttpServerRequest.HttpServerRequest,
      (request) => Respond.jsonUnsafe({ cookies: parseCookieHeader(request.headers["cookie"]) })
    )
  },

  {
    methods: "*",
    path: "/cookies/set",
    summary: "one Set-Cookie: name=value; Path=/ per other parameter, verbatim",
    switches: {
      redirect: "0 or 1: 302 to /cookies",
      "name=value": `the cookies to set, at most ${maxCookiesPerRequest}`
    },
    handler: Effect.gen(function*() {
      const params = yield* query
      const redirect = redirectFlag(params)
      if (redirect === undefined) return badRequest("redirect must be 0 or 1")
      const wanted = cookieParams(params)
      if (wanted.size > maxCookiesPerRequest) return badRequest(`at most ${maxCookiesPerRequest} cookies at once`)
      const headers: Array<string> = []
      const set: Record<string, string> = Object.create(null)
      for (const [name, value] of wanted) {
        if (!isCookieName(name)) return badRequest(`cookie name ${JSON.stringify(name)} is not an RFC 6265 token`)
        if (!isCookieValue(value)) {
          return badRequest(`cookie value of ${name} is not RFC 6265 cookie-octets (no space, '"', ',', ';' or '\\')`)
        }
        headers.push(`${name}=${value}; Path=/`)
        set[name] = value
      }
      // Parsing our own header keeps the value verbatim, where `setCookie` would percent-encode it.
      return cookieAnswer({ cookies: set }, redirect, Cookies.fromSetCookie(headers))
    })
  },

  {
    methods: "*",
    path: "/cookies/delete",
    summary: "expires the cookies named by the other parameters",
    switches: { redirect: "0 or 1: 302 to /cookies", name: `the cookies to expire, at most ${maxCookiesPerRequest}` },
    handler: Effect.gen(function*() {
      const params = yield* query
      const redirect = redirectFlag(params)
      if (redirect === undefined) return badRequest("redirect must be 0 or 1")
      const names = [...cookieParams(params).keys()]
      if (names.length > maxCookiesPerRequest) return badRequest(`at most ${maxCookiesPerRequest} cookies at once`)
      const bad = names.find((name) => !isCookieName(name))
      if (bad !== undefined) return badRequest(`cookie name ${JSON.stringify(bad)} is not an RFC 6265 token`)
      const cookies = Cookies.fromSetCookie(names.map((name) => `${name}=; Path=/; Max-Age=0; Expires=${epoch}`))
      return cookieAnswer({ deleted: names }, redirect, cookies)
    })
  },

  {
    methods: "*",
    path: "/cookies/set-with",
    summary: "one Set-Cookie with exactly the attributes asked",
    switches: {
      name: "required, an RFC 6265 token",
      value: "cookie-octets",
      domain: "any, co.uk included",
      path: "default /; empty sends none",
      max_age: "seconds",
      expires: "verbatim",
      secure: "0 or 1",
      httponly: "0 or 1",
      partitioned: "0 or 1",
      samesite: "Lax, Strict or None"
    },
    handler: Effect.gen(function*() {
      const params = yield* query
      const name = params.get("name")
      const value = params.get("value") ?? ""
      if (name === null || !isCookieName(name)) return badRequest("name is required and must be an RFC 6265 token")
      if (!isCookieValue(value)) {
        return badRequest("value must be RFC 6265 cookie-octets (no space, '\"', ',', ';' or '\\')")
      }
      const parts = [`${name}=${value}`]
      const domain = params.get("domain")
      if (domain !== null && domain !== "") {
        if (!isAttribute(domain)) return badRequest("domain must be printable ASCII without ';'")
        parts.push(`Domain=${domain}`)
      }
      // Absent means `Path=/`; `path=` (empty) sends no Path at all, to test the client's default path.
      const path = params.get("path") ?? "/"
      if (path !== "") {
        if (!isAttribute(path)) return badRequest("path must be printable ASCII without ';'")
        parts.push(`Path=${path}`)
      }
      const maxAge = intParam(params, "max_age", undefined, -1_000_000_000_000, 1_000_000_000_000)
      if (maxAge === undefined && (params.get("max_age") ?? "") !== "") {
        return badRequest("max_age must be an integer (seconds; 0 or negative expires the cookie)")
      }
      if (maxAge !== undefined) parts.push(`Max-Age=${maxAge}`)
      const expires = params.get("expires")
      if (expires !== null && expires !== "") {
        if (!isAttribute(expires)) return badRequest("expires must be printable ASCII without ';'")
        parts.push(`Expires=${expires}`)
      }
      const secure = flag(params, "secure")
      const httpOnly = flag(params, "httponly")
      const partitioned = flag(params, "partitioned")
      if (secure === undefined || httpOnly === undefined || partitioned === undefined) {
        return badRequest("secure, httponly and partitioned must be 0 or 1")
      }
      if (secure) parts.push("Secure")
      if (httpOnly) parts.push("HttpOnly")
      const sameSite = params.get("samesite")
      if (sameSite !== null && sameSite !== "") {
        const canonical = sameSiteValues.get(sameSite.toLowerCase())
        if (canonical === undefined) return badRequest("samesite must be Lax, Strict or None")
        parts.push(`SameSite=${canonical}`)
      }
      if (partitioned) parts.push("Partitioned")
      const header = parts.join("; ")
      // One cookie, so a raw header: every attribute is sent exactly as asked (Effect's cookie model would normalize them).
      return Respond.jsonUnsafe({ set_cookie: header }, { headers: { "set-cookie": header } })
    })
  }
]

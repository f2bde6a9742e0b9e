/**
 * Redirect chains and cross-origin redirects.
 *
 * - `/redirect/:n` answers exactly `n` redirects (1 to {@link maxRedirectHops})
 *   before the client reaches `to` (default `/echo`): `/redirect/n` points at
 *   `/redirect/(n-1)` with the same query, and `/redirect/1` points at `to`.
 *   `/redirect/0` is refused (400): it would have to be zero redirects, and
 *   this route cannot serve `to` itself.
 * - `/redirect/loop` always points at itself, to test redirect limits.
 * - `/redirect-to?url=U` points at `U` verbatim, whatever its scheme or
 *   origin, so clients can be tested following other origins and refusing
 *   `file:`, `data:`, `javascript:` and friends.
 *
 * Every route answers any method, so 307 and 308 can be tested with bodies.
 * A `Location` must be printable ASCII: control characters (CR, LF and NUL
 * included) and anything non-ASCII answer 400, as Node could not send them and
 * header injection belongs to the raw-socket listener.
 */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { badRequest, intParam, requestTarget } from "../http.ts"
import * as Respond from "../respond.ts"
import type { RouteEntry } from "../routeTable.ts"
import type { ServerState } from "../state.ts"

/** The longest chain `/redirect/:n` builds. */
export const maxRedirectHops = 100

/** The longest `Location` the redirect routes send, in characters. */
export const maxLocationLength = 8 * 1024

/** Statuses `/redirect/:n` and `/redirect/loop` accept: the ones clients follow. */
const chainStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** A `Location` Node can send as is: printable ASCII, no control characters. */
const isSendableLocation = (value: string): boolean =>
  value.length > 0 && value.length <= maxLocationLength && /^[\x20-\x7e]*$/.test(value)

const locationError =
  `must be 1 to ${maxLocationLength} printable ASCII characters (no CR, LF, NUL or other control characters, no non-ASCII: percent-encode them)`

/** Reads the redirect status of a chain, or a message for the 400. */
const chainStatus = (params: URLSearchParams): number | string => {
  const status = intParam(params, "status", 302, 300, 399)
  return status !== undefined && chainStatuses.has(status) ? status : "status must be one of 301, 302, 303, 307, 308"
}

/** Reads the `absolute` switch: absent, `0` or `1`. */
const absoluteFlag = (params: URLSearchParams): boolean | undefined => {
  const raw = params.get("absolute")
  if (raw === null || raw === "" || raw === "0") return false
  return raw === "1" ? true : undefined
}

/** The request's query, parsed and as a `?...` suffix (percent-encoded as a URL would have it; empty without one). */
const requestQuery = (request: HttpServerRequest.HttpServerRequest): URL =>
  new URL(`http://test.invalid/?${requestTarget(request).query}`)

/** A redirect with a tiny JSON body naming where it points (empty for 304, as HTTP requires). */
const redirectTo = (location: string, status: number): HttpServerResponse.HttpServerResponse =>
  status === 304
    ? Respond.empty({ status, headers: { location } })
    : Respond.jsonUnsafe({ redirect: location, status }, { status, headers: { location } })

export const routes = (state: ServerState): ReadonlyArray<RouteEntry> => [
  {
    methods: "*",
    path: "/redirect/loop",
    summary: "always redirects to itself, to test hop limits",
    switches: { status: "301, 302, 303, 307 or 308, default 302", absolute: "0 or 1: an absolute Location" },
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = requestQuery(request)
      const status = chainStatus(url.searchParams)
      if (typeof status === "string") return badRequest(status)
      const absolute = absoluteFlag(url.searchParams)
      if (absolute === undefined) return badRequest("absolute must be 0 or 1")
      const path = `/redirect/loop${url.search}`
      return redirectTo(absolute ? state.baseUrl + path : path, status)
    })
  },

  {
    methods: "*",
    path: "/redirect/:n",
    summary: `exactly n redirects (1-${maxRedirectHops}) ending at to`,
    switches: {
      status: "301, 302, 303, 307 or 308, default 302",
      to: "where the last hop points, default /echo",
      absolute: "0 or 1: absolute Locations on this server"
    },
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { n } = yield* HttpRouter.params
      const url = requestQuery(request)
      const hops = n !== undefined && /^\d{1,4}$/.test(n) ? Number(n) : undefined
      if (hops === undefined || hops < 1 || hops > maxRedirectHops) {
        return badRequest(`n must be an integer from 1 to ${maxRedirectHops}`)
      }
      const status = chainStatus(url.searchParams)
      if (typeof status === "string") return badRequest(status)
      const absolute = absoluteFlag(url.searchParams)
      if (absolute === undefined) return badRequest("absolute must be 0 or 1")
      const to = url.searchParams.get("to") ?? "/echo"
      if (!isSendableLocation(to)) return badRequest(`to ${locationError}`)
      if (hops > 1) {
        const path = `/redirect/${hops - 1}${url.search}`
        return redirectTo(absolute ? state.baseUrl + path : path, status)
      }
      if (!absolute) return redirectTo(to, status)
      let target: string
      try {
        target = new URL(to, state.baseUrl + "/").href
      } catch {
        return badRequest("to is not a URL, even relative to this server")
      }
      return isSendableLocation(target) ? redirectTo(target, status) : badRequest(`to ${locationError}`)
    })
  },

  {
    methods: "*",
    path: "/redirect-to",
    summary: "a redirect to url verbatim, whatever its origin or scheme",
    switches: { url: "the Location, required", status: "300-399, default 302" },
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const params = requestQuery(request).searchParams
      const status = intParam(params, "status", 302, 300, 399)
      if (status === undefined) return badRequest("status must be an integer from 300 to 399")
      const target = params.get("url")
      if (target === null) return badRequest("url is required")
      if (!isSendableLocation(target)) return badRequest(`url ${locationError}`)
      return redirectTo(target, status)
    })
  }
]

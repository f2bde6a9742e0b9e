/**
 * The server explains itself: `GET /` lists the route table (text, or JSON
 * when `Accept` asks for it) and a path no route matches answers 404 naming
 * the path, the closest route and `GET /`. Both are written from the route
 * table the router is built from, so they list exactly what is served.
 */
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import { requestTarget } from "./http.ts"
import * as Respond from "./respond.ts"
import { answers, methodsLabel, type RouteEntry } from "./routeTable.ts"

/** Where the index is served. */
export const indexPath = "/"

/** The listeners the index names besides the routes. */
export interface Listeners {
  readonly url: string
  readonly rawUrl: string
  /** The raw-socket scenarios, each with its parameters and defaults. */
  readonly rawUsages: ReadonlyArray<string>
}

/**
 * Whether the `Accept` header asks for JSON (`application/json` or any `+json`
 * type) with a weight above 0 and at least that of text (`text/plain`,
 * `text/*`, or any type): `application/json;q=0, text/plain` is text.
 */
export const wantsJson = (accept: string | undefined): boolean => {
  if (accept === undefined) return false
  let json = 0
  let text = 0
  for (const range of accept.split(",")) {
    const [type = "", ...params] = range.split(";").map((part) => part.trim().toLowerCase())
    const q = params.find((param) => /^q\s*=/.test(param))
    const weight = q === undefined ? 1 : Number(q.slice(q.indexOf("=") + 1).trim())
    if (!Number.isFinite(weight)) continue
    if (/^application\/(?:[\w.-]+\+)?json$/.test(type)) json = Math.max(json, weight)
    else if (type === "text/plain" || type === "text/*" || type === "*/*") text = Math.max(text, weight)
  }
  return json > 0 && json >= text
}

const text = (body: string, status = 200): HttpServerResponse.HttpServerResponse =>
  Respond.text(body, { status, contentType: "text/plain; charset=utf-8" })

/** One route as the JSON index and 404 carry it. */
const describe = (entry: RouteEntry) => ({
  methods: entry.methods === "*" ? entry.serves ?? ["*"] : entry.methods,
  path: entry.path,
  summary: entry.summary,
  switches: entry.switches ?? {}
})

/** The index as text: every route, its summary and its switches, then the raw-socket scenarios. */
export const indexText = (entries: ReadonlyArray<RouteEntry>, listeners: Listeners): string => {
  const lines = [
    `httpkit fault-injection server at ${listeners.url}`,
    "Every route, with its switches (query parameters). The reference is the README of @httpkit/testing;",
    "this list as JSON: the same request with Accept: application/json.",
    ""
  ]
  for (const entry of entries) {
    lines.push(`${methodsLabel(entry)} ${entry.path}`, `    ${entry.summary}`)
    for (const [name, hint] of Object.entries(entry.switches ?? {})) lines.push(`    ?${name}  ${hint}`)
  }
  lines.push("", `Raw-socket listener at ${listeners.rawUrl} (any method; every answer closes the connection):`)
  for (const usage of listeners.rawUsages) lines.push(`    ${usage}`)
  return `${lines.join("\n")}\n`
}

/** The `GET /` route: the index, text or JSON by `Accept`. */
export const indexRoute = (entries: () => ReadonlyArray<RouteEntry>, listeners: () => Listeners): RouteEntry => ({
  methods: ["GET"],
  path: indexPath,
  summary: "this list: every route and its switches, as text or, with Accept: application/json, as JSON",
  handler: Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
    wantsJson(request.headers["accept"])
      ? Respond.jsonUnsafe({
        url: listeners().url,
        routes: entries().map(describe),
        raw: { url: listeners().rawUrl, scenarios: listeners().rawUsages }
      })
      : text(indexText(entries(), listeners())))
})

/** Edit distance between two strings (insertions, deletions and substitutions cost 1). */
export const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

const segmentsOf = (path: string): ReadonlyArray<string> => path.split("/").filter((segment) => segment !== "")

/**
 * How far `path` is from a route's pattern, segment by segment: a `:param`
 * segment matches any segment, a literal one costs its edit distance
 * (case-insensitive), a missing or extra segment its length plus one (a
 * missing parameter 1). A method the route does not answer adds one half.
 */
const distance = (entry: RouteEntry, method: string, path: string): number => {
  const pattern = segmentsOf(entry.path)
  const asked = segmentsOf(path.toLowerCase())
  let cost = answers(entry, method) ? 0 : 0.5
  for (let i = 0; i < Math.max(pattern.length, asked.length); i++) {
    const want = pattern[i]
    const got = asked[i]
    if (want === undefined) cost += got!.length + 1
    else if (got === undefined) cost += want.startsWith(":") ? 1 : want.length + 1
    else if (!want.startsWith(":")) cost += editDistance(want.toLowerCase(), got)
  }
  return cost
}

/**
 * The route closest to `method path`, if one is close enough to be a likely
 * typo: within a third of the path's length, and at least 2.
 */
export const closest = (
  entries: ReadonlyArray<RouteEntry>,
  method: string,
  path: string
): RouteEntry | undefined => {
  let best: RouteEntry | undefined
  let bestCost = Number.POSITIVE_INFINITY
  for (const entry of entries) {
    // The index is no likely typo of another path, but it is the route of `POST /`.
    if (entry.path === indexPath && path !== indexPath) continue
    const cost = distance(entry, method, path)
    if (cost < bestCost) {
      best = entry
      bestCost = cost
    }
  }
  return bestCost <= Math.max(2, Math.floor(path.length / 3)) ? best : undefined
}

/** What the 404 says, for the text and JSON forms alike. */
export interface NotFound {
  readonly method: string
  readonly path: string
  readonly closest: RouteEntry | undefined
  /** Set when the path is a scenario of the raw-socket listener. */
  readonly rawUrl: string | undefined
  /** Why the router refused beyond "no such path", when it says (a path parameter too long). */
  readonly detail: string | undefined
}

/** The 404 as lines of text. */
export const notFoundText = (answer: NotFound): string => {
  const lines = [
    `404: no route for ${answer.method} ${answer.path}${answer.detail === undefined ? "" : ` (${answer.detail})`}`
  ]
  if (answer.rawUrl !== undefined) {
    lines.push(`${answer.path} is a scenario of the raw-socket listener: ${answer.rawUrl}${answer.path}`)
  }
  if (answer.closest !== undefined) {
    lines.push(`closest route: ${methodsLabel(answer.closest)} ${answer.closest.path} (${answer.closest.summary})`)
  }
  lines.push(`GET ${indexPath} lists every route and its switches.`)
  return `${lines.join("\n")}\n`
}

/** The 404 for the current request: text, or JSON when `Accept` asks for it. */
export const notFound = (
  entries: ReadonlyArray<RouteEntry>,
  rawUrl: string,
  rawPaths: ReadonlyArray<string>,
  detail: string | undefined
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const path = requestTarget(request).path
    const answer: NotFound = {
      method: request.method,
      path,
      closest: closest(entries, request.method, path),
      rawUrl: rawPaths.includes(path) ? rawUrl : undefined,
      detail
    }
    if (!wantsJson(request.headers["accept"])) return text(notFoundText(answer), 404)
    return Respond.jsonUnsafe({
      error: "not_found",
      message: `no route for ${answer.method} ${answer.path}`,
      ...(detail === undefined ? {} : { detail }),
      ...(answer.rawUrl === undefined ? {} : { raw: `${answer.rawUrl}${path}` }),
      closest: answer.closest === undefined ? null : describe(answer.closest),
      index: `GET ${indexPath}`
    }, { status: 404 })
  })

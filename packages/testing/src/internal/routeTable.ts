/**
 * The route table of the fault-injection server: every route with the methods
 * it is dispatched on, a one-line summary and the switches (query parameters)
 * it reads. The server registers its router from this table, and the same
 * table writes `GET /`, the 404 hint and is checked against the package README
 * (`test/guide.test.ts`), so the three cannot drift apart.
 */
import type * as Effect from "effect/Effect"
import type * as HttpMethod from "effect/http/HttpMethod"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"

/** One route of the table. */
export interface RouteEntry {
  /**
   * The methods the router dispatches here; `"*"` for every method, in which
   * case {@link serves} names the ones the handler does not refuse with 405.
   */
  readonly methods: "*" | ReadonlyArray<HttpMethod.HttpMethod>
  /** With `methods: "*"`: the methods answered; the others get 405 with `Allow`. */
  readonly serves?: ReadonlyArray<HttpMethod.HttpMethod>
  /** The router's path pattern (`:name` segments are path parameters). */
  readonly path: `/${string}`
  /** One line: what the route answers. */
  readonly summary: string
  /** Query parameters the route reads, each with a short hint (range, default). */
  readonly switches?: Readonly<Record<string, string>>
  readonly handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpRouter.Provided>
}

/** The methods as the docs name them: `any`, or a comma-separated list. */
export const methodsLabel = (entry: RouteEntry): string => {
  const methods = entry.methods === "*" ? entry.serves : entry.methods
  return methods === undefined ? "any" : methods.join(", ")
}

/** Whether `method` is answered by the route (HEAD by a GET route, as the router does). */
export const answers = (entry: RouteEntry, method: string): boolean => {
  const methods = entry.methods === "*" ? entry.serves : entry.methods
  if (methods === undefined) return true
  return methods.some((candidate) => candidate === method || (candidate === "GET" && method === "HEAD"))
}

/** The switch names of a route, in table order. */
export const switchNames = (entry: RouteEntry): ReadonlyArray<string> =>
  entry.switches === undefined ? [] : Object.keys(entry.switches)

/** The router's routes for a table: one per dispatched method, or one for every method. */
export const toRouterRoutes = (entries: ReadonlyArray<RouteEntry>): ReadonlyArray<HttpRouter.Route> =>
  entries.flatMap((entry) =>
    entry.methods === "*"
      ? [HttpRouter.route("*", entry.path, entry.handler)]
      : entry.methods.map((method) => HttpRouter.route(method, entry.path, entry.handler))
  )

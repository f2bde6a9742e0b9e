/**
 * A rate-limited endpoint answering 429 with `Retry-After` and rate-limit headers.
 */
import type * as HttpRouter from "effect/http/HttpRouter"
import type { ServerState } from "../state.ts"

export const routes = (_state: ServerState): ReadonlyArray<HttpRouter.Route> => []

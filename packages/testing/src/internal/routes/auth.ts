/**
 * Bearer auth with token rotation, and cookie setting and echo.
 */
import type * as HttpRouter from "effect/http/HttpRouter"
import type { ServerState } from "../state.ts"

export const routes = (_state: ServerState): ReadonlyArray<HttpRouter.Route> => []

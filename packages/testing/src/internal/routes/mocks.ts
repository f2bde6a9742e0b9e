/**
 * OpenAI-compatible and Anthropic-style API mocks.
 */
import type * as HttpRouter from "effect/http/HttpRouter"
import type { ServerState } from "../state.ts"

export const routes = (_state: ServerState): ReadonlyArray<HttpRouter.Route> => []
